/**
 * A large answer written a batch at a time (JSON here; the metrics' text the same way).
 * `/api/status` at 10,000 servers is ~50 MB of pretty-printed JSON: one `JSON.stringify` held the event loop for about two seconds, and every
 * probe due meanwhile waited. Here the text is exactly `JSON.stringify(value, null, 2)`, but an
 * array of many elements is written some elements at a time, with a turn of the event loop (and
 * the socket's backpressure) between batches.
 */
import type { ServerResponse } from 'node:http';
import { setImmediate as turn } from 'node:timers/promises';

/** The headers of every JSON answer (sendJson's and sendJsonStreamed's). */
export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

/** Elements of a long array written between two turns of the event loop. */
export const BATCH = 100;

const pad = (depth: number): string => '  '.repeat(depth);

/** JSON.stringify(v, null, 2) at a depth: its inner lines indented for where it sits; undefined when JSON leaves it out. */
function stringifyAt(v: unknown, depth: number): string | undefined {
  const text = JSON.stringify(v, null, 2) as string | undefined;
  if (text === undefined || depth === 0 || !text.includes('\n')) return text;
  // A JSON text has no raw newline inside a string: every newline is one of the layout's.
  return text.replaceAll('\n', `\n${pad(depth)}`);
}

/** Arrays and objects JSON would not turn through toJSON: walked here, everything else stringified whole. */
function walkable(v: unknown): v is Record<string, unknown> | unknown[] {
  if (Array.isArray(v)) return true;
  if (v === null || typeof v !== 'object') return false;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether a long array sits in v (an object's fields, an array's elements), so that walking it pays. */
function holdsLongArray(v: unknown, depth: number): boolean {
  if (!walkable(v) || depth > 4) return false;
  if (Array.isArray(v)) return v.length > BATCH || v.some((x) => holdsLongArray(x, depth + 1));
  for (const k in v) if (holdsLongArray(v[k], depth + 1)) return true;
  return false;
}

/**
 * The pieces of `JSON.stringify(value, null, 2)`, in order; `null` marks a place to pause (after
 * every BATCH elements of a long array). Joined, the strings are that text exactly.
 */
export function* jsonPieces(value: unknown, depth = 0): Generator<string | null> {
  if (!holdsLongArray(value, 0)) {
    yield stringifyAt(value, depth) ?? 'null';
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield '[]';
      return;
    }
    yield '[';
    for (let i = 0; i < value.length; i++) {
      yield `${i > 0 ? ',' : ''}\n${pad(depth + 1)}`;
      const el: unknown = value[i];
      if (holdsLongArray(el, 0)) yield* jsonPieces(el, depth + 1);
      else yield stringifyAt(el, depth + 1) ?? 'null';
      if ((i + 1) % BATCH === 0) yield null;
    }
    yield `\n${pad(depth)}]`;
    return;
  }
  const obj = value as Record<string, unknown>;
  let first = true;
  yield '{';
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (holdsLongArray(v, 0)) {
      yield `${first ? '' : ','}\n${pad(depth + 1)}${JSON.stringify(k)}: `;
      yield* jsonPieces(v, depth + 1);
    } else {
      const text = stringifyAt(v, depth + 1);
      if (text === undefined) continue; // undefined, a function: JSON leaves the key out
      yield `${first ? '' : ','}\n${pad(depth + 1)}${JSON.stringify(k)}: ${text}`;
    }
    first = false;
  }
  yield first ? '}' : `\n${pad(depth)}}`;
}

/** Resolves when the socket takes more, or is gone. */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Answers with `value` as pretty-printed JSON (what sendJson writes), a batch at a time: the socket
 * drains between batches and other work runs. A client that leaves mid-answer ends the writing.
 */
export function sendJsonStreamed(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): Promise<void> {
  return sendPieces(res, status, { ...headers, ...JSON_HEADERS }, jsonPieces(value), '\n');
}

/**
 * Answers with the pieces' text, written at each pause (`null`) with a turn of the event loop (and
 * the socket's backpressure) between writes. A client that leaves mid-answer ends the writing.
 */
export async function sendPieces(res: ServerResponse, status: number, headers: Record<string, string>, pieces: Iterable<string | null>, tail = ''): Promise<void> {
  res.writeHead(status, headers);
  if (res.req.method === 'HEAD') {
    res.end();
    return;
  }
  let gone = false;
  const leave = (): void => {
    gone = true;
  };
  res.once('close', leave);
  try {
    let buffered: string[] = [];
    for (const piece of pieces) {
      if (piece !== null) {
        buffered.push(piece);
        continue;
      }
      const drained = res.write(buffered.join(''));
      buffered = [];
      if (!drained) await drainOrClose(res);
      // A fast reader on the loopback drains a write at once (in a nextTick): without a turn of
      // its own here, the whole answer would still be written before any probe ran.
      await turn();
      if (gone || res.destroyed) return;
    }
    buffered.push(tail);
    res.end(buffered.join(''));
  } finally {
    res.off('close', leave);
  }
}
