/**
 * `mamori agent` against a real HttpServer with the agents' door and a VantageBoard: the agent
 * fetches its targets with its token, probes real loopback ports, and its signed reports become
 * votes; a bad signature, a skewed clock, another vantage's name or a non-agent token are refused
 * and change nothing.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, signBody } from '../../src/agent/agent.ts';
import { registerAgentRoutes } from '../../src/http/agent-routes.ts';
import { TokenTable } from '../../src/http/auth.ts';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { HttpServer, type DaemonApi } from '../../src/http/server.ts';
import { silentLogger } from '../../src/log.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import { VantageBoard } from '../../src/reconcile/vantage-board.ts';
import type { DesiredServer } from '../../src/reconcile/types.ts';

const TOKEN_B = 'agent-b-token-0123456789abcdef';
const TOKEN_C = 'agent-c-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const api: DaemonApi = {
  ready: () => ({ ready: true, checks: {} }),
  status: () => ({}),
  fleet: () => ({ snapshot: undefined, desired: undefined }),
  resume: async () => ({}),
  reconcile: async () => ({}),
  confirm: async () => ({}),
  syncNow: () => undefined,
};

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

async function daemon(servers: Array<{ id: string; port: number }>) {
  const board = new VantageBoard(
    { self: { name: 'a', network: '10.231.101.0/24' }, remotes: [{ name: 'b', network: '10.232.101.0/24' }, { name: 'c', network: '10.233.101.0/24' }], power: 2, freshMs: 90_000, manyServers: 3 },
    { maxSkewMs: 30_000 },
  );
  const http = new HttpServer({
    listen: '127.0.0.1:0',
    api,
    metrics: new MamoriMetrics(),
    logger: silentLogger(),
    tokens: TokenTable.from([
      { scope: 'agent', name: 'agent-b', token: TOKEN_B },
      { scope: 'agent', name: 'agent-c', token: TOKEN_C },
      { scope: 'operator', name: 'op', token: OPERATOR },
    ]),
  });
  registerAgentRoutes(http, {
    board,
    agents: new Map([
      ['agent-b', { vantage: 'b', token: TOKEN_B }],
      ['agent-c', { vantage: 'c', token: TOKEN_C }],
    ]),
    targets: () => ({ intervalSeconds: 1, timeoutSeconds: 2, servers: servers.map((s) => ({ id: s.id, targets: [{ service: 'http', address: '127.0.0.1', port: s.port, timeoutMs: 2000 }] })) }),
    watched: (id) => servers.some((s) => s.id === id),
    now: () => Date.now(),
    logger: silentLogger(),
  });
  const address = await http.start();
  closers.push(() => http.close());
  return { board, base: `http://127.0.0.1:${address.port}` };
}

const desired = (id: string): DesiredServer => ({ name: id, address: '127.0.0.1', services: ['http'], suspend: false, maintenance: [] });
const policy = policyFromConfig({});

async function post(base: string, token: string, body: string, signature: string | undefined): Promise<{ status: number; text: string }> {
  const r = await fetch(`${base}/api/observations`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(signature !== undefined ? { 'x-mamori-signature': signature } : {}) }, body });
  return { status: r.status, text: await r.text() };
}

describe('mamori agent and the daemon\'s door', () => {
  it('fetches its targets, probes real ports and its signed report becomes each vantage\'s vote', async () => {
    const web = createHttpServer((_req, res) => res.end('ok'));
    const upPort = await listen(web);
    // A port that refuses: a listener closed again.
    const gone = createTcpServer();
    const downPort = await listen(gone);
    await new Promise<void>((r) => gone.close(() => r()));
    closers.pop();
    const { board, base } = await daemon([
      { id: 'acme/up', port: upPort },
      { id: 'acme/down', port: downPort },
    ]);
    const agent = new Agent({ daemon: base, vantage: 'b', token: TOKEN_B, logger: silentLogger(), once: true });
    const round = await agent.round();
    expect(round).toEqual({ reported: 2, failed: 0 });
    const now = Date.now();
    const up = board.contextFor(desired('acme/up'), undefined, undefined, now, 2, policy).reports.http ?? [];
    const down = board.contextFor(desired('acme/down'), undefined, undefined, now, 2, policy).reports.http ?? [];
    expect(up.map((o) => [o.vantage, o.up])).toEqual([['b', true]]);
    expect(down.map((o) => [o.vantage, o.up, o.failureKind])).toEqual([['b', false, 'refused']]);
    expect(board.status(now).find((v) => v.name === 'b')?.lost).toBe(false);
    expect(board.status(now).find((v) => v.name === 'c')?.lost).toBe(true);
  });

  it('refuses a bad signature, a skewed clock, another vantage\'s name and a non-agent token: no vote', async () => {
    const { board, base } = await daemon([{ id: 'acme/web', port: 1 }]);
    const report = (vantage: string, sentAt: number) => JSON.stringify({ vantage, sentAt, observations: [{ server: 'acme/web', service: 'http', up: false, at: sentAt - 10 }] });
    const good = report('b', Date.now());
    expect((await post(base, TOKEN_B, good, undefined)).status).toBe(401);
    expect((await post(base, TOKEN_B, good, signBody(TOKEN_C, good))).status).toBe(401);
    // Signed right, but the body was changed after signing.
    expect((await post(base, TOKEN_B, good.replace('false', 'true'), signBody(TOKEN_B, good))).status).toBe(401);
    const skewed = report('b', Date.now() - 120_000);
    const r = await post(base, TOKEN_B, skewed, signBody(TOKEN_B, skewed));
    expect(r.status).toBe(422);
    expect(r.text).toContain('NTP');
    const impostor = report('c', Date.now());
    expect((await post(base, TOKEN_B, impostor, signBody(TOKEN_B, impostor))).status).toBe(422);
    expect((await post(base, OPERATOR, good, signBody(OPERATOR, good))).status).toBe(403);
    expect(board.contextFor(desired('acme/web'), undefined, undefined, Date.now(), 1, policy).reports.http).toBeUndefined();
    // The same report, signed by its own token: taken.
    const ok = await post(base, TOKEN_B, good, signBody(TOKEN_B, good));
    expect(ok.status).toBe(202);
    expect(JSON.parse(ok.text)).toMatchObject({ accepted: 1, dropped: 0 });
  });

  it('drops observations for servers not watched, and stale ones: no vote', async () => {
    const { board, base } = await daemon([{ id: 'acme/web', port: 1 }]);
    const now = Date.now();
    const body = JSON.stringify({
      vantage: 'b',
      sentAt: now,
      observations: [
        { server: 'globex/other', service: 'http', up: false, at: now },
        { server: 'acme/web', service: 'http', up: false, at: now - 200_000 },
      ],
    });
    const r = await post(base, TOKEN_B, body, signBody(TOKEN_B, body));
    expect(JSON.parse(r.text)).toMatchObject({ accepted: 0, dropped: 2 });
    expect(board.contextFor(desired('acme/web'), undefined, undefined, now, 1, policy).reports.http).toBeUndefined();
  });

  it('an agent whose daemon refuses it says so and fails its round', async () => {
    const { base } = await daemon([]);
    const agent = new Agent({ daemon: base, vantage: 'b', token: 'not-a-known-token-0123456789', logger: silentLogger(), once: true });
    await expect(agent.round()).rejects.toThrow(/401/);
  });
});
