/**
 * The router of the local API among replicas (src/daemon/replica-routing.ts) against real HTTP
 * peers on the loopback: what a forward carries (the caller's token, or this replica's for a
 * socket client; who forwarded it), that a forwarded request is never forwarded again, the retry
 * while two views of the membership disagree, and how fleet-wide answers are put together.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaRouter, type RoutingCluster } from '../../src/daemon/replica-routing.ts';
import { isMamoriError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import type { ReconcileSummary } from '../../src/reconcile/loop-types.ts';

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A peer that records what it is sent and answers with `answer(path, body, n)`. */
async function peer(answer: (path: string, body: Record<string, unknown>, n: number) => { status: number; body: unknown }): Promise<{ api: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const a = answer(req.url ?? '', body, seen.length);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return { api: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function router(cluster: { ownerOf?: RoutingCluster['ownerOf']; peers: Array<{ replica: string; api: string }> }, token: string | null = 'own-operator-token-0123456789'): ReplicaRouter {
  const full: RoutingCluster = {
    replica: 'a',
    ownerOf: cluster.ownerOf ?? (() => 'a'),
    apiOf: (r) => cluster.peers.find((p) => p.replica === r)?.api,
    peers: () => cluster.peers,
  };
  return new ReplicaRouter({ cluster: full, operatorToken: async () => token ?? undefined, logger: silentLogger(), notOwnerWaitMs: 10 });
}

const summary = (servers: number, failing: string[] = []): ReconcileSummary => ({ dryRun: true, servers, probes: servers * 2, unknownProbes: 0, failing, actions: { probe: servers }, runbooks: [], paused: [] });

describe('replica routing', () => {
  it('resume of a server this replica owns runs here, and nothing is forwarded', async () => {
    const b = await peer(() => ({ status: 500, body: {} }));
    const r = router({ ownerOf: () => 'a', peers: [{ replica: 'b', api: b.api }] });
    const out = await r.resume('acme/web1', 'http', {}, async () => ({ server: 'acme/web1', resumed: ['http'] }));
    expect(out).toEqual({ server: 'acme/web1', resumed: ['http'], replica: 'a' });
    expect(b.seen).toEqual([]);
  });

  it('resume of another’s server goes to its owner with the caller’s own token and who forwarded it', async () => {
    const b = await peer(() => ({ status: 200, body: { ok: true, result: { server: 'acme/web1', resumed: ['http'], replica: 'b' } } }));
    const r = router({ ownerOf: () => 'b', peers: [{ replica: 'b', api: b.api }] });
    let ranHere = false;
    const out = await r.resume('acme/web1', 'http', { token: 'callers-token-0123456789' }, async () => {
      ranHere = true;
      return { server: 'acme/web1', resumed: [] };
    });
    expect(ranHere).toBe(false);
    expect(out).toEqual({ server: 'acme/web1', resumed: ['http'], replica: 'b' });
    expect(b.seen).toHaveLength(1);
    expect(b.seen[0]?.path).toBe('/api/resume');
    expect(b.seen[0]?.body).toEqual({ server: 'acme/web1', service: 'http' });
    expect(b.seen[0]?.headers.authorization).toBe('Bearer callers-token-0123456789');
    expect(b.seen[0]?.headers['x-mamori-forwarded-by']).toBe('a');
    expect(b.seen[0]?.headers['content-type']).toBe('application/json');
  });

  it('a socket client’s resume is forwarded with this replica’s operator token; without one it is refused, naming why', async () => {
    const b = await peer(() => ({ status: 200, body: { ok: true, result: { server: 'acme/web1', resumed: [], replica: 'b' } } }));
    await router({ ownerOf: () => 'b', peers: [{ replica: 'b', api: b.api }] }).resume('acme/web1', undefined, {}, async () => ({ server: 'acme/web1', resumed: [] }));
    expect(b.seen[0]?.headers.authorization).toBe('Bearer own-operator-token-0123456789');
    expect(b.seen[0]?.body).toEqual({ server: 'acme/web1' });
    const err = await router({ ownerOf: () => 'b', peers: [{ replica: 'b', api: b.api }] }, null)
      .resume('acme/web1', undefined, {}, async () => ({ server: 'acme/web1', resumed: [] }))
      .catch((e: unknown) => e);
    expect(isMamoriError(err, 'MAMORI_CLUSTER_PEER_UNREACHABLE')).toBe(true);
    expect((err as Error).message).toMatch(/operator token/);
    expect(b.seen).toHaveLength(1);
  });

  it('a forwarded request for a server this replica does not own is refused, never forwarded again', async () => {
    const b = await peer(() => ({ status: 200, body: { ok: true, result: {} } }));
    const r = router({ ownerOf: () => 'b', peers: [{ replica: 'b', api: b.api }] });
    const err = await r.resume('acme/web1', 'http', { token: 't'.repeat(20), forwardedBy: 'c' }, async () => ({ server: 'acme/web1', resumed: [] })).catch((e: unknown) => e);
    expect(isMamoriError(err, 'MAMORI_CLUSTER_NOT_OWNER')).toBe(true);
    expect(b.seen).toEqual([]);
    // Fleet-wide commands forwarded to us run here only.
    const s = await r.reconcile(true, { token: 't'.repeat(20), forwardedBy: 'c' }, async () => summary(2));
    expect(s).toEqual(summary(2));
    expect(b.seen).toEqual([]);
  });

  it('the owner’s view lags: a not-owner refusal is asked again until the views agree (bounded)', async () => {
    const b = await peer((_p, _b, n) => (n < 3 ? { status: 409, body: { ok: false, code: 'MAMORI_CLUSTER_NOT_OWNER', error: 'not mine' } } : { status: 200, body: { ok: true, result: { server: 'acme/web1', resumed: ['http'], replica: 'b' } } }));
    const r = router({ ownerOf: () => 'b', peers: [{ replica: 'b', api: b.api }] });
    expect((await r.resume('acme/web1', 'http', {}, async () => ({ server: 'acme/web1', resumed: [] }))).replica).toBe('b');
    expect(b.seen).toHaveLength(3);
    // Never forever.
    const stuck = await peer(() => ({ status: 409, body: { ok: false, code: 'MAMORI_CLUSTER_NOT_OWNER', error: 'not mine' } }));
    const err = await router({ ownerOf: () => 'c', peers: [{ replica: 'c', api: stuck.api }] })
      .resume('acme/web1', 'http', {}, async () => ({ server: 'acme/web1', resumed: [] }))
      .catch((e: unknown) => e);
    expect(isMamoriError(err, 'MAMORI_CLUSTER_NOT_OWNER')).toBe(true);
    expect(stuck.seen).toHaveLength(9);
  });

  it('the owner’s refusal comes back with its code and words; an owner that does not answer is named', async () => {
    const b = await peer(() => ({ status: 400, body: { ok: false, code: 'MAMORI_CLI_USAGE', error: 'no server acme/web9 in the manifests' } }));
    const err = await router({ ownerOf: () => 'b', peers: [{ replica: 'b', api: b.api }] })
      .resume('acme/web9', undefined, {}, async () => ({ server: 'acme/web9', resumed: [] }))
      .catch((e: unknown) => e);
    expect(isMamoriError(err, 'MAMORI_CLI_USAGE')).toBe(true);
    expect((err as Error).message).toBe('replica b: no server acme/web9 in the manifests');
    const gone = await router({ ownerOf: () => 'b', peers: [{ replica: 'b', api: 'http://127.0.0.1:1' }] })
      .resume('acme/web1', undefined, {}, async () => ({ server: 'acme/web1', resumed: [] }))
      .catch((e: unknown) => e);
    expect(isMamoriError(gone, 'MAMORI_CLUSTER_PEER_UNREACHABLE')).toBe(true);
    expect((gone as Error).message).toMatch(/^replica b did not answer on http:\/\/127\.0\.0\.1:1/);
  });

  it('reconcile --once runs on every replica and adds their summaries; one that fails is named', async () => {
    const b = await peer(() => ({ status: 200, body: { ok: true, result: summary(3, ['acme/web3']) } }));
    const c = await peer(() => ({ status: 500, body: { ok: false, error: 'internal error' } }));
    const r = router({ peers: [{ replica: 'b', api: b.api }, { replica: 'c', api: c.api }] });
    const s = await r.reconcile(true, { token: 'callers-token-0123456789' }, async () => summary(2, ['acme/web1']));
    expect(s).toMatchObject({ dryRun: true, servers: 5, probes: 10, failing: ['acme/web1', 'acme/web3'], actions: { probe: 5 } });
    expect(s.replicas).toEqual([
      { replica: 'a', ok: true, servers: 2 },
      { replica: 'b', ok: true, servers: 3 },
      { replica: 'c', ok: false, error: 'replica c refused the forwarded request (HTTP 500): internal error', code: 'MAMORI_CLUSTER_PEER_UNREACHABLE' },
    ]);
    expect(b.seen[0]?.body).toEqual({ dryRun: true });
    expect(b.seen[0]?.headers['x-mamori-forwarded-by']).toBe('a');
  });

  it('confirm goes to every replica: applied where held; not held anywhere is refused as such', async () => {
    const b = await peer(() => ({ status: 200, body: { ok: true, result: { result: 'applied', revision: 'abc1234def' } } }));
    const c = await peer(() => ({ status: 409, body: { ok: false, code: 'MAMORI_DAEMON_NOT_HELD', error: 'revision abc1234 is not waiting for confirmation' } }));
    const r = router({ peers: [{ replica: 'b', api: b.api }, { replica: 'c', api: c.api }] });
    const out = await r.confirm('abc1234', {}, async () => ({ result: 'applied', revision: 'abc1234def' }));
    expect(out.result).toBe('applied');
    expect(out.replicas?.map((p) => [p.replica, p.ok, p.result ?? p.code])).toEqual([
      ['a', true, 'applied'],
      ['b', true, 'applied'],
      ['c', false, 'MAMORI_DAEMON_NOT_HELD'],
    ]);
    const none = await router({ peers: [{ replica: 'c', api: c.api }] })
      .confirm('abc1234', {}, async () => {
        throw Object.assign(new Error('not held here'), { code: 'MAMORI_DAEMON_NOT_HELD' });
      })
      .catch((e: unknown) => e);
    expect(isMamoriError(none, 'MAMORI_DAEMON_NOT_HELD')).toBe(true);
    // A replica that could not be asked leaves it held there: not "applied".
    const down = await router({ peers: [{ replica: 'b', api: 'http://127.0.0.1:1' }] }).confirm('abc1234', {}, async () => ({ result: 'applied', revision: 'abc1234def' }));
    expect(down.result).toBe('partial');
  });
});
