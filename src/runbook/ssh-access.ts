/**
 * How mamori gets onto a customer server over SSH, in one place for the executor, the
 * readiness check and the CLI: the server's secrets resolved once, where and as whom it logs
 * in (spec.access: address, port, user, pinned host key), the login itself, how a command
 * becomes root, and a failed login as data (a kind and a message) that each caller turns into
 * its own verdict or condition. A login never throws for what the server does.
 */
import { isMamoriError } from '../errors.ts';
import type { TargetCheck } from '../manifest/target-networks.ts';
import type { ServerDocument } from '../manifest/types.ts';
import type { Verdict } from './execution.ts';
import { SUDO_PROMPT, type SudoMode } from './remote-command.ts';
import { SshSession, sshFailureOf, type PromptAnswer, type SshTarget } from './ssh-session.ts';

/** Resolves a secretRef to its value; throws (MAMORI_SECRET_MISSING) when it does not resolve. */
export type SecretResolver = (ref: string) => Promise<string>;

/** The secrets of one server, resolved once per execution; `missing` names refs that did not resolve. */
export interface ServerSecrets {
  login?: string;
  sudoPassword?: string;
  console?: string;
  named: Map<string, string>;
  missing: Map<string, string>;
  /** Every value, for scrubbing. */
  all: string[];
}

export function noSecrets(): ServerSecrets {
  return { named: new Map(), missing: new Map(), all: [] };
}

export async function resolveServerSecrets(server: ServerDocument, resolve: SecretResolver): Promise<ServerSecrets> {
  const out = noSecrets();
  const take = async (label: string, ref: string | undefined): Promise<string | undefined> => {
    if (ref === undefined) return undefined;
    try {
      const value = await resolve(ref);
      out.all.push(value);
      // A key's lines each count: a line of a key must not leak either.
      if (value.startsWith('-----BEGIN')) for (const line of value.split(/\r?\n/)) if (line.length >= 16) out.all.push(line);
      return value;
    } catch (err) {
      out.missing.set(label, isMamoriError(err) ? err.message : `secret ${ref} does not resolve`);
      return undefined;
    }
  };
  const spec = server.spec;
  const login = await take('spec.access.credentials', spec.access.credentials.secretRef);
  if (login !== undefined) out.login = login;
  const sudo = await take('spec.access.sudo.password', spec.access.sudo?.password?.secretRef);
  if (sudo !== undefined) out.sudoPassword = sudo;
  const consoleRef = spec.console?.credentials?.secretRef;
  const consoleSecret = await take('spec.console.credentials', consoleRef);
  if (consoleSecret !== undefined) {
    out.console = consoleSecret;
    const colon = consoleSecret.indexOf(':');
    if (colon > 0) out.all.push(consoleSecret.slice(colon + 1).replace(/\r?\n$/, ''));
  }
  for (const [key, ref] of Object.entries(spec.secrets ?? {})) {
    const value = await take(`spec.secrets.${key}`, ref?.secretRef);
    if (value !== undefined) out.named.set(key, value.replace(/\r?\n$/, ''));
    if (value !== undefined && value.endsWith('\n')) out.all.push(value.replace(/\r?\n$/, ''));
  }
  return out;
}

/** A secret beginning like a PEM/OpenSSH key is a key; anything else is a password. */
export function loginAuth(secret: string): { privateKey: string } | { password: string } {
  return secret.trimStart().startsWith('-----BEGIN') ? { privateKey: secret } : { password: secret.replace(/\r?\n$/, '') };
}

/** Where and as whom mamori logs in: spec.access (port 22 unless it says otherwise). */
export function sshEndpointOf(server: ServerDocument): { host: string; port: number; user: string } {
  return { host: server.spec.address, port: server.spec.access.port ?? 22, user: server.spec.access.user };
}

/** `user@address:port`, as transcripts and the dry run say it. */
export function sshEndpointText(server: ServerDocument): string {
  const e = sshEndpointOf(server);
  return `${e.user}@${e.host}:${e.port}`;
}

export interface SshAccessOptions {
  /** SSH handshake bound (15 s). */
  connectTimeoutMs?: number;
  /** Local address SSH connects from. */
  sourceAddress?: string;
  /** The operator's target networks: the address is checked before any socket opens. */
  targets: TargetCheck;
}

