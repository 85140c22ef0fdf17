/**
 * The status page at fleet size (issue 28): a synthetic status of N servers × 6 services (100
 * customers, 1 % of the servers in trouble — Down, Remediating, Escalated, Suspect — and a full
 * ring of latencies behind every sparkline) served by the real HTTP server and the real page
 * routes, read by Debian's Chromium. For each N of PAGE_SIZES (default 1000,10000):
 *   - `/` bytes and the server's time to answer (median of 5), the live fragment, `/api/servers`;
 *   - in Chromium: first contentful paint, largest contentful paint, DOMContentLoaded and load,
 *     the rows in the DOM and whether the first rows are the servers in trouble;
 *   - a search typed into the page's box for a server on the fleet's last page: time until the
 *     grid shows it (the search runs on the server over the whole fleet).
 * Goal (the issue): first paint ≤ 2 s at 10,000 servers. No lab, no daemon: only the HTTP side.
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Browser } from 'playwright-core';
import { MamoriMetrics } from '../src/http/metrics.ts';
import { PageLiveState, POINTS } from '../src/http/page/live-state.ts';
import { registerStatusPage } from '../src/http/page/status-page.ts';
import { HttpServer, type DaemonApi } from '../src/http/server.ts';
import { silentLogger } from '../src/log.ts';
import { syntheticFleet, SYNTHETIC_SERVICES as SERVICES } from '../test/support/synthetic-fleet.ts';

const SIZES = (process.env.PAGE_SIZES ?? '1000,10000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0 && n <= 50_000);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const GOAL_FCP_MS = 2000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function timedGet(url: string): Promise<{ ms: number; bytes: number; text: string }> {
  const t = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`page bench: ${url} answered ${res.status}: ${text.slice(0, 200)}`);
  return { ms: performance.now() - t, bytes: Buffer.byteLength(text), text };
}

async function served(url: string, times = 5): Promise<{ ms: number; bytes: number }> {
  const runs: Array<{ ms: number; bytes: number }> = [];
  for (let k = 0; k < times; k++) runs.push(await timedGet(url));
  return { ms: median(runs.map((r) => r.ms)), bytes: runs[0]?.bytes ?? 0 };
}

interface Paint {
  fcpMs: number;
  lcpMs: number;
  dclMs: number;
  loadMs: number;
  rows: number;
  firstRowsInTrouble: number;
}

async function paintOnce(browser: Browser, url: string): Promise<Paint> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await ctx.newPage();
    await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    // (Strings: the browser's code, not compiled against Node's types.)
    return (await page.evaluate(`new Promise((resolve) => {
      const nav = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      let lcp = NaN;
      new PerformanceObserver((l) => { for (const e of l.getEntries()) lcp = e.startTime; }).observe({ type: 'largest-contentful-paint', buffered: true });
      setTimeout(() => {
        const rows = [...document.querySelectorAll('tr[data-server]')];
        const troubled = rows.slice(0, 10).filter((r) => r.querySelector('td.cell:not([data-state="Healthy"])')).length;
        resolve({ fcpMs: fcp ? fcp.startTime : NaN, lcpMs: lcp, dclMs: nav ? nav.domContentLoadedEventEnd : NaN, loadMs: nav ? nav.loadEventEnd : NaN, rows: rows.length, firstRowsInTrouble: troubled });
      }, 200);
    })`)) as Paint;
  } finally {
    await ctx.close();
  }
}

/** Types a server of the fleet's last page into the search box; ms until the grid shows it (and only matches). */
async function searchInPage(browser: Browser, base: string, name: string): Promise<{ ms: number; rows: number }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await ctx.newPage();
    await page.goto(`${base}/`, { waitUntil: 'load', timeout: 60_000 });
    const t = performance.now();
    await page.locator('#find-q').fill(name);
    await page.waitForSelector(`tr[data-server$="/${name}"]`, { timeout: 30_000 });
    const ms = performance.now() - t;
    return { ms, rows: await page.locator('tr[data-server]').count() };
  } finally {
    await ctx.close();
  }
}

