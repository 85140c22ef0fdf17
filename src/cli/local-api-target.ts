/**
 * Where the CLI reaches a running daemon's local API: its Unix socket (http.socket), whose file
 * permissions say who may act as the operator — the default. Only when the socket cannot be used
 * from here (another user, no socket) and the config names an operator token that this user can
 * read, over TCP with that token: over TCP without it, the daemon changes nothing.
 */
import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import type { MamoriConfig } from '../config/types.ts';
import type { LocalApiTarget } from '../reconcile/local-api-client.ts';
import { resolveSecret } from '../secrets/resolve-secret.ts';
import { isStateLocked } from '../status/lock.ts';

async function socketUsable(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined || !st.isSocket()) return false;
  // Connecting to a Unix socket needs write permission on it.
  return access(path, constants.W_OK).then(
    () => true,
    () => false,
  );
}

async function operatorToken(config: MamoriConfig): Promise<string | undefined> {
  const ref = config.http.token ?? config.http.tokens.find((t) => t.scope === 'operator');
  if (ref === undefined) return undefined;
  return resolveSecret({ secretRef: ref.secretRef }, config).catch(() => undefined);
}

export async function localApiTarget(config: MamoriConfig): Promise<LocalApiTarget> {
  const socket = config.http.socket;
  if (await socketUsable(socket)) return { socket };
  const token = await operatorToken(config);
  if (token !== undefined) return { listen: config.http.listen, token, ...(config.http.tls !== undefined ? { tlsCertFile: config.http.tls.certFile } : {}) };
  // The socket it is, then: the error names it and says why it could not be used.
  return { socket };
}

/** The running daemon's local API, if one holds the state folder. */
export async function daemonTarget(config: MamoriConfig): Promise<LocalApiTarget | undefined> {
  if (!(await isStateLocked(config.stateDir))) return undefined;
  return localApiTarget(config);
}
