/**
 * The client side of the daemon's local API (served by src/http/server.ts):
 * `POST /api/reconcile {dryRun}`, `POST /api/resume {server, service?}` and
 * `POST /api/confirm {revision}`, each answered with `{ ok, result }` or `{ ok: false, code?, error }`.
 * `mamori reconcile --once` and `mamori resume` use it when a daemon holds the state folder;
 * `mamori confirm` always (only a running daemon holds a revision).
 *
 * Over the daemon's Unix socket (config http.socket, its file permissions decide who may), or over
 * TCP (http.listen) with the operator's token: over TCP without one, the daemon changes nothing.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isMamoriError, MamoriError } from '../errors.ts';
import { certFingerprint, trustedConnector } from '../http/tls-client.ts';

export const RECONCILE_PATH = '/api/reconcile';
export const RESUME_PATH = '/api/resume';
export const CONFIRM_PATH = '/api/confirm';

export type LocalApiTarget =
  | { socket: string; timeoutMs?: number }
  /**
   * host:port as in config http.listen, with the operator's token; over HTTPS when the daemon has
   * http.tls, trusting exactly the certificate in `tlsCertFile` (its own, on this machine).
   */
  | { listen: string; token: string; timeoutMs?: number; tlsCertFile?: string };

export interface LocalApiReply<T> {
  status: number;
  ok: boolean;
  result?: T;
  code?: string;
  error?: string;
  /** The answer as the daemon sent it (a body that is not JSON: `{ error: <its start> }`). */
  body: Record<string, unknown>;
}

/** Where the target is, for messages: the socket's path or host:port. */
export function describeTarget(target: LocalApiTarget): string {
  return 'socket' in target ? target.socket : target.listen;
}

function tcpAddress(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  // A daemon listening on every address is reached on the loopback.
  return { host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host, port: Number(listen.slice(i + 1)) };
}

function post(target: LocalApiTarget, path: string, payload: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const where = 'socket' in target ? { socketPath: target.socket } : tcpAddress(target.listen);
    const certFile = 'tlsCertFile' in target ? target.tlsCertFile : undefined;
    let pin: string | undefined;
    if (certFile !== undefined) {
      try {
        pin = certFingerprint(readFileSync(certFile));
      } catch (err) {
        reject(new MamoriError('MAMORI_HTTP_UNREACHABLE', `the daemon serves HTTPS (http.tls) and its certificate ${certFile} cannot be read here to trust it: ${(err as Error).message}; use the local socket (http.socket)`, { cause: err }));
        return;
      }
    }
    const req = (pin !== undefined ? httpsRequest : request)(
      {
        ...where,
        ...(pin !== undefined ? { createConnection: trustedConnector({ pins: [pin], describe: `http.tls.certFile ${certFile}` }, 'MAMORI_HTTP_UNREACHABLE') } : {}),
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...('token' in target ? { authorization: `Bearer ${target.token}` } : {}),
        },
        signal: AbortSignal.timeout(target.timeoutMs ?? 600_000),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 16 * 1024 * 1024) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function callLocalApi<T>(target: LocalApiTarget, path: string, payload: unknown): Promise<LocalApiReply<T>> {
  let answer: { status: number; text: string };
  try {
    answer = await post(target, path, JSON.stringify(payload));
  } catch (err) {
    if (isMamoriError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' ? ': permission denied (the socket is for the daemon\'s user, or its group with http.socketMode 0660)' : code !== undefined ? ` (${code})` : '';
    throw new MamoriError('MAMORI_HTTP_UNREACHABLE', `no mamori daemon answers on ${describeTarget(target)}${why}: is \`mamori run\` running?`, { cause: err });
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    body = { error: answer.text.slice(0, 200) };
  }
  const reply: LocalApiReply<T> = { status: answer.status, ok: answer.status === 200 && body.ok === true, body };
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
