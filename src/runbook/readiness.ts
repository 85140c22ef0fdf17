/**
 * The readiness check: on a schedule (config readiness.intervalHours), and whenever a manifest or
 * a secret changes, make sure that a runbook
 * could run today — so that the seed's preconditions (the management password, the SSL
 * pass phrase, the allowed networks, the BMC) fail on a weekday afternoon, not at 3 a.m.
 * Logs in with the pinned key, runs `sudo -n true`, resolves every secret the server's
 * runbooks need, tries the SSL pass phrase against the encrypted key on the server (on stdin,
 * never in argv, without restarting anything) and asks the BMC for its power status. Changes
 * nothing on the server. The daemon runs it on a schedule (src/reconcile/readiness-loop.ts).
 */
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { isMamoriError } from '../errors.ts';
import type { ServerDocument } from '../manifest/types.ts';
import type { TargetCheck } from '../manifest/target-networks.ts';
import { serverConsoleChannel } from './drivers/registry.ts';
import type { ConsoleProfiles } from './drivers/types.ts';
import { logIn, resolveServerSecrets, type SecretResolver, type ServerSecrets } from './ssh-access.ts';
import { SUDO_PROMPT, plainCommand } from './remote-command.ts';
import { scrubText } from './scrub.ts';
import type { SshSession } from './ssh-session.ts';
import type { RenderedRunbook } from './types.ts';

export type ReadinessType = 'ManagementAccessDenied' | 'HostKeyChanged' | 'RecoveryNotReady';

