/**
 * The status page on every screen and in Japanese, in Debian's real Chromium against the real HTTP
 * server: at 390 px (a phone) and 1280 px, light and dark (prefers-color-scheme), ja (the browser's
 * language) and en (switched by the page's own link, then remembered). Screenshots of each go to
 * test-artifacts/page-look/; at 390 px no element may stick out of the viewport (no sideways
 * scroll), and the header's "updated" and "live" stay on screen. Times are in the configured zone
 * (Asia/Tokyo, named JST). The uptime bars are read from a real journal on disk (UptimeSource), and
 * a customer's token never gets another customer's bars, names or links. Hostile text (a <script>
 * in a condition message and in a transcript) stays text in every view.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenTable } from '../../src/http/auth.ts';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { PageLiveState } from '../../src/http/page/live-state.ts';
import { pickLang } from '../../src/http/page/messages.ts';
import { registerStatusPage } from '../../src/http/page/status-page.ts';
import { UptimeSource } from '../../src/http/page/uptime-source.ts';
import { HttpServer, type DaemonApi } from '../../src/http/server.ts';
import { TranscriptLog } from '../../src/reconcile/transcripts.ts';
import { silentLogger } from '../../src/log.ts';
import type { Transcript } from '../../src/runbook/execution.ts';
import { appendAll, openJournal, type JournalEntry } from '../../src/status/journal.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'page-look');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const EVIL = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';
const NOW = Date.parse('2026-11-25T10:00:00Z'); // 19:00 JST
const H = 3_600_000;
const SERVICES = ['ping', 'ssh', 'http', 'https', 'smtp', 'pop3', 'imap', 'ftp'];

function server(name: string, customer: string, down: string[] = []): ServerStatus {
  const services: ServerStatus['services'] = {};
  for (const svc of SERVICES) {
    const state = down.includes(svc) ? 'Down' : 'Healthy';
    services[svc] = { state, since: '2026-11-25T09:40:00.000Z', consecutiveFailures: state === 'Down' ? 3 : 0, lastProbe: { at: '2026-11-25T09:59:58.000Z', up: state === 'Healthy', latencyMs: 12, ...(state === 'Down' ? { failureKind: 'refused' } : {}) } };
  }
  const failing = down.length > 0;
  return {
    apiVersion: 'mamori/v1',
    kind: 'ServerStatus',
    metadata: { name, customer },
    observedRevision: 'abcdef1234567890',
    updatedAt: '2026-11-25T09:59:59.000Z',
    conditions: [
      { type: 'Ready', status: failing ? 'False' : 'True', reason: failing ? 'ServicesFailing' : 'AllServicesUp', message: failing ? `failing: ${down.join(', ')} ${EVIL} averyveryverylongunbrokenmessagewordthatwouldpushatablecellwiderthanaphonescreenifitwerenotwrapped` : 'every watched service answers', lastTransitionTime: '2026-11-25T09:40:00.000Z' },
    ],
    services,
    incidents: {
      open: failing ? [{ id: `${name}.http.1`, service: 'http', openedAt: '2026-11-25T09:41:00.000Z', detectedAt: '2026-11-25T09:40:00.000Z', attempts: [{ n: 1, startedAt: '2026-11-25T09:41:01.000Z', finishedAt: '2026-11-25T09:41:30.000Z', verdict: 'VerifyFailed' }] }] : [],
      recent: [],
    },
    maintenance: { next: { start: '2026-11-29T17:00:00Z', end: '2026-11-29T19:00:00Z', reason: 'kernel update' } },
  };
}

const transcript: Transcript = {
  runbook: 'std-httpd-el-sysv',
  origin: 'standard',
  server: 'web1',
  service: 'http',
  startedAt: '2026-11-25T09:41:01.000Z',
  finishedAt: '2026-11-25T09:41:30.000Z',
  verdict: 'VerifyFailed',
  message: 'http still does not answer',
  steps: [{ id: 'restart-httpd', kind: 'run', command: '/etc/init.d/httpd restart', startedAt: '2026-11-25T09:41:02.000Z', finishedAt: '2026-11-25T09:41:20.000Z', exitCode: 1, output: `Starting httpd: ${EVIL} ${'x'.repeat(300)} [FAILED]`, outcome: 'failed' }],
  evidence: {},
  acted: true,
  powerActions: [],
};

let dir: string;
let base: string;
let http: HttpServer;
let live: PageLiveState;
const askedUptime: string[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-page-look-'));
  // A real journal: watched for 40 days; web1 http down for 2 h twice (10 days ago, and 3 h ago), a daemon stop of 6 h 20 days ago.
  const journal = await openJournal(join(dir, 'state'));
  const at = (ms: number) => new Date(ms).toISOString();
  const start = NOW - 40 * 24 * H;
  // The journal, the controller's transcripts and live events name servers by their id (customer/name).
  const names = ['web1', 'web2', 'web3', 'mail1', 'db1', 'ns1'];
  const id = (n: string) => `${n === 'web2' ? 'globex' : 'acme'}/${n}`;
  const entries: Array<JournalEntry & { ts: string }> = [
    { type: 'monitor-started', heartbeatMs: 300_000, ts: at(start) },
    { type: 'monitor-desired', servers: names.map((n) => ({ name: id(n), customer: n === 'web2' ? 'globex' : 'acme', services: SERVICES })), ts: at(start) },
    ...names.flatMap((n) => SERVICES.map((svc) => ({ type: 'transition', server: id(n), service: svc, to: 'Healthy', ts: at(start + 1000) }))),
  ];
  // Heartbeats every 4 min keep the coverage whole, except for the 6 h stop.
  const stopAt = NOW - 20 * 24 * H;
  for (let t = start + 240_000; t < NOW; t += 240_000) {
    if (t > stopAt && t < stopAt + 6 * H) continue;
    entries.push({ type: 'monitor-heartbeat', ts: at(t) });
  }
  entries.push({ type: 'monitor-stopped', ts: at(stopAt) }, { type: 'monitor-started', heartbeatMs: 300_000, ts: at(stopAt + 6 * H) });
  for (const down of [NOW - 10 * 24 * H, NOW - 3 * H]) {
    entries.push({ type: 'transition', server: 'acme/web1', service: 'http', to: 'Down', ts: at(down) }, { type: 'transition', server: 'acme/web1', service: 'http', to: 'Healthy', ts: at(down + 2 * H) });
  }
  entries.sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
  await appendAll(journal, entries);
  await journal.close();
  const uptime = new UptimeSource({ stateDir: join(dir, 'state'), timeZone: 'Asia/Tokyo', logger: silentLogger(), now: () => NOW });
  await uptime.refresh();

  live = new PageLiveState();
  const transcripts = new TranscriptLog();
  transcripts.set('acme/web1-http-1', transcript, 'acme/web1');
  for (let i = 0; i < 30; i++) for (const n of names) live.onEvent({ type: 'probe', server: id(n), result: { service: 'http', target: '10.0.0.1', up: i % 9 !== 4, latencyMs: 5 + ((i * 7) % 20), startedAt: new Date(NOW - (30 - i) * 1000).toISOString() }, unknown: false });
  const api = { ready: () => ({ ready: true, checks: {} }), status: () => ({}) } as unknown as DaemonApi;
  http = new HttpServer({
    listen: '127.0.0.1:0',
    api,
    metrics: new MamoriMetrics({ defaultMetrics: false }),
    logger: silentLogger(),
    tokens: TokenTable.from([
      { scope: 'operator', name: 'page', token: 'page-token-0123456789' },
      { scope: 'customer', customer: 'acme', name: 'acme-page', token: 'acme-page-token-0123456789' },
    ]),
  });
  registerStatusPage(http, {
    live,
    transcripts: (s, svc) => transcripts.recent(s, svc),
    snapshot: () => ({ revision: 'abcdef1234567890', servers: [server('web1', 'acme', ['http', 'https']), server('web2', 'globex'), server('web3', 'acme'), server('mail1', 'acme', ['pop3']), server('db1', 'acme'), server('ns1', 'acme')], massFailure: [] }),
    desired: () => undefined,
    source: () => undefined,
    logger: silentLogger(),
    now: () => NOW,
    timeZone: 'Asia/Tokyo',
    uptime: (s, svc) => {
      askedUptime.push(s);
      return uptime.history(s, svc);
    },
  });
  const address = await http.start();
  base = `http://127.0.0.1:${address.port}`;
  mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  live?.close();
  await http?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function browserFor(locale: string): Promise<Page> {
  const ctx = await chromium.launchPersistentContext(join(dir, `chromium-${contexts.length}`), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, locale, viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  contexts.push(ctx);
  await ctx.addCookies([{ name: 'mamori_token', value: 'page-token-0123456789', url: base }]);
  return ctx.pages()[0] ?? (await ctx.newPage());
}

/** Elements whose box reaches past the viewport's right edge (inside a scrolling box is the box's business). */
const OVERFLOW_PROBE = `(() => {
  const w = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    let scrolled = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { scrolled = true; break; }
    }
    if (scrolled) continue;
    if (r.right > w + 0.5 || r.left < -0.5) out.push(el.tagName.toLowerCase() + '.' + (el.getAttribute('class') || '') + ' right=' + Math.round(r.right));
  }
  return { clientWidth: w, scrollWidth: document.documentElement.scrollWidth, out: out.slice(0, 10) };
})()`;

