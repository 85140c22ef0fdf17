/**
 * One replica calling another's HTTP API (the address in its member record, config
 * cluster.apiUrl): a local-API request forwarded to the owner of a server, or to every replica.
 *
 * The peer authenticates the call as it would any client's: an operator bearer token (the
 * caller's own, passed on; or, for a caller on this replica's Unix socket, the operator token of
 * this replica's config). `x-mamori-forwarded-by` names the replica that forwarded: a request
 * carrying it is answered where it lands and never forwarded again, so a forward cannot loop.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MamoriError } from '../errors.ts';

export const FORWARDED_BY_HEADER = 'x-mamori-forwarded-by';

/** The answer of a peer: its status and JSON body (a body that is not JSON: `{ error: <its start> }`). */
export interface PeerReply {
  status: number;
  body: Record<string, unknown>;
}

export interface PeerCall {
  /** The peer's API base, http(s)://host:port. */
  api: string;
  /** The peer's replica name (messages). */
  replica: string;
  method: 'GET' | 'POST';
  path: string;
  payload?: unknown;
  /** The operator bearer token the peer checks. */
  token: string;
  /** This replica's name: the peer answers and forwards no further. */
  forwardedBy: string;
  timeoutMs: number;
  /** The largest answer read (bytes); past it the call fails. */
  maxBytes?: number;
}

export async function callPeer(call: PeerCall): Promise<PeerReply> {
  let url: URL;
  try {
    url = new URL(call.path, call.api);
  } catch (err) {
    throw new MamoriError('MAMORI_CLUSTER_PEER_UNREACHABLE', `replica ${call.replica} advertises no usable API address (${JSON.stringify(call.api)})`, { cause: err });
  }
  const text = call.payload !== undefined ? JSON.stringify(call.payload) : undefined;
  const maxBytes = call.maxBytes ?? 16 * 1024 * 1024;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: call.method,
        headers: {
          authorization: `Bearer ${call.token}`,
          [FORWARDED_BY_HEADER]: call.forwardedBy,
          ...(text !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}),
        },
        signal: AbortSignal.timeout(call.timeoutMs),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            res.destroy(new Error(`answer larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  }).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MamoriError('MAMORI_CLUSTER_PEER_UNREACHABLE', `replica ${call.replica} did not answer on ${url.origin}${code !== undefined ? ` (${code})` : `: ${(err as Error).message}`}`, { cause: err });
  });
  let body: Record<string, unknown>;
  try {
    const parsed = JSON.parse(answer.text) as unknown;
    body = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { result: parsed };
  } catch {
    body = { error: answer.text.slice(0, 200) };
  }
  return { status: answer.status, body };
}