/** A Kubernetes-style condition: status True means the problem is present. */
export interface ReadinessCondition {
  type: ReadinessType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface ReadinessReport {
  server: string;
  checkedAt: string;
  conditions: ReadinessCondition[];
  /** Facts seen on the way (observed host key, power state), for the status file. */
  facts: Record<string, string | boolean>;
  /** Every problem found beside the login (RecoveryNotReady names the first): secrets, pass phrase, console. */
  problems: Array<{ reason: string; message: string }>;
}

export interface ReadinessOptions {
  resolveSecret: SecretResolver;
  consoleProfiles?: ConsoleProfiles;
  /** The server's rendered runbooks: their prompts' secrets must be declared and resolve. */
  runbooks?: readonly RenderedRunbook[];
  connectTimeoutMs?: number;
  sourceAddress?: string;
  ipmitool?: string;
  logger?: Logger;
  /** The operator's target networks: the SSH login and the BMC are checked against them. */
  targets: TargetCheck;
}

export async function checkReadiness(server: ServerDocument, options: ReadinessOptions): Promise<ReadinessReport> {
  const name = server.metadata.name;
  const log = (options.logger ?? silentLogger()).child({ server: name });
  const secrets = await resolveServerSecrets(server, options.resolveSecret);
  const facts: ReadinessReport['facts'] = {};
  const access = server.spec.access;
  let hostKey: ReadinessCondition = { type: 'HostKeyChanged', status: 'Unknown', reason: 'NotChecked', message: 'no login was attempted' };
  let management: ReadinessCondition = { type: 'ManagementAccessDenied', status: 'Unknown', reason: 'NotChecked', message: 'no login was attempted' };
  const notReady: Array<{ reason: string; message: string }> = [];

  for (const [field, why] of secrets.missing) notReady.push({ reason: 'SecretMissing', message: `${field}: ${why}` });
  for (const rb of options.runbooks ?? []) {
    for (const step of rb.steps) {
      if (step.kind === 'run' && step.answer && !secrets.named.has(step.answer.secretKey) && server.spec.secrets?.[step.answer.secretKey] === undefined) {
        notReady.push({ reason: 'SecretMissing', message: `runbook ${rb.runbook} step ${step.id} answers "${step.answer.prompt}" from spec.secrets.${step.answer.secretKey}, which the server does not declare` });
      }
    }
  }

  const login = await logIn(server, secrets, { targets: options.targets, ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}), ...(options.sourceAddress ? { sourceAddress: options.sourceAddress } : {}) });
  if (login.ok) {
    const session = login.session;
    try {
      facts.observedHostKey = session.observedHostKey;
      hostKey = { type: 'HostKeyChanged', status: 'False', reason: 'HostKeyMatches', message: `the host key is the pinned ${access.hostKey}` };
      management = await sudoWorks(session, server, secrets);
      if (management.status === 'False') {
        const pass = await passphraseWorks(session, server, secrets);
        if (pass !== undefined) {
          facts.sslPassphrase = pass.ok;
          if (!pass.ok) notReady.push({ reason: 'PassphraseRefused', message: pass.message });
        }
      }
    } catch (err) {
      // The connection failed under the sudo check (a channel refused, the link dropped).
      const message = err instanceof Error ? err.message : String(err);
      management = { type: 'ManagementAccessDenied', status: 'Unknown', reason: 'Unreachable', message };
      hostKey = { type: 'HostKeyChanged', status: 'Unknown', reason: 'Unreachable', message };
    } finally {
      session.close();
    }
  } else {
    const f = login.failure;
    const message = f.message;
    switch (f.kind) {
      case 'CredentialsMissing':
        management = { type: 'ManagementAccessDenied', status: 'Unknown', reason: 'CredentialsMissing', message: `the management credentials (secret ${access.credentials.secretRef}) do not resolve, so no login was tried` };
        break;
      case 'TargetRefused':
        management = { type: 'ManagementAccessDenied', status: 'Unknown', reason: 'TargetRefused', message };
        hostKey = { type: 'HostKeyChanged', status: 'Unknown', reason: 'TargetRefused', message: 'no connection: the address is outside the target networks' };
        break;
      case 'HostKeyMismatch':
        if (f.observedHostKey !== undefined) facts.observedHostKey = f.observedHostKey;
        hostKey = { type: 'HostKeyChanged', status: 'True', reason: 'HostKeyMismatch', message };
        management = { type: 'ManagementAccessDenied', status: 'Unknown', reason: 'HostKeyMismatch', message: 'no login: the host key is not the pinned one' };
        break;
      case 'AuthenticationFailed':
        hostKey = { type: 'HostKeyChanged', status: 'False', reason: 'HostKeyMatches', message: `the host key is the pinned ${access.hostKey}` };
        management = { type: 'ManagementAccessDenied', status: 'True', reason: 'LoginRefused', message };
        break;
      default:
        management = { type: 'ManagementAccessDenied', status: 'Unknown', reason: f.kind, message };
        hostKey = { type: 'HostKeyChanged', status: 'Unknown', reason: 'Unreachable', message };
    }
  }

  const c = server.spec.console;
  if (!c) {
    notReady.push({ reason: 'ConsoleMissing', message: 'no spec.console: when SSH or the host is down, nothing but escalation is possible' });
  } else {
    try {
      const channel = serverConsoleChannel(server, c, secrets, options);
      facts.consoleDriver = channel.driver;
      if (channel.power) {
        try {
          facts.power = await channel.power.status({ deadlineMs: 20_000 });
        } catch (err) {
          notReady.push({ reason: isMamoriError(err, 'MAMORI_TARGET_REFUSED') ? 'TargetRefused' : 'BmcUnreachable', message: (err as Error).message });
        }
      }
    } catch (err) {
      notReady.push({ reason: 'ConsoleProfileMissing', message: (err as Error).message });
    }
  }

  const recovery: ReadinessCondition =
    notReady.length === 0
      ? { type: 'RecoveryNotReady', status: 'False', reason: 'Ready', message: 'every secret resolves and the console/power channel answers' }
      : { type: 'RecoveryNotReady', status: 'True', reason: notReady[0]?.reason ?? 'NotReady', message: notReady.map((p) => p.message).join('; ') };
  const conditions = [management, hostKey, recovery].map((cond) => ({ ...cond, message: scrubText(cond.message, secrets.all) }));
  log.info({ conditions: conditions.map((x) => `${x.type}=${x.status}:${x.reason}`) }, 'readiness checked');
  const problems = notReady.map((p) => ({ reason: p.reason, message: scrubText(p.message, secrets.all) }));
  return { server: name, checkedAt: new Date().toISOString(), conditions, facts, problems };
}

