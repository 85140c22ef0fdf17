/**
 * The status page over the real HTTP server, fed with status data as the controller gives it:
 * hostile text escaped (a `<script>` planted in a transcript output stays text, in the HTML and in
 * a real Chromium), the token (bearer, or ?token= once → HttpOnly cookie), banners for a
 * mass-failure pause, a held revision and a refused manifest, the SSE stream, the bounded rings.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenTable } from '../../src/http/auth.ts';
import { PageLiveState, POINTS } from '../../src/http/page/live-state.ts';
import { TranscriptLog } from '../../src/reconcile/transcripts.ts';
import { renderServer } from '../../src/http/page/render.ts';
import { registerStatusPage } from '../../src/http/page/status-page.ts';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { HttpServer, type DaemonApi } from '../../src/http/server.ts';
import { silentLogger } from '../../src/log.ts';
import type { MassFailureEpisode } from '../../src/reconcile/types.ts';
import type { Transcript } from '../../src/runbook/execution.ts';
import type { DesiredStatus } from '../../src/source/desired.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const EVIL = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';
const NOW = Date.parse('2026-11-25T10:00:00Z');

function server(name: string, customer: string, states: Record<string, string>, open = false): ServerStatus {
  const services: ServerStatus['services'] = {};
  for (const [svc, state] of Object.entries(states)) services[svc] = { state, since: '2026-11-25T09:59:00.000Z', consecutiveFailures: state === 'Down' ? 2 : 0, lastProbe: { at: '2026-11-25T09:59:59.000Z', up: state === 'Healthy', latencyMs: 12 } };
  const failing = Object.values(states).some((s) => s !== 'Healthy');
  return {
    apiVersion: 'mamori/v1',
    kind: 'ServerStatus',
    metadata: { name, customer },
    observedRevision: 'abcdef1234567890',
    updatedAt: '2026-11-25T10:00:00.000Z',
    conditions: [
      { type: 'Ready', status: failing ? 'False' : 'True', reason: failing ? 'ServicesFailing' : 'AllServicesUp', message: failing ? `failing: http ${EVIL}` : 'every watched service answers', lastTransitionTime: '2026-11-25T09:59:00.000Z' },
      { type: 'ManifestInvalid', status: 'False', reason: 'ManifestValid', message: '', lastTransitionTime: '2026-11-25T09:00:00.000Z' },
    ],
    services,
    incidents: {
      open: open ? [{ id: `${name}.http.1`, service: 'http', openedAt: '2026-11-25T09:59:10.000Z', detectedAt: '2026-11-25T09:59:00.000Z', attempts: [{ n: 1, startedAt: '2026-11-25T09:59:11.000Z', finishedAt: '2026-11-25T09:59:30.000Z', verdict: 'VerifyFailed' }] }] : [],
      recent: [],
    },
  };
}

const transcript: Transcript = {
  runbook: 'std-httpd-el-sysv',
  origin: 'standard',
  server: 'web1',
  service: 'http',
  startedAt: '2026-11-25T09:59:11.000Z',
  finishedAt: '2026-11-25T09:59:30.000Z',
  verdict: 'VerifyFailed',
  message: 'http still does not answer',
  steps: [
    { id: 'restart-httpd', kind: 'run', command: '/etc/init.d/httpd restart', startedAt: '2026-11-25T09:59:12.000Z', finishedAt: '2026-11-25T09:59:20.000Z', exitCode: 1, output: `Starting httpd: ${EVIL} [FAILED]`, outcome: 'failed' },
  ],
  evidence: {},
  acted: true,
  powerActions: [],
};

const episode: MassFailureEpisode = { scope: { kind: 'network', value: '10.231.0.0/24' }, since: NOW - 60_000, down: 7, total: 9, servers: ['acme/web1', 'globex/web2'] };
const desired: DesiredStatus = {
  revision: 'abcdef1234567890',
  servers: 2,
  held: { revision: '0123456789abcdef', reason: 'Rollback', message: 'the new revision is older than the applied one', affected: [], since: '2026-11-25T09:00:00.000Z' },
  manifestInvalid: {
    web2: { type: 'ManifestInvalid', revision: 'ffff0000ffff0000', findings: [{ file: 'customers/globex/servers/web2.yaml', line: 7, col: 3, field: 'spec.address', message: `not an address ${EVIL}`, rule: 'schema', severity: 'error' }] },
  },
  findings: [],
};

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c();
  closers = [];
});

async function start(options: { token?: string; customerToken?: string; mass?: boolean } = {}): Promise<{ base: string; live: PageLiveState }> {
  const live = new PageLiveState();
  const transcripts = new TranscriptLog();
  transcripts.set('web1-http-1', transcript, 'acme/web1');
  for (let i = 0; i < 10; i++) live.onEvent({ type: 'probe', server: 'acme/web1', result: { service: 'ping', target: '10.0.0.1', up: i !== 5, latencyMs: 1 + i, startedAt: new Date(NOW - (10 - i) * 1000).toISOString() }, unknown: false });
  const api = { ready: () => ({ ready: true, checks: {} }), status: () => ({}) } as unknown as DaemonApi;
  const http = new HttpServer({ listen: '127.0.0.1:0', api, metrics: new MamoriMetrics({ defaultMetrics: false }), logger: silentLogger(),
    tokens: TokenTable.from([
      ...(options.token ? [{ scope: 'operator' as const, name: 'page', token: options.token }] : []),
      ...(options.customerToken ? [{ scope: 'customer' as const, customer: 'acme', name: 'acme-page', token: options.customerToken }] : []),
    ]),
  });
  registerStatusPage(http, {
    live,
    transcripts: (server, service) => transcripts.recent(server, service),
    snapshot: () => ({ revision: 'abcdef1234567890', servers: [server('web1', 'acme', { ping: 'Healthy', http: 'Down' }, true), server('web2', 'globex', { ping: 'Healthy', http: 'Healthy' })], massFailure: options.mass ? [episode] : [] }),
    desired: () => desired,
    source: () => undefined,
    logger: silentLogger(),
    now: () => NOW,
  });
  const address = await http.start();
  closers.push(async () => {
    live.close();
    await http.close();
  });
  return { base: `http://127.0.0.1:${address.port}`, live };
}

describe('status page over HTTP', () => {
  it('escapes hostile text everywhere: a <script> in a transcript stays text', async () => {
    const { base } = await start();
    const res = await fetch(`${base}/server?name=web1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'nonce-/);
    const body = await res.text();
    expect(body).toContain('Starting httpd: &lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt; [FAILED]');
    expect(body).not.toContain('<script>window.pwned');
    expect(body).not.toContain('<img src=x');
    expect(body).toContain('/etc/init.d/httpd restart');
    expect(body).toMatch(/exit <code>1<\/code>/);
    const fleet = await (await fetch(`${base}/`)).text();
    expect(fleet).not.toContain('<script>window.pwned');
    expect(fleet).toContain('not an address &lt;script&gt;');
  });

  it('in Chromium the planted script never runs and reads as text', async () => {
    const { base } = await start();
    const dir = mkdtempSync(join(tmpdir(), 'mamori-chromium-'));
    const ctx = await chromium.launchPersistentContext(dir, {
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    });
    closers.push(async () => {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${base}/server?name=web1`);
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    expect(await page.locator('pre.out').first().innerText()).toContain('<script>window.pwned=1</script>');
    await page.goto(`${base}/`);
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
  }, 60_000);

  it('shows a mass-failure pause, a held revision and a refused manifest as alerts', async () => {
    const { base } = await start({ mass: true });
    const body = await (await fetch(`${base}/`)).text();
    const alerts = body.split('role="alert"').length - 1;
    expect(alerts).toBe(3);
    expect(body).toContain('Remediation paused: mass failure');
    expect(body).toContain('7 of 9 servers failing in network 10.231.0.0/24');
    expect(body).toContain('Revision 0123456789ab held (Rollback)');
    expect(body).toContain('mamori confirm 0123456789ab');
    expect(body).toContain('A manifest was refused');
    // The picture of it, for people (test-artifacts/ is kept by CI).
    const dir = mkdtempSync(join(tmpdir(), 'mamori-chromium-'));
    const ctx = await chromium.launchPersistentContext(dir, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1360, height: 720 } });
    closers.push(async () => {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${base}/`);
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'status-page-banners.png'), fullPage: true });
    expect(await page.locator('[role="alert"]').count()).toBe(3);
  }, 60_000);

  it('writes the state in words beside the colour, and filters by customer', async () => {
    const { base } = await start();
    const body = await (await fetch(`${base}/`)).text();
    expect(body).toMatch(/data-server="acme\/web1" data-service="http" data-state="Down"[^>]*>[\s\S]*?<span class="state">Down<\/span>/);
    const acme = await (await fetch(`${base}/?customer=acme`)).text();
    expect(acme).toContain('<tr data-server="acme/web1"');
    expect(acme).not.toContain('<tr data-server="globex/web2"');
  });

  it('with a token: refused without it, a ?token= sets an HttpOnly cookie, a bearer works; transcripts only with it', async () => {
    const { base } = await start({ token: 'page-token-0123456789' });
    const plain = await fetch(`${base}/server?name=web1`);
    expect(plain.status).toBe(401);
    const refused = await plain.text();
    expect(refused).not.toContain('web1');
    expect(refused).not.toContain('httpd');
    expect((await fetch(`${base}/?token=wrong`)).status).toBe(401);
    expect((await fetch(`${base}/events`)).status).toBe(401);

    const login = await fetch(`${base}/server?name=web1&token=page-token-0123456789`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/server?name=web1');
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^mamori_token=page-token-0123456789; HttpOnly; SameSite=Strict; Path=\//);
    const withCookie = await fetch(`${base}/server?name=web1`, { headers: { cookie: cookie.split(';')[0] as string } });
    expect(withCookie.status).toBe(200);
    expect(await withCookie.text()).toContain('/etc/init.d/httpd restart');
    const bearer = await fetch(`${base}/?fragment=1`, { headers: { authorization: 'Bearer page-token-0123456789' } });
    expect(bearer.status).toBe(200);
    expect(((await bearer.json()) as { main: string }).main).toContain('web1');
  });

  it("with a customer's token: the page, its fragment, a server page and the events hold that customer's servers only", async () => {
    const { base } = await start({ token: 'page-token-0123456789', customerToken: 'acme-page-token-0123456789', mass: true });
    const auth = { authorization: 'Bearer acme-page-token-0123456789' };
    const bodies: string[] = [];
    for (const path of ['/', '/?fragment=1', '/?customer=globex', '/server?name=web1', '/server?name=web1&fragment=1', '/server?name=web2']) {
      const r = await fetch(`${base}${path}`, { headers: auth });
      expect(r.status, path).toBe(200);
      bodies.push(await r.text());
    }
    const all = bodies.join('\n');
    expect(all).toContain('web1');
    expect(all).toContain('/etc/init.d/httpd restart');
    // Nothing of globex: not its name, its server, nor the operator's held revision (it lists the fleet's changes).
    expect(all.match(/[\s\S]{0,80}(globex|web2)[\s\S]{0,40}/)?.[0]).toBeUndefined();
    expect(all).not.toContain('0123456789ab');
    expect(bodies[5]).toContain('No server of that name is watched here.');
    // The operator's token sees both customers and the held revision.
    const op = await (await fetch(`${base}/`, { headers: { authorization: 'Bearer page-token-0123456789' } })).text();
    expect(op).toContain('globex');
    expect(op).toContain('0123456789ab');
  });

  it('hides transcripts from a view without the token', () => {
    const data = {
      now: NOW,
      servers: [server('web1', 'acme', { http: 'Down' }, true)],
      massFailure: [],
      latencies: () => [],
      transcripts: () => [transcript],
    };
    const shown = renderServer(data, 'web1', { showTranscripts: true, version: 1 }).value;
    const hidden = renderServer(data, 'web1', { showTranscripts: false, version: 1 }).value;
    expect(shown).toContain('/etc/init.d/httpd restart');
    expect(hidden).not.toContain('/etc/init.d/httpd restart');
    expect(hidden).not.toContain('Starting httpd');
    expect(hidden).toContain('Transcripts are shown with the page token.');
  });

  it("shows an incident's time to recovery phase by phase, in the reader's language", () => {
    const s = server('web1', 'acme', { http: 'Healthy' });
    s.incidents.recent = [
      {
        id: 'acme/web1.http.2',
        service: 'http',
        detectedAt: '2026-11-25T09:58:00.000Z',
        openedAt: '2026-11-25T09:58:02.300Z',
        attempts: [
          {
            n: 1,
            startedAt: '2026-11-25T09:58:02.400Z',
            finishedAt: '2026-11-25T09:58:03.900Z',
            verdict: 'Recovered',
            steps: [
              { id: 'login', startedAt: '2026-11-25T09:58:02.400Z', finishedAt: '2026-11-25T09:58:02.700Z', outcome: 'ok' },
              { id: 'restart-httpd', startedAt: '2026-11-25T09:58:02.700Z', finishedAt: '2026-11-25T09:58:03.500Z', outcome: 'ok' },
            ],
            confirmedAt: '2026-11-25T09:58:03.800Z',
          },
        ],
        closedAt: '2026-11-25T09:58:03.900Z',
        closeReason: 'recovered',
      },
    ];
    const data = { now: NOW, servers: [s], massFailure: [], latencies: () => [], transcripts: () => [] };
    const en = renderServer(data, 'web1', { showTranscripts: false, version: 1, lang: 'en' }).value;
    expect(en).toContain('Time to recovery, phase by phase');
    const rows = [...en.matchAll(/<tr class="ph-([a-z-]+)"><td class="num">\+([\d.]+) s<\/td><td>([^<]*)<\/td>/g)].map((m) => [m[1], m[2], m[3]]);
    expect(rows).toEqual([
      ['first-failing-probe', '0.0', 'first failing probe'],
      ['confirmed-down', '2.3', 'confirmed Down'],
      ['runbook-started', '2.4', 'runbook started #1'],
      ['step', '2.4', 'step login (ok), 0.3 s'],
      ['step', '2.7', 'step restart-httpd (ok), 0.8 s'],
      ['recovery-confirmed', '3.8', 'outside probe confirmed the recovery'],
      ['runbook-finished', '3.9', 'runbook finished #1 (Recovered)'],
      ['closed', '3.9', 'closed (recovered)'],
    ]);
    const ja = renderServer(data, 'web1', { showTranscripts: false, version: 1, lang: 'ja' }).value;
    expect(ja).toContain('復旧までの経過');
    expect(ja).toContain('外部からの監視で復旧を確認');
  });

  it('streams "update" over SSE when something changes', async () => {
    const { base, live } = await start();
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(`${base}/events`, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        let got = '';
        res.on('data', (chunk: Buffer) => {
          got += chunk.toString('utf8');
          if (got.includes('event: hello')) live.changed('test');
          if (got.includes('event: update')) {
            req.destroy();
            resolve(got);
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(text).toMatch(/event: update\ndata: \{"version":\d+\}/);
  });

  it('keeps a bounded ring of latencies per service, failures as gaps', () => {
    const live = new PageLiveState();
    for (let i = 0; i < POINTS * 3; i++) live.onEvent({ type: 'probe', server: 's', result: { service: 'http', target: 'x', up: i % 7 !== 0, latencyMs: i, startedAt: new Date(NOW + i).toISOString() }, unknown: false });
    const ring = live.latencies('s', 'http');
    expect(ring).toHaveLength(POINTS);
    expect(ring[ring.length - 1]?.ms).toBe(POINTS * 3 - 1);
    // Oldest first, each point with its probe's time; a failure is a null latency.
    expect(ring.map((p) => p.at)).toEqual(Array.from({ length: POINTS }, (_, k) => NOW + POINTS * 2 + k));
    expect(ring.map((p) => p.ms)).toEqual(Array.from({ length: POINTS }, (_, k) => ((POINTS * 2 + k) % 7 === 0 ? null : POINTS * 2 + k)));
    expect(ring.filter((p) => p.ms === null).length).toBeGreaterThan(0);
    live.retain(new Set());
    expect(live.latencies('s', 'http')).toHaveLength(0);
    live.close();
  });

  it("keeps every service its newest points in one log as it grows and wraps, and a removed server's slots for the next", () => {
    const live = new PageLiveState();
    const servers = Array.from({ length: 40 }, (_, i) => `c/s${i}`);
    const services = ['ping', 'http', 'ssh'] as const;
    const probe = (server: string, service: (typeof services)[number], round: number, up = true): void =>
      // `at` is the controller's start time: the ISO string is not read when it is there.
      live.onEvent({ type: 'probe', server, result: { service, target: 'x', up, latencyMs: round, startedAt: 'not a time' }, unknown: false, at: NOW + round * 1000 });
    for (let round = 0; round < POINTS * 3; round++) {
      for (const server of servers) for (const service of services) probe(server, service, round, round % 11 !== 0);
      // One service probed twice as often (a retry): the others keep their POINTS newest all the same.
      probe('c/s7', 'http', round);
    }
    const newest = Array.from({ length: POINTS }, (_, k) => POINTS * 2 + k);
    for (const server of servers) {
      for (const service of services) {
        if (server === 'c/s7' && service === 'http') continue;
        const points = live.latencies(server, service);
        expect(points.map((p) => p.at)).toEqual(newest.map((r) => NOW + r * 1000));
        expect(points.map((p) => p.ms)).toEqual(newest.map((r) => (r % 11 === 0 ? null : r)));
      }
    }
    // Its two points a round: the newest POINTS are the last POINTS / 2 rounds'.
    expect(live.latencies('c/s7', 'http').map((p) => p.at)).toEqual(newest.slice(POINTS / 2).flatMap((r) => [NOW + r * 1000, NOW + r * 1000]));
    expect(live.latencies('c/s1', 'smtp')).toEqual([]);
    expect(live.latencies('c/nosuch', 'ping')).toEqual([]);
    // A server that left loses its points; a new one (in its freed slots) starts with none of them.
    live.retain(new Set(servers.slice(1)));
    expect(live.latencies('c/s0', 'ping')).toEqual([]);
    probe('c/new', 'ping', 1000);
    expect(live.latencies('c/new', 'ping')).toEqual([{ at: NOW + 1_000_000, ms: 1000 }]);
    expect(live.latencies('c/s1', 'ping')).toHaveLength(POINTS);
    live.close();
  });

  it('never shows a point the log overwrote, also after it grew', () => {
    const live = new PageLiveState();
    let t = NOW;
    const probe = (server: string, ms: number): void => live.onEvent({ type: 'probe', server, result: { service: 'ping', target: 'x', up: true, latencyMs: ms, startedAt: '' }, unknown: false, at: ++t });
    const others = Array.from({ length: 16 }, (_, i) => `c/o${i}`);
    // A service probed once early and once later; enough of the others' points between and after
    // that the log (a few thousand entries for 17 services) wraps past its first point only.
    probe('c/rare', 1);
    for (let i = 0; i < 1000; i++) probe(others[i % others.length] as string, 2);
    probe('c/rare', 3);
    for (let i = 0; i < 1500; i++) probe(others[i % others.length] as string, 2);
    expect(live.latencies('c/rare', 'ping').map((p) => p.ms)).toEqual([3]);
    // Many new services: the log grows (its capacity follows the services); the overwritten point stays gone.
    for (let i = 0; i < 400; i++) probe(`c/new${i}`, 4);
    expect(live.latencies('c/rare', 'ping').map((p) => p.ms)).toEqual([3]);
    for (const p of live.latencies('c/o1', 'ping')) expect(p).toEqual({ at: expect.any(Number) as number, ms: 2 });
    expect(live.latencies('c/o1', 'ping')).toHaveLength(POINTS);
    live.close();
  });
});
