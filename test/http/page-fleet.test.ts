/**
 * The status page at fleet size over the real HTTP server (issue 28): a synthetic status of
 * thousands of servers (test/support/synthetic-fleet.ts). The page holds one bounded page of rows,
 * the servers in trouble first; its size does not grow with the fleet; search, state and customer
 * filters run on the server over the whole fleet (the page's ?q=/?state=/?page= and
 * GET /api/servers with limits); hostile search text is text, never a pattern. In Debian's Chromium,
 * typing into the search box shows a server from the fleet's last page without a navigation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenTable } from '../../src/http/auth.ts';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../src/http/fleet-query.ts';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { PageLiveState } from '../../src/http/page/live-state.ts';
import { registerStatusPage } from '../../src/http/page/status-page.ts';
import { HttpServer, type DaemonApi } from '../../src/http/server.ts';
import { silentLogger } from '../../src/log.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { syntheticFleet, syntheticTrouble } from '../support/synthetic-fleet.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const NOW = Date.parse('2026-11-25T10:00:00Z');
const OP = { authorization: 'Bearer op-token-0123456789' };

interface Served {
  base: string;
  close(): Promise<void>;
}

async function serve(servers: ServerStatus[]): Promise<Served> {
  const live = new PageLiveState();
  const snapshot = { revision: '0123456789abcdef', servers, massFailure: [] };
  const api = { ready: () => ({ ready: true, checks: {} }), status: () => ({}), fleet: () => ({ snapshot, desired: undefined }) } as unknown as DaemonApi;
  const http = new HttpServer({
    listen: '127.0.0.1:0',
    api,
    metrics: new MamoriMetrics({ defaultMetrics: false }),
    logger: silentLogger(),
    tokens: TokenTable.from([
      { scope: 'operator', name: 'op', token: 'op-token-0123456789' },
      { scope: 'customer', customer: 'c37', name: 'c37', token: 'c37-token-0123456789' },
    ]),
  });
  registerStatusPage(http, { live, snapshot: () => snapshot, transcripts: () => [], desired: () => undefined, source: () => undefined, logger: silentLogger(), now: () => NOW });
  const address = await http.start();
  return {
    base: `http://127.0.0.1:${address.port}`,
    close: async () => {
      live.close();
      await http.close();
    },
  };
}

const rowsOf = (body: string): string[] => [...body.matchAll(/<tr data-server="([^"]+)"/g)].map((m) => m[1] as string);
const get = async (url: string, headers: Record<string, string> = OP): Promise<string> => {
  const r = await fetch(url, { headers });
  expect(r.status, url).toBe(200);
  return r.text();
};

let big: Served;
let bigger: Served;
const N = 3000;

beforeAll(async () => {
  big = await serve(syntheticFleet(N, NOW));
  bigger = await serve(syntheticFleet(3 * N, NOW));
});
afterAll(async () => {
  await big?.close();
  await bigger?.close();
});

describe('the status page at fleet size', () => {
  it('holds one bounded page of rows, the servers in trouble first, and does not grow with the fleet', async () => {
    const body = await get(`${big.base}/`);
    const rows = rowsOf(body);
    expect(rows).toHaveLength(DEFAULT_LIMIT);
    // 30 servers in trouble (index ≡ 37 mod 100), worst first: Escalated, Down, Remediating, then Suspect.
    const troubled = Array.from({ length: N }, (_, i) => i).filter((i) => syntheticTrouble(i) !== undefined);
    expect(troubled).toHaveLength(30);
    const order = ['Escalated', 'Down', 'Remediating', 'Suspect'];
    const states = rows.slice(0, 30).map((id) => syntheticTrouble(Number(id.slice(id.indexOf('/s') + 2))));
    expect(states.every((s) => s !== undefined)).toBe(true);
    expect(states.map((s) => order.indexOf(s as string))).toEqual([...states.map((s) => order.indexOf(s as string))].sort((a, b) => a - b));
    expect(syntheticTrouble(Number((rows[30] as string).split('/s')[1]))).toBeUndefined();
    // The counts are of the whole fleet, the pager says where we are.
    expect(body).toContain(`<span class="num">${N}</span><span class="lbl">servers</span>`);
    expect(body).toContain(`data-matched="${N}" data-page="1" data-pages="${N / DEFAULT_LIMIT}"`);
    // Three times the fleet: the same number of rows and (but for a few digits) the same bytes.
    const large = await get(`${bigger.base}/`);
    expect(rowsOf(large)).toHaveLength(DEFAULT_LIMIT);
    expect(Math.abs(large.length - body.length)).toBeLessThan(body.length * 0.05);
    const fragment = JSON.parse(await get(`${bigger.base}/?fragment=1`)) as { main: string };
    expect(rowsOf(fragment.main)).toHaveLength(DEFAULT_LIMIT);
  });

  it('pages through the rest: the last page, a page past the end clamped to it, every server once', async () => {
    const seen = new Set<string>();
    for (let p = 1; p <= N / DEFAULT_LIMIT; p++) for (const id of rowsOf(await get(`${big.base}/?page=${p}`))) seen.add(id);
    expect(seen.size).toBe(N);
    const last = await get(`${big.base}/?page=${N / DEFAULT_LIMIT}`);
    expect(await get(`${big.base}/?page=9999`)).toContain(`data-page="${N / DEFAULT_LIMIT}"`);
    expect(last).toMatch(/rel="prev"/);
    expect(last).not.toMatch(/rel="next"/);
    expect(await get(`${big.base}/?page=abc`)).toContain('data-page="1"');
  });

  it('search, state and customer run over the whole fleet on the server; search text is text, not a pattern', async () => {
    // s2999 sorts on the last page; the search finds it from the first.
    expect(rowsOf(await get(`${big.base}/?q=C99/S2999`))).toEqual(['c99/s2999']);
    expect(rowsOf(await get(`${big.base}/?q=s299`)).sort()).toEqual(['c90/s2990', 'c91/s2991', 'c92/s2992', 'c93/s2993', 'c94/s2994', 'c95/s2995', 'c96/s2996', 'c97/s2997', 'c98/s2998', 'c99/s2999', 'c99/s299'].sort());
    const down = rowsOf(await get(`${big.base}/?state=Down`));
    expect(down.length).toBeGreaterThan(0);
    expect(down.every((id) => syntheticTrouble(Number(id.split('/s')[1])) === 'Down')).toBe(true);
    expect(rowsOf(await get(`${big.base}/?state=problems`))).toHaveLength(30);
    const c37 = rowsOf(await get(`${big.base}/?customer=c37&q=s1`));
    expect(c37.length).toBeGreaterThan(0);
    expect(c37.every((id) => id.startsWith('c37/s1'))).toBe(true);
    // A pattern that backtracks catastrophically as a regex: here a plain substring, no match, at once.
    const evil = encodeURIComponent(`(a+)+$<script>${'a'.repeat(40)}`);
    const t = performance.now();
    const body = await get(`${big.base}/?q=${evil}`);
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(rowsOf(body)).toEqual([]);
    expect(body).toContain('No server matches this search.');
    expect(body).not.toContain('<script>a');
    expect(body).toContain('value="(a+)+$&lt;script&gt;');
  });

  it('GET /api/servers: bounded pages, the same query, bad parameters named, a customer sees their own servers only', async () => {
    const page = (await (await fetch(`${big.base}/api/servers?state=problems&limit=10&offset=5`, { headers: OP })).json()) as { total: number; matched: number; problems: number; offset: number; limit: number; servers: ServerStatus[] };
    expect(page).toMatchObject({ total: N, matched: 30, problems: 30, offset: 5, limit: 10 });
    expect(page.servers).toHaveLength(10);
    const all = (await (await fetch(`${big.base}/api/servers`, { headers: OP })).json()) as { servers: ServerStatus[] };
    expect(all.servers).toHaveLength(DEFAULT_LIMIT);
    for (const [query, field] of [
      [`limit=${MAX_LIMIT + 1}`, 'limit'],
      ['limit=0', 'limit'],
      ['offset=-1', 'offset'],
      ['state=Broken', 'state'],
      [`q=${'x'.repeat(65)}`, 'q'],
    ] as const) {
      const r = await fetch(`${big.base}/api/servers?${query}`, { headers: OP });
      expect(r.status, query).toBe(400);
      expect(JSON.stringify(await r.json()), query).toContain(field);
    }
    const mine = (await (await fetch(`${big.base}/api/servers?limit=${MAX_LIMIT}&q=c38`, { headers: { authorization: 'Bearer c37-token-0123456789' } })).json()) as { total: number; customer: string; servers: ServerStatus[] };
    expect(mine.customer).toBe('c37');
    expect(mine.total).toBe(N / 100);
    expect(mine.servers).toEqual([]);
    expect((await fetch(`${big.base}/api/servers`)).status).toBe(401);
  });

  it('in Chromium: typing in the search box shows a server of the last page, no navigation, the box keeps its text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-page-fleet-'));
    let ctx: BrowserContext | undefined;
    try {
      ctx = await chromium.launchPersistentContext(dir, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 } });
      await ctx.addCookies([{ name: 'mamori_token', value: 'op-token-0123456789', url: big.base }]);
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await page.goto(`${big.base}/`);
      expect(await page.locator('tr[data-server]').count()).toBe(DEFAULT_LIMIT);
      // A real navigation would lose this (history.replaceState, which the search uses, does not).
      await page.evaluate('window.stayed = true');
      await page.locator('#find-q').pressSequentially('s2999', { delay: 20 });
      await expect.poll(() => page.locator('tr[data-server]').count(), { timeout: 20_000, interval: 100 }).toBe(1);
      expect(await page.locator('tr[data-server]').getAttribute('data-server')).toBe('c99/s2999');
      expect(await page.locator('#find-q').inputValue()).toBe('s2999');
      expect(new URL(page.url()).searchParams.get('q')).toBe('s2999');
      expect(await page.evaluate('window.stayed === true')).toBe(true);
      // The state filter from the summary: only servers with a Down service.
      await page.goto(`${big.base}/`);
      await page.locator('a.stat.st-down').first().click();
      await page.waitForURL(/state=Down/);
      const ids = await page.locator('tr[data-server]').evaluateAll((els) => els.map((e) => e.getAttribute('data-server') ?? ''));
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.every((id) => syntheticTrouble(Number(id.split('/s')[1])) === 'Down')).toBe(true);
    } finally {
      await ctx?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