async function look(page: Page, name: string, width: number, scheme: 'light' | 'dark'): Promise<void> {
  await page.setViewportSize({ width, height: width < 500 ? 844 : 800 });
  await page.emulateMedia({ colorScheme: scheme });
  await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}-${scheme}.png`), fullPage: true });
  expect(await page.evaluate('typeof window.pwned'), name).toBe('undefined');
  if (width === 390) {
    const probe = (await page.evaluate(OVERFLOW_PROBE)) as { clientWidth: number; scrollWidth: number; out: string[] };
    expect(probe.out, `${name} at 390 px, ${scheme}`).toEqual([]);
    expect(probe.scrollWidth, `${name}: no sideways scroll`).toBeLessThanOrEqual(probe.clientWidth);
    for (const sel of ['.meta .updated', '#live-state']) {
      const box = await page.locator(sel).boundingBox();
      expect(box, `${name}: ${sel} shown`).not.toBeNull();
      expect((box?.x ?? -1) >= 0 && (box?.x ?? 0) + (box?.width ?? 0) <= 390, `${name}: ${sel} inside the screen`).toBe(true);
    }
  }
}

describe('the page on every screen and in both languages', () => {
  it('picks the language from ?lang=, the cookie, then Accept-Language (q-values), English when none says', () => {
    expect(pickLang(null, undefined, 'ja,en-US;q=0.9,en;q=0.8')).toBe('ja');
    expect(pickLang(null, undefined, 'en-US,en;q=0.9,ja;q=0.8')).toBe('en');
    expect(pickLang(null, undefined, 'fr-FR, ja;q=0.5, en;q=0.3')).toBe('ja');
    expect(pickLang(null, 'en', 'ja')).toBe('en');
    expect(pickLang('ja', 'en', 'en')).toBe('ja');
    expect(pickLang('xx', undefined, undefined)).toBe('en');
    expect(pickLang(null, undefined, `${'x;q=1,'.repeat(10_000)}ja`)).toBe('en');
  });

  it('Japanese by the browser’s language: fleet and server at 390 and 1280 px, light and dark, nothing overflowing on the phone', async () => {
    const page = await browserFor('ja-JP');
    for (const [name, path] of [['fleet-ja', '/'], ['server-ja', '/server?name=web1']] as const) {
      await page.goto(`${base}${path}`);
      expect(await page.getAttribute('html', 'lang')).toBe('ja');
      const text = await page.locator('body').innerText();
      expect(text).toContain(name.startsWith('fleet') ? '対応中の障害' : '最近の障害');
      // Every absolute time in the configured zone, the zone named: 10:00 UTC is 19:00 JST.
      expect(await page.locator('.meta .updated').innerText()).toContain('2026-11-25 19:00:00 JST');
      for (const scheme of ['light', 'dark'] as const) for (const width of [390, 1280]) await look(page, name, width, scheme);
    }
    // Dark really is dark, light really is light.
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(14, 19, 26)');
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(244, 246, 249)');
    // The server page: the maintenance window and the incident in JST, the transcript's script as text.
    expect(await page.locator('.maintenance').innerText()).toContain('2026-11-30 02:00:00 JST');
    expect(await page.locator('.incident dd').first().innerText()).toContain('2026-11-25 18:40:00 JST');
    expect(await page.locator('pre.out').first().innerText()).toContain('<script>window.pwned=1</script>');
  }, 120_000);

  it('uptime bars from the journal: 24 h by the hour and 30 days by the day (JST days), outages in their bucket, a daemon stop grey', async () => {
    const page = await browserFor('en-US');
    await page.goto(`${base}/server?name=web1`);
    const bars = page.locator('.card[data-service="http"] .uptime');
    expect(await bars.count()).toBe(2);
    const day = page.locator('.card[data-service="http"] [data-uptime="24h"] rect');
    const month = page.locator('.card[data-service="http"] [data-uptime="30d"] rect');
    expect(await day.count()).toBe(24);
    expect(await month.count()).toBe(30);
    const classes = async (l: typeof day) => (await l.evaluateAll((els) => els.map((e) => e.getAttribute('class')))) as string[];
    const hours = await classes(day);
    // 3 h ago to 1 h ago down: the 07:00 and 08:00 UTC hours red (the last bar is 09:00–10:00), the rest green.
    expect(hours.filter((c) => c === 'u-down')).toHaveLength(2);
    expect(hours.slice(-3, -1)).toEqual(['u-down', 'u-down']);
    const days = await classes(month);
    // 10 days ago, 2 h of 24 down: amber; 20 days ago a 6 h stop with the rest up: green (unknown is not down).
    expect(days.filter((c) => c === 'u-part').length).toBeGreaterThanOrEqual(2);
    expect(days.includes('u-down')).toBe(false);
    const pct = await page.locator('.card[data-service="http"] [data-uptime="24h"] .uptime-pct').innerText();
    expect(pct).toBe('91.67 %'); // 22 h up of 24 h seen
    expect(await page.locator('.card[data-service="ping"] [data-uptime="30d"] .uptime-pct').innerText()).toBe('100 %');
    const title = await page.locator('.card[data-service="http"] [data-uptime="24h"] rect title').last().textContent();
    expect(title).toBe('2026-11-25 18:00 — up 1 h 0 min, down 0 min, unknown 0 min');
    await look(page, 'server-en-uptime', 390, 'light');
  }, 60_000);

  it('English by the page’s own switch, remembered over a Japanese browser; screenshots of both schemes and widths', async () => {
    const page = await browserFor('ja-JP');
    await page.goto(`${base}/server?name=web1`);
    expect(await page.getAttribute('html', 'lang')).toBe('ja');
    await page.locator('.lang a[hreflang="en"]').click();
    await page.waitForURL(/lang=en/);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(new URL(page.url()).searchParams.get('name')).toBe('web1');
    await page.goto(`${base}/`);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('body').innerText()).toContain('open incidents');
    for (const [name, path] of [['fleet-en', '/'], ['server-en', '/server?name=web1']] as const) {
      await page.goto(`${base}${path}`);
      for (const scheme of ['light', 'dark'] as const) for (const width of [390, 1280]) await look(page, name, width, scheme);
    }
    // The live dot speaks the page's language after the script takes it over.
    await page.goto(`${base}/?lang=ja`);
    await expect.poll(() => page.locator('#live-state').innerText(), { timeout: 20_000 }).toContain('自動更新中');
  }, 120_000);

  it('a customer’s token: its own servers’ bars only, and no other customer’s name in any link or view', async () => {
    askedUptime.length = 0;
    const auth = { authorization: 'Bearer acme-page-token-0123456789', 'accept-language': 'ja' };
    const bodies: string[] = [];
    for (const path of ['/', '/?fragment=1', '/?customer=globex&lang=en', '/server?name=web1', '/server?name=web2', '/server?name=web2&lang=ja&fragment=1', '/badge?server=web2']) {
      const r = await fetch(`${base}${path}`, { headers: auth });
      expect(r.status, path).toBe(200);
      bodies.push(await r.text());
    }
    const all = bodies.join('\n');
    expect(all).toContain('web1');
    expect(all.match(/[\s\S]{0,80}(globex|web2)[\s\S]{0,40}/)?.[0]).toBeUndefined();
    expect(askedUptime).toContain('acme/web1');
    expect(askedUptime).not.toContain('globex/web2');
    expect(askedUptime.filter((s) => s.includes('web2'))).toEqual([]);
    // The language links keep a visible server, never a guessed one.
    expect(bodies[3]).toContain('href="/server?name=web1&amp;lang=en"');
    expect(bodies[4]).toContain('href="/server?lang=en"');
    // CSP stays strict on the new views.
    const csp = (await fetch(`${base}/server?name=web1`, { headers: auth })).headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-[^']+'; connect-src 'self'/);
    expect(csp).not.toContain('unsafe-eval');
  }, 60_000);
});
