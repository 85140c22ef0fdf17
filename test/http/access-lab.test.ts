/**
 * One access model, seen from a real browser: `mamori run` (child process) watching two lab hosts
 * of two customers (acme, globex; lab id 70), with operator, customer and metrics tokens; headless
 * Chromium (Debian's) with acme's token on the page, /api/status, /events and /report. globex's
 * httpd is killed and repaired first, so globex has an incident and a transcript that acme must
 * never see: the bytes of every response acme's browser receives hold no globex name or address.
 * Then what a hostile page can do: a DNS-rebound name (Chromium's resolver mapped to 127.0.0.1)
 * and a cross-site text/plain form POST to the local API, both refused.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../daemon/daemon-process.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';
import { fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests } from '../support/lab-fleet.ts';

const LAB_ID = 70;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const OPERATOR = 'operator-token-for-the-lab-0123456789';
const ACME = 'acme-status-token-for-the-lab-0123456789';
const METRICS = 'metrics-token-for-the-lab-0123456789';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let lab: Lab;
let dir: string;
let daemon: DaemonProcess;
let browser: BrowserContext | undefined;
let attacker: Server | undefined;
let broken = false;
let globexAddress = '';
let acmeAddress = '';

beforeAll(async () => {
  lab = await startLab({ id: LAB_ID, hosts: [{ name: 'acme-web1' }, { name: 'globex-web1' }] });
  acmeAddress = lab.host('acme-web1').address;
  globexAddress = lab.host('globex-web1').address;
  dir = mkdtempSync(join(tmpdir(), 'mamori-access-'));
  const docs = [
    fleetServer(lab, lab.host('acme-web1'), { customer: 'acme', services: ['ping', 'ssh', 'http'], locale: 'en' }),
    fleetServer(lab, lab.host('globex-web1'), { customer: 'globex', services: ['ping', 'ssh', 'http'], locale: 'en' }),
  ];
  await writeServerManifests(join(dir, 'manifests'), docs);
  await writeLabSecrets(join(dir, 'secrets'), lab, { 'ops-token': OPERATOR, 'acme-status': ACME, 'prom-token': METRICS });
  const port = await freePort();
  const config = parse(fleetConfigYaml({ lab, source: { type: 'folder', path: 'manifests' }, httpPort: port, probe: { intervalSeconds: 1, timeoutSeconds: 3, retryIntervalSeconds: 0.5, failuresToDown: 2 } })) as Record<string, Record<string, unknown>>;
  config.http = {
    ...config.http,
    tokens: [
      { scope: 'operator', secretRef: 'ops-token' },
      { scope: 'customer', customer: 'acme', secretRef: 'acme-status' },
      { scope: 'metrics', secretRef: 'prom-token' },
    ],
  };
  config.massFailure = { minServers: 50, fleetFraction: 1 };
  writeFileSync(join(dir, 'mamori.yaml'), stringify(config));
  daemon = await spawnDaemon({ cwd: dir, config: join(dir, 'mamori.yaml'), port });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (attacker) await new Promise((r) => attacker?.close(r));
  if (daemon) {
    daemon.child.kill('SIGTERM');
    await Promise.race([daemon.exited, new Promise((r) => setTimeout(r, 15_000))]);
  }
  killStrays();
  if (broken) await lab?.console('globex-web1', '/etc/init.d/httpd start').catch(() => undefined);
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

const asOperator = { authorization: `Bearer ${OPERATOR}` };

async function operatorStatus(): Promise<{ reconciler?: { servers: Array<{ metadata: { name: string }; services: Record<string, { state: string }>; incidents: { recent: unknown[] } }> } }> {
  const r = await fetch(`${daemon.base}/api/status`, { headers: asOperator });
  return (await r.json()) as never;
}

/** Every globex trace a response could carry: the customer, its server's name, its address (not as a prefix of another). */
function globexTrace(text: string): string | undefined {
  const address = new RegExp(`(^|[^0-9.])${globexAddress.replace(/\./g, '\\.')}(?![0-9])`);
  const m = /globex/i.exec(text) ?? address.exec(text);
  return m ? text.slice(Math.max(0, m.index - 80), m.index + 80) : undefined;
}

