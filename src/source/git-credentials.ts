import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Credentials for the manifests repository, resolved from a secretRef by the daemon. They reach
 * git through its environment (GIT_SSH_COMMAND, GIT_ASKPASS) and files only the daemon can read —
 * never through the URL, the command line or a log line.
 */
export type GitCredentials = { kind: 'ssh-key'; privateKey: string } | { kind: 'token'; username?: string; token: string };

/** An ssh private key if the secret looks like one, else an https token (`user:token` or a bare token). */
export function credentialsFromSecret(secret: string): GitCredentials {
  const text = secret.trim();
  if (text.startsWith('-----BEGIN')) return { kind: 'ssh-key', privateKey: `${text}\n` };
  const colon = text.indexOf(':');
  if (colon > 0) return { kind: 'token', username: text.slice(0, colon), token: text.slice(colon + 1) };
  return { kind: 'token', token: text };
}

/** Single-quote a path for GIT_SSH_COMMAND, which git runs through the shell. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * Write the helper files into `dir` (mode 0700/0600) and return the environment git needs.
 * Without credentials: an environment that never prompts, so a protected remote fails fast
 * instead of hanging on a terminal nobody watches.
 */
export async function gitCredentialEnv(dir: string, credentials: GitCredentials | undefined): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
  };
  if (!credentials) return env;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (credentials.kind === 'ssh-key') {
    const keyPath = join(dir, 'ssh-key');
    await writeFile(keyPath, credentials.privateKey, { mode: 0o600 });
    await chmod(keyPath, 0o600);
    env.GIT_SSH_COMMAND = `ssh -i ${shellQuote(keyPath)} -o IdentitiesOnly=yes -o BatchMode=yes`;
    return env;
  }
  // The askpass helper reads the token from git's environment, so the secret is in no file.
  const askpass = join(dir, 'askpass.sh');
  await writeFile(
    askpass,
    '#!/bin/sh\ncase "$1" in\n  Username*) printf "%s\\n" "$MAMORI_GIT_USERNAME" ;;\n  *) printf "%s\\n" "$MAMORI_GIT_PASSWORD" ;;\nesac\n',
    { mode: 0o700 },
  );
  await chmod(askpass, 0o700);
  env.GIT_ASKPASS = askpass;
  env.MAMORI_GIT_USERNAME = credentials.username ?? 'x-access-token';
  env.MAMORI_GIT_PASSWORD = credentials.token;
  return env;
}

/** Remove user-info from URLs (`https://user:token@host/…` → `https://host/…`), as flux does in its errors. */
export function sanitizeUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}

/** Sanitise an error text: URLs without user-info, and any known secret cut out. */
export function sanitizeMessage(text: string, secrets: readonly string[] = []): string {
  let out = sanitizeUrl(text);
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}