export function sshTargetOf(server: ServerDocument, login: string, options: SshAccessOptions): SshTarget {
  const access = server.spec.access;
  const e = sshEndpointOf(server);
  return {
    host: e.host,
    port: e.port,
    username: e.user,
    hostKey: access.hostKey,
    auth: loginAuth(login),
    legacyAlgorithms: access.legacyAlgorithms === true,
    readyTimeoutMs: options.connectTimeoutMs ?? 15_000,
    ...(options.sourceAddress ? { localAddress: options.sourceAddress } : {}),
    targets: options.targets,
  };
}

/**
 * How a command becomes root (spec.access.sudo): `sudo -n`, or sudo with the declared password fed
 * after its prompt. A password declared but not resolving is a result: nothing should be tried.
 */
export type SudoAccess = { ok: true; mode: SudoMode; answers: PromptAnswer[] } | { ok: false; reason: 'PasswordMissing' };

export function sudoAccess(server: ServerDocument, secrets: ServerSecrets, asRoot = true): SudoAccess {
  if (!asRoot) return { ok: true, mode: 'none', answers: [] };
  if (!server.spec.access.sudo?.password) return { ok: true, mode: 'nopasswd', answers: [] };
  if (secrets.sudoPassword === undefined) return { ok: false, reason: 'PasswordMissing' };
  return { ok: true, mode: 'password', answers: [{ prompt: SUDO_PROMPT, value: secrets.sudoPassword }] };
}

/** Why no session was opened. */
export type LoginFailure =
  /** The login secret does not resolve: nothing was tried. */
  | { kind: 'CredentialsMissing'; message: string }
  /** The address is outside the operator's target networks: no socket was opened. */
  | { kind: 'TargetRefused'; message: string }
  /** The host key is not the pinned one: nothing was sent. */
  | { kind: 'HostKeyMismatch'; message: string; observedHostKey?: string }
  | { kind: 'AuthenticationFailed'; message: string }
  | { kind: 'NoCommonAlgorithm'; message: string }
  /** Refused, timed out, reset, or anything else on the way. */
  | { kind: 'Unreachable'; message: string };

export type LoginResult = { ok: true; session: SshSession } | { ok: false; failure: LoginFailure };

/** Logs in with the server's management credentials; a failure is a result. */
export async function logIn(server: ServerDocument, secrets: ServerSecrets, options: SshAccessOptions, signal?: AbortSignal): Promise<LoginResult> {
  if (secrets.login === undefined) {
    return {
      ok: false,
      failure: { kind: 'CredentialsMissing', message: `the management credentials of ${server.metadata.name} (secret ${server.spec.access.credentials.secretRef}) do not resolve` },
    };
  }
  try {
    return { ok: true, session: await SshSession.connect(sshTargetOf(server, secrets.login, options), signal) };
  } catch (err) {
    return { ok: false, failure: loginFailureOf(err) };
  }
}

export function loginFailureOf(err: unknown): LoginFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (isMamoriError(err, 'MAMORI_TARGET_REFUSED')) return { kind: 'TargetRefused', message };
  const failure = sshFailureOf(err);
  if (failure === 'HostKeyMismatch') {
    const observed = isMamoriError(err) ? err.details.observedHostKey : undefined;
    return { kind: 'HostKeyMismatch', message, ...(typeof observed === 'string' ? { observedHostKey: observed } : {}) };
  }
  if (failure === 'AuthenticationFailed' || failure === 'NoCommonAlgorithm') return { kind: failure, message };
  return { kind: 'Unreachable', message };
}

/**
 * A failed login as a runbook verdict. Anything but a wrong key or a refused login is
 * StepFailed: a verify keeps retrying those while a server boots.
 */
export function loginVerdict(f: LoginFailure): { verdict: Verdict; message: string } {
  switch (f.kind) {
    case 'CredentialsMissing':
      return { verdict: 'SecretMissing', message: `${f.message}; nothing was run` };
    case 'HostKeyMismatch':
      return { verdict: 'HostKeyMismatch', message: f.message };
    case 'AuthenticationFailed':
      return { verdict: 'ManagementAccessDenied', message: f.message };
    default:
      return { verdict: 'StepFailed', message: `cannot log in over SSH: ${f.message}` };
  }
}