export async function run(): Promise<void> {
  if (!existsSync('/usr/bin/chromium')) throw new Error('page bench: no /usr/bin/chromium (scripts/install-deps.sh installs it)');
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  process.stdout.write(`page: N = ${SIZES.join(', ')} servers × ${SERVICES.length} services, synthetic status (1 % in trouble), real HTTP server and page routes; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  try {
    for (const n of SIZES) {
      const now = Date.now();
      const servers = syntheticFleet(n, now);
      const live = new PageLiveState();
      for (const s of servers) {
        const id = `${s.metadata.customer}/${s.metadata.name}`;
        for (const svc of SERVICES) for (let k = 0; k < POINTS; k++) live.onEvent({ type: 'probe', server: id, result: { service: svc, target: '10.240.0.2', up: k % 29 !== 7, latencyMs: 2 + ((k * 7) % 11), startedAt: new Date(now - (POINTS - k) * 30_000).toISOString() }, unknown: false });
      }
      const snapshot = { revision: '0123456789abcdef0123', servers, massFailure: [] };
      const api = { ready: () => ({ ready: true, checks: {} }), status: () => ({ reconciler: snapshot }), fleet: () => ({ snapshot, desired: undefined }) } as unknown as DaemonApi;
      const http = new HttpServer({ listen: '127.0.0.1:0', api, metrics: new MamoriMetrics({ defaultMetrics: false }), logger: silentLogger() });
      registerStatusPage(http, { live, snapshot: () => snapshot, transcripts: () => [], desired: () => undefined, source: () => undefined, logger: silentLogger() });
      const address = await http.start();
      const base = `http://127.0.0.1:${address.port}`;
      try {
        const page = await served(`${base}/`);
        const fragment = await served(`${base}/?fragment=1`);
        const last = `s${n - 1}`;
        const apiSearch = await served(`${base}/api/servers?q=${last}&limit=100`);
        const apiPage = await served(`${base}/api/servers?state=problems&limit=100`);
        process.stdout.write(`  [N=${n}] / ${(page.bytes / 1024).toFixed(0)} KB in ${page.ms.toFixed(0)} ms (median of 5); fragment ${(fragment.bytes / 1024).toFixed(0)} KB in ${fragment.ms.toFixed(0)} ms; /api/servers?q=${last} ${(apiSearch.bytes / 1024).toFixed(1)} KB in ${apiSearch.ms.toFixed(0)} ms; ?state=problems&limit=100 ${(apiPage.bytes / 1024).toFixed(0)} KB in ${apiPage.ms.toFixed(0)} ms\n`);
        await paintOnce(browser, `${base}/`); // the browser's and the server's first run, not counted
        const paints: Paint[] = [];
        for (let k = 0; k < 3; k++) paints.push(await paintOnce(browser, `${base}/`));
        const fcp = median(paints.map((p) => p.fcpMs));
        const p0 = paints[0] as Paint;
        process.stdout.write(
          `  [N=${n}] Chromium (median of 3): first contentful paint ${fcp.toFixed(0)} ms, largest contentful paint ${median(paints.map((p) => p.lcpMs)).toFixed(0)} ms, DOMContentLoaded ${median(paints.map((p) => p.dclMs)).toFixed(0)} ms, load ${median(paints.map((p) => p.loadMs)).toFixed(0)} ms; ${p0.rows} rows in the DOM, ${p0.firstRowsInTrouble} of the first 10 in trouble; goal ≤ ${GOAL_FCP_MS} ms: ${fcp <= GOAL_FCP_MS ? 'met' : 'NOT met'}\n`,
        );
        const found = await searchInPage(browser, base, last);
        process.stdout.write(`  [N=${n}] search typed in the page for ${last} (the fleet's last page): shown in ${found.ms.toFixed(0)} ms, ${found.rows} row(s)\n`);
      } finally {
        live.close();
        await http.close();
      }
    }
    process.stdout.write(`page: load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  } finally {
    await browser.close();
  }
}
