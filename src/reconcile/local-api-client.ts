/**
 * The client side of the daemon's local API (served by src/http/server.ts on config http.listen):
 * `POST /api/reconcile {dryRun}`, `POST /api/resume {server, service?}` and
 * `POST /api/confirm {revision}`, each answered with `{ ok, result }` or `{ ok: false, code?, error }`.
 * `mamori reconcile --once` and `mamori resume` use it when a daemon holds the state folder;
 * `mamori confirm` always (only a running daemon holds a revision).
 */
import { MamoriError } from '../errors.ts';

export const RECONCILE_PATH = '/api/reconcile';
export const RESUME_PATH = '/api/resume';
export const CONFIRM_PATH = '/api/confirm';

export interface LocalApiTarget {
  /** host:port as in config http.listen. */
  listen: string;
  /** The resolved http.token, when one is configured. */
  token?: string;
  timeoutMs?: number;
}

export interface LocalApiReply<T> {
  status: number;
  ok: boolean;
  result?: T;
  code?: string;
  error?: string;
  /** The answer as the daemon sent it (a body that is not JSON: `{ error: <its start> }`). */
  body: Record<string, unknown>;
}

function baseUrl(listen: string): string {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = listen.slice(i + 1);
  // A daemon listening on every address is reached on the loopback.
  const client = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return `http://${client}:${port}`;
}

export async function callLocalApi<T>(target: LocalApiTarget, path: string, payload: unknown): Promise<LocalApiReply<T>> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl(target.listen)}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(target.token !== undefined ? { authorization: `Bearer ${target.token}` } : {}) },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(target.timeoutMs ?? 600_000),
    });
  } catch (err) {
    throw new MamoriError('MAMORI_HTTP_UNREACHABLE', `no mamori daemon answers on ${target.listen}: is \`mamori run\` running?`, { cause: err });
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { error: text.slice(0, 200) };
  }
  const reply: LocalApiReply<T> = { status: res.status, ok: res.status === 200 && body.ok === true, body };
  if (body.result !== undefined) reply.result = body.result as T;
  if (typeof body.code === 'string') reply.code = body.code;
  if (typeof body.error === 'string') reply.error = body.error;
  return reply;
}

export function requestReconcile<T>(target: LocalApiTarget, dryRun: boolean): Promise<LocalApiReply<T>> {
  return callLocalApi<T>(target, RECONCILE_PATH, { dryRun });
}

export function requestResume<T>(target: LocalApiTarget, server: string, service?: string): Promise<LocalApiReply<T>> {
  return callLocalApi<T>(target, RESUME_PATH, service !== undefined ? { server, service } : { server });
}

export function requestConfirm<T>(target: LocalApiTarget, revision: string): Promise<LocalApiReply<T>> {
  return callLocalApi<T>(target, CONFIRM_PATH, { revision });
}