/** Logged in: does sudo run as root (without a password, or with the declared one)? */
async function sudoWorks(session: SshSession, server: ServerDocument, secrets: ServerSecrets): Promise<ReadinessCondition> {
  const access = server.spec.access;
  const mode = access.sudo?.password ? 'password' : 'nopasswd';
  if (mode === 'password' && secrets.sudoPassword === undefined) {
    return { type: 'ManagementAccessDenied', status: 'Unknown', reason: 'CredentialsMissing', message: 'login works; the sudo password secret does not resolve, so sudo was not tried' };
  }
  const r = await session.exec(plainCommand('true', mode), {
    pty: access.sudo?.pty === true,
    deadlineMs: 15_000,
    secrets: secrets.all,
    answers: mode === 'password' && secrets.sudoPassword !== undefined ? [{ prompt: SUDO_PROMPT, value: secrets.sudoPassword }] : [],
  });
  if (r.outcome === 'exited' && r.exitCode === 0) {
    return { type: 'ManagementAccessDenied', status: 'False', reason: 'LoginAndSudoWork', message: `${access.user} logs in with the pinned host key and sudo runs as root` };
  }
  const said = r.output.trim().split('\n').pop() ?? '';
  return { type: 'ManagementAccessDenied', status: 'True', reason: 'SudoRefused', message: `${access.user} logs in, but sudo ${mode === 'nopasswd' ? '-n ' : ''}true failed (${r.outcome === 'exited' ? `exit ${String(r.exitCode)}` : r.outcome})${said ? `: ${said}` : ''}` };
}

/**
 * The encrypted private keys a web server may start with, in the places CentOS/RHEL and FreeBSD
 * keep them; each is tried with the pass phrase read from stdin (openssl -passin stdin: never in
 * argv, so never in `ps`). Exit 3 when no encrypted key is found (nothing to judge).
 */
export const PASSPHRASE_PROMPT = '[mamori] pass phrase:';
const KEY_GLOBS = '/etc/httpd/*.key* /etc/httpd/conf/ssl.key/* /etc/httpd/ssl/* /etc/pki/tls/private/* /etc/ssl/private/* /usr/local/etc/apache*/*.key* /usr/local/etc/apache*/ssl/* /usr/local/etc/ssl/*';
export const PASSPHRASE_SCRIPT = [
  'keys=',
  `for f in ${KEY_GLOBS}; do [ -f "$f" ] && grep -q ENCRYPTED "$f" 2>/dev/null && keys="$keys $f"; done`,
  '[ -n "$keys" ] || { echo "no encrypted key found"; exit 3; }',
  `printf '%s' '${PASSPHRASE_PROMPT}'`,
  'IFS= read -r p',
  'echo',
  'for f in $keys; do',
  '  if printf \'%s\\n\' "$p" | openssl pkey -in "$f" -passin stdin -noout 2>/dev/null || printf \'%s\\n\' "$p" | openssl rsa -in "$f" -passin stdin -noout 2>/dev/null; then echo "accepted by $f"; exit 0; fi',
  'done',
  'echo "refused by$keys"; exit 1',
].join('\n');

/** Does the declared SSL pass phrase open an encrypted key on the server? undefined = nothing to judge. */
async function passphraseWorks(session: SshSession, server: ServerDocument, secrets: ServerSecrets): Promise<{ ok: boolean; message: string } | undefined> {
  const phrase = secrets.named.get('sslPassphrase');
  if (phrase === undefined) return undefined;
  const access = server.spec.access;
  const mode = access.sudo?.password ? 'password' : 'nopasswd';
  const answers = [
    ...(mode === 'password' && secrets.sudoPassword !== undefined ? [{ prompt: SUDO_PROMPT, value: secrets.sudoPassword }] : []),
    { prompt: PASSPHRASE_PROMPT, value: phrase },
  ];
  const r = await session.exec(plainCommand(PASSPHRASE_SCRIPT, mode), { pty: false, deadlineMs: 15_000, secrets: secrets.all, answers });
  const said = r.output.trim().split('\n').pop() ?? '';
  if (r.outcome === 'exited' && r.exitCode === 0) return { ok: true, message: said };
  if (r.outcome === 'exited' && r.exitCode === 1) return { ok: false, message: `the SSL pass phrase (spec.secrets.sslPassphrase) does not open the encrypted key: ${said}` };
  return undefined;
}
