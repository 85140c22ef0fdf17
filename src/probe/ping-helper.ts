/**
 * The ping helper's process (its entry: dist/ping-helper.js, or ping-helper.mjs from the sources).
 * The daemon starts it once and hands it batches of addresses; it runs fping (or `ping`) for each
 * batch with the same code the daemon used (`pingMany`) and answers with one outcome per address.
 * Starting a process from a small process costs a millisecond or two; from the daemon at 10,000
 * servers (~900 MB) a fork cost ~27 ms, plus a copy-on-write fault on every page the daemon wrote
 * afterwards. The daemon never forks while probing; this process does, and it stays small.
 *
 * Wire: one JSON object a line on stdin and stdout.
 *   daemon → helper  {"id":1,"addresses":["192.0.2.1"],"timeoutMs":1000,"count":3,"fping":"fping"}
 *                    {"id":1,"cancel":true}                      (the probe was aborted: fping is killed)
 *   helper → daemon  {"ready":true}                               (once, at start)
 *                    {"id":1,"outcomes":[["192.0.2.1",{"icmp":{…},"failure":{…}}]]}
 * Addresses are checked here again (`pingMany` refuses anything that is not an IP literal) and go to
 * fping as arguments of their own, never through a shell. The helper ends when its stdin closes
 * (the daemon stopped or died), stopping the fping it runs.
 */
import { pingMany, type PingOptions } from './icmp.ts';

/** A request line longer than this is not ours (a batch is at most a few hundred addresses). */
const MAX_LINE = 1 << 20;
const MAX_ADDRESSES = 4096;

interface Request {
  id: number;
  addresses: string[];
  options: PingOptions;
}

/** A request as the daemon sends it, or undefined when a field is missing or of the wrong type. */
export function parseRequest(value: unknown): Request | { id: number; cancel: true } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'number' || !Number.isSafeInteger(v.id)) return undefined;
  if (v.cancel === true) return { id: v.id, cancel: true };
  if (!Array.isArray(v.addresses) || v.addresses.length > MAX_ADDRESSES || !v.addresses.every((a) => typeof a === 'string' && a.length <= 64)) return undefined;
  if (typeof v.timeoutMs !== 'number' || !Number.isFinite(v.timeoutMs) || v.timeoutMs <= 0 || v.timeoutMs > 600_000) return undefined;
  const options: PingOptions = { timeoutMs: v.timeoutMs };
  if (typeof v.sourceAddress === 'string') options.sourceAddress = v.sourceAddress;
  if (typeof v.count === 'number' && Number.isFinite(v.count)) options.count = Math.min(20, Math.max(1, Math.trunc(v.count)));
  if (typeof v.periodMs === 'number' && Number.isFinite(v.periodMs)) options.periodMs = v.periodMs;
  if (typeof v.fping === 'string' || v.fping === null) options.fping = v.fping;
  if (typeof v.ping === 'string') options.ping = v.ping;
  return { id: v.id, addresses: v.addresses as string[], options };
}

export function serve(input: NodeJS.ReadableStream, write: (line: string) => void, exit: () => void): void {
  const running = new Map<number, AbortController>();
  let partial = '';
  const handle = (line: string): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    const request = parseRequest(parsed);
    if (request === undefined) return;
    if ('cancel' in request) {
      running.get(request.id)?.abort();
      return;
    }
    const abort = new AbortController();
    running.set(request.id, abort);
    void pingMany(request.addresses, { ...request.options, signal: abort.signal })
      .then(
        (outcomes) => write(`${JSON.stringify({ id: request.id, outcomes: [...outcomes] })}\n`),
        // pingMany is built not to throw; if it ever does, the daemon still gets an answer.
        (err: unknown) => write(`${JSON.stringify({ id: request.id, failed: err instanceof Error ? err.message : String(err) })}\n`),
      )
      .finally(() => running.delete(request.id));
  };
  input.setEncoding('utf8');
  input.on('data', (chunk: string) => {
    partial += chunk;
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line !== '') handle(line);
      nl = partial.indexOf('\n');
    }
    if (partial.length > MAX_LINE) partial = '';
  });
  input.on('end', () => {
    // The daemon is gone: stop every fping, then leave.
    for (const a of running.values()) a.abort();
    exit();
  });
  write(`${JSON.stringify({ ready: true })}\n`);
}

const isEntry = process.argv[1] !== undefined && /ping-helper\.(?:js|mjs|ts)$/.test(process.argv[1]);
if (isEntry) {
  process.title = 'mamori-ping-helper';
  serve(
    process.stdin,
    (line) => process.stdout.write(line),
    () => process.exit(0),
  );
}
