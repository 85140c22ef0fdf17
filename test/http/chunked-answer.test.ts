import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { BATCH, jsonPieces, sendJsonStreamed } from '../../src/http/chunked-answer.ts';

const joined = (v: unknown): string => [...jsonPieces(v)].filter((p) => p !== null).join('');

/** A server status's shape, roughly: what /api/status holds ten thousand of. */
const status = (i: number): Record<string, unknown> => ({
  metadata: { name: `s${i}`, customer: `c${i % 7}` },
  conditions: [{ type: 'Ready', status: 'True', message: 'a "quoted"\nline', lastTransitionTime: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) }],
  services: { ping: { state: 'Healthy', consecutiveFailures: 0, latencyMs: 0.031 } },
  skipped: undefined,
  fn: () => 1,
});

describe('jsonPieces', () => {
  it('joins to JSON.stringify(value, null, 2) exactly, long arrays or not', () => {
    const long = fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: BATCH + 1, maxLength: 3 * BATCH });
    const value = fc.oneof(
      fc.jsonValue(),
      fc.record({ a: long, b: fc.jsonValue(), c: fc.constant(undefined) }),
      fc.record({ outer: fc.record({ servers: long, n: fc.integer() }), empty: fc.constant({}), none: fc.constant([]) }),
      fc.array(fc.record({ inner: long }), { maxLength: 3 }),
    );
    fc.assert(fc.property(value, (v) => joined(v) === JSON.stringify(v, null, 2)), { numRuns: 200 });
  });

  it('keeps what JSON.stringify does with dates, undefined, functions and nulls in a long array', () => {
    const v = { daemon: { pid: 1, gone: undefined }, reconciler: { servers: [...Array.from({ length: 2 * BATCH + 3 }, (_, i) => status(i)), undefined, null] } };
    expect(joined(v)).toBe(JSON.stringify(v, null, 2));
  });

  it('pauses after every BATCH elements of a long array, and only there', () => {
    const pieces = [...jsonPieces({ servers: Array.from({ length: 5 * BATCH }, (_, i) => status(i)) })];
    expect(pieces.filter((p) => p === null)).toHaveLength(5);
    expect([...jsonPieces({ servers: Array.from({ length: BATCH }, (_, i) => status(i)) })].filter((p) => p === null)).toHaveLength(0);
  });
});

describe('sendJsonStreamed', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(handler: (res: ServerResponse) => Promise<void>): Promise<number> {
    server = createServer((_req, res) => void handler(res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  function get(port: number, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path: '/' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it("answers sendJson's text while the event loop turns between batches", async () => {
    const value = { revision: 'abc', reconciler: { servers: Array.from({ length: 20 * BATCH }, (_, i) => status(i)) } };
    let turns = 0;
    let sent = false;
    const port = await serve(async (res) => {
      const tick = (): void => {
        if (sent) return;
        turns++;
        setImmediate(tick);
      };
      setImmediate(tick);
      await sendJsonStreamed(res, 200, value);
      sent = true;
    });
    const got = await get(port);
    expect(got.status).toBe(200);
    expect(got.type).toBe('application/json; charset=utf-8');
    expect(got.body).toBe(`${JSON.stringify(value, null, 2)}\n`);
    // One JSON.stringify and res.end would have answered before the first turn.
    expect(turns).toBeGreaterThanOrEqual(10);
  });

  it('stops writing when the client leaves, and HEAD gets the headers alone', async () => {
    const value = { servers: Array.from({ length: 200 * BATCH }, (_, i) => status(i)) };
    let finished: 'ended' | 'left' | undefined;
    const port = await serve(async (res) => {
      await sendJsonStreamed(res, 200, value);
      finished = res.writableEnded ? 'ended' : 'left';
    });
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.end();
    });
    await expect.poll(() => finished, { timeout: 10_000 }).toBe('left');
    const head = await get(port, 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
  });
});