describe('access in headless Chromium against the lab', () => {
  it("with acme's token, the page, /api/status, the events and the report show acme only — no byte of globex, whose incident and transcript exist", async () => {
    // Both hosts answer, then globex's httpd is killed and repaired: globex now has a transcript.
    await expect.poll(async () => (await operatorStatus()).reconciler?.servers.filter((s) => s.services.http?.state === 'Healthy').length, { timeout: 60_000, interval: 250 }).toBe(2);
    await lab.breakService('globex-web1', 'httpd');
    broken = true;
    await expect
      .poll(async () => (await operatorStatus()).reconciler?.servers.find((s) => s.metadata.name === 'globex-web1')?.incidents.recent.length ?? 0, { timeout: 90_000, interval: 250 })
      .toBeGreaterThan(0);
    broken = false;
    const opPage = await (await fetch(`${daemon.base}/server?name=globex-web1`, { headers: asOperator })).text();
    expect(opPage).toContain('/etc/init.d/httpd');
    expect(opPage).toContain('globex');

    browser = await chromium.launchPersistentContext(join(dir, 'chromium'), { executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP rebound.example 127.0.0.1'], viewport: { width: 1280, height: 640 } });
    const page: Page = browser.pages()[0] ?? (await browser.newPage());
    const bodies: Array<{ url: string; status: number; text: string }> = [];
    page.on('response', (res) => {
      if (res.url().endsWith('/events')) return; // a stream: read below, from the page itself
      void res
        .text()
        .then((text) => bodies.push({ url: res.url(), status: res.status(), text }))
        .catch(() => undefined);
    });

    // Once with ?token=: an HttpOnly cookie, and the clean URL.
    await page.goto(`${daemon.base}/?token=${ACME}`);
    expect(new URL(page.url()).search).toBe('');
    await expect.poll(() => page.locator('tr[data-server="acme/acme-web1"]').count(), { timeout: 30_000 }).toBe(1);
    expect(await page.locator('tr[data-server="globex/globex-web1"]').count()).toBe(0);
    // The page's script keeps fetching its fragment over SSE: let a few updates arrive, and read the stream too.
    const events = (await page.evaluate(`new Promise((resolve) => {
      const seen = [];
      const es = new EventSource('/events');
      es.addEventListener('hello', (e) => seen.push('hello ' + e.data));
      es.addEventListener('update', (e) => seen.push('update ' + e.data));
      setTimeout(() => { es.close(); resolve(seen); }, 6000);
    })`)) as string[];
    expect(events[0]).toMatch(/^hello /);
    for (const path of ['/server?name=acme-web1', '/server?name=globex-web1', '/?customer=globex', '/api/status', `/report?month=${new Date().toISOString().slice(0, 7)}`, `/report?format=json`]) {
      const res = await page.goto(`${daemon.base}${path}`);
      expect(res?.status(), path).toBe(200);
      // Read a navigation's body before the next goto: Chromium drops it once the page navigates on,
      // so the listener's read of it can fail (and it would then escape the globex check below).
      if (res) bodies.push({ url: res.url(), status: res.status(), text: await res.text() });
    }
    await page.screenshot({ path: join(ARTIFACTS, 'access-acme-report.png'), fullPage: true });
    // SVG documents: after the report's screenshot (a full-page screenshot of an SVG document does not finish).
    for (const path of ['/badge?server=acme-web1', '/badge?server=acme-web1&service=http', '/badge?server=globex-web1', '/badge?server=globex-web1&service=http']) {
      const res = await page.goto(`${daemon.base}${path}`);
      expect(res?.status(), path).toBe(200);
      if (res) bodies.push({ url: res.url(), status: res.status(), text: await res.text() });
    }
    // The badge: acme's own server drawn with its state; globex's drawn as unknown, without its name.
    expect(bodies.find((b) => b.url.endsWith('/badge?server=acme-web1'))?.text).toContain('<title>acme-web1: up</title>');
    expect(bodies.find((b) => b.url.endsWith('/badge?server=acme-web1&service=http'))?.text).toMatch(/<title>acme-web1 http: (healthy|recovered)<\/title>/);
    expect(bodies.find((b) => b.url.endsWith('/badge?server=globex-web1'))?.text).toContain('<title>mamori: unknown</title>');
    const status = JSON.parse(bodies.find((b) => b.url.endsWith('/api/status'))?.text ?? '{}') as { customer: string; servers: Array<{ metadata: { name: string } }> };
    expect(status.customer).toBe('acme');
    expect(status.servers.map((s) => s.metadata.name)).toEqual(['acme-web1']);
    const report = JSON.parse(bodies.find((b) => b.url.endsWith('format=json'))?.text ?? '{}') as { customer: string; servers: Array<{ name: string }> };
    expect(report.customer).toBe('acme');
    expect(report.servers.map((s) => s.name)).toEqual(['acme/acme-web1']);
    // Someone else's report: refused, not filtered into an empty one.
    expect((await page.goto(`${daemon.base}/report?customer=globex`))?.status()).toBe(403);
    // /metrics is the operator's and the scraper's.
    expect((await page.goto(`${daemon.base}/metrics`))?.status()).toBe(403);
    await expect.poll(() => bodies.length, { timeout: 5000 }).toBeGreaterThan(8);

    // acme's own things are there: its name, its address in its conditions or transcripts is allowed.
    const all = [...bodies.map((b) => b.text), ...events].join('\n');
    expect(all).toContain('acme-web1');
    expect(bodies.some((b) => b.url.includes('fragment=1'))).toBe(true);
    for (const b of bodies) expect(globexTrace(b.text), `${b.url} (${b.status})`).toBeUndefined();
    for (const e of events) expect(globexTrace(e)).toBeUndefined();
    expect(acmeAddress).not.toBe(globexAddress);
  }, 240_000);

  it('/metrics: refused without a token and with a customer token; the metrics and operator tokens scrape', async () => {
    expect((await fetch(`${daemon.base}/metrics`)).status).toBe(401);
    expect((await fetch(`${daemon.base}/metrics`, { headers: { authorization: `Bearer ${ACME}` } })).status).toBe(403);
    const scrape = await fetch(`${daemon.base}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('mamori_probe_results_total');
    expect((await fetch(`${daemon.base}/metrics`, { headers: asOperator })).status).toBe(200);
    expect((await fetch(`${daemon.base}/api/status`, { headers: { authorization: `Bearer ${METRICS}` } })).status).toBe(403);
  }, 30_000);

  it('a hostile page: a DNS-rebound name reads nothing, and a cross-site text/plain form POST changes nothing (with the operator cookie in the browser)', async () => {
    const page: Page = browser?.pages()[0] ?? (await (browser as BrowserContext).newPage());
    await browser?.clearCookies();
    // The operator logged in in this browser: the cookie for the daemon's origin is there.
    await page.goto(`${daemon.base}/?token=${OPERATOR}`);
    expect(await page.locator('tr[data-server="globex/globex-web1"]').count()).toBe(1);
    const port = new URL(daemon.base).port;

    // DNS rebinding: rebound.example resolves to 127.0.0.1 for this browser.
    const rebound = await page.goto(`http://rebound.example:${port}/api/status`);
    expect(rebound?.status()).toBe(421);
    expect(await rebound?.text()).not.toContain('acme-web1');

    // The attacker's page, on another origin, posts a text/plain form (no preflight) to the local API.
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><form id="f" method="POST" enctype="text/plain" action="${daemon.base}/api/reconcile"><input name='{"dryRun":false,"x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => attacker?.listen(0, '127.0.0.1', r));
    const evil = `http://rebound.example:${(attacker.address() as AddressInfo).port}/`;
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/reconcile'));
    await page.goto(evil);
    const response = await answered;
    // The cookie authorises reads only (401); without it the Origin and the content type would refuse it (403, 415).
    expect([401, 403, 415]).toContain(response.status());
    expect(await response.text()).not.toContain('"ok": true');
  }, 60_000);
});
