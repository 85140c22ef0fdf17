/**
 * The status page in a real browser against the real daemon: `mamori run` (child process) with a
 * folder of manifests for two lab hosts, real probes and the real SSH executor at fast settings;
 * headless Chromium (Debian's) on the page. httpd is killed on web1 with `lab.breakService`: the
 * cell turns red (its text and its data-state), mamori restarts httpd by the standard runbook, and
 * the cell turns green again — all without a reload. Screenshots go to test-artifacts/.
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startLab, type Lab, type LabHost } from '../lab/index.ts';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../daemon/daemon-process.ts';
import { labServer } from '../runbook/executor-lab.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';
import { runReport } from '../../src/cli/report.ts';
import type { MonthlyReport } from '../../src/report/types.ts';
import type { ServiceName } from '../../src/manifest/types.ts';
import { Writable } from 'node:stream';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let lab: Lab;
let dir: string;
let daemon: DaemonProcess;
let browser: BrowserContext;
let page: Page;
let broken = false;
let configPath: string;

/**
 * web1 watches no https: httpd serves both, and killing it would take both down at once, the
 * incident going to whichever mamori confirms Down first. At load 10-20 a pass's probes spread and
 * the kill could fall between them: https then carried it, and http only waited for that repair
 * (ServerBusy), with no incident of its own for the report to show. web2 keeps every service.
 */
const SERVICES: Record<string, ServiceName[]> = {
  web1: ['ping', 'ssh', 'http', 'ftp', 'smtp', 'pop3', 'imap'],
  web2: ['ping', 'ssh', 'http', 'https', 'ftp', 'smtp', 'pop3', 'imap'],
};

function serverYamlFor(host: LabHost, customer: string): string {
  const doc = labServer(lab, host, { services: SERVICES[host.name] ?? [] });
  doc.metadata.customer = customer;
  doc.spec.access.credentials = { secretRef: `${customer}-${host.name}` };
  delete doc.spec.console;
  doc.spec.contact = { email: `ops@${customer}.example`, locale: 'en' };
  return stringify(doc);
}

beforeAll(async () => {
  lab = await startLab({ id: 14, hosts: [{ name: 'web1' }, { name: 'web2' }] });
  dir = mkdtempSync(join(tmpdir(), 'mamori-page-'));
  const manifests = join(dir, 'manifests');
  cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(manifests, 'operator'), { recursive: true });
  const [web1, web2] = lab.hosts as [LabHost, LabHost];
  for (const [host, customer] of [[web1, 'acme'], [web2, 'globex']] as const) {
    mkdirSync(join(manifests, 'customers', customer, 'servers'), { recursive: true });
    writeFileSync(join(manifests, 'customers', customer, 'servers', `${host.name}.yaml`), serverYamlFor(host, customer));
  }
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  chmodSync(secrets, 0o700);
  const key = readFileSync(lab.managementKeyPath, 'utf8');
  for (const [h, customer] of [[web1, 'acme'], [web2, 'globex']] as const) writeFileSync(join(secrets, `${customer}-${h.name}`), key, { mode: 0o600 });
  const port = await freePort();
  const config = join(dir, 'mamori.yaml');
  configPath = config;
  writeFileSync(
    config,
    `apiVersion: mamori/v1
kind: Config
source: { type: folder, path: ${manifests} }
stateDir: ${join(dir, 'state')}
secretsDir: ${secrets}
http: { listen: "127.0.0.1:${port}" }
probe: { intervalSeconds: 1, timeoutSeconds: 3, retryIntervalSeconds: 0.5, failuresToDown: 2 }
massFailure: { minServers: 50, fleetFraction: 1 }
`,
  );
  daemon = await spawnDaemon({ cwd: dir, config, port });
  // A fresh user-data-dir per run (playwright's persistent context is how it takes one).
  browser = await chromium.launchPersistentContext(join(dir, 'chromium'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1360, height: 640 }, deviceScaleFactor: 1 });
  page = browser.pages()[0] ?? (await browser.newPage());
  mkdirSync(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (daemon) {
    daemon.child.kill('SIGTERM');
    await Promise.race([daemon.exited, new Promise((r) => setTimeout(r, 15_000))]);
  }
  killStrays();
  if (broken) await lab?.console('web1', '/etc/init.d/httpd start').catch(() => undefined);
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

/** The page names a server by its id, customer/name: web1 is acme's, web2 globex's. */
const ID: Record<string, string> = { web1: 'acme/web1', web2: 'globex/web2' };
const cell = (server: string, service: string) => page.locator(`td.cell[data-server="${ID[server] ?? server}"][data-service="${service}"]`);

describe('status page in headless Chromium against the lab', () => {
  it('shows the fleet green, then web1 http red after httpd is killed, then green after mamori repairs it — live, no reload', async () => {
    await page.goto(`${daemon.base}/`);
    expect(await page.locator('.brand').innerText()).toContain('mamori');
    // Every service of both hosts answering.
    for (const server of ['web1', 'web2']) {
      await expect.poll(() => cell(server, 'http').getAttribute('data-state'), { timeout: 60_000, interval: 250 }).toBe('Healthy');
      await expect.poll(() => page.locator(`td.cell[data-server="${ID[server] ?? server}"]:not([data-state="Healthy"])`).count(), { timeout: 60_000, interval: 250 }).toBe(0);
    }
    await expect.poll(() => cell('web1', 'http').innerText()).toContain('Healthy');
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-green.png'), fullPage: true });

    const navigations: string[] = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations.push(f.url());
    });
    // Every state the browser shows for web1 http, with the cell's words, as the DOM changes:
    // the red spell lasts as long as the runbook, and the watcher must not blink past it.
    // (A string: the browser's code, not compiled against Node's types.)
    await page.evaluate(`(() => {
      window.seen = [];
      const look = () => {
        const el = document.querySelector('td.cell[data-server="acme/web1"][data-service="http"]');
        if (!el) return;
        const entry = { state: el.dataset.state || '', text: el.innerText, bg: getComputedStyle(el).backgroundColor };
        const last = window.seen[window.seen.length - 1];
        if (!last || last.state !== entry.state) window.seen.push(entry);
      };
      new MutationObserver(look).observe(document.getElementById('live'), { subtree: true, childList: true, attributes: true });
      look();
    })()`);
    const seen = async (): Promise<Array<{ state: string; text: string; bg: string }>> => (await page.evaluate('window.seen')) as Array<{ state: string; text: string; bg: string }>;

    await lab.breakService('web1', 'httpd');
    broken = true;

    // Red: by the cell's state attribute and by its words (Down, or Remediating while the runbook runs).
    await expect.poll(async () => (await seen()).some((e) => e.state === 'Down' || e.state === 'Remediating'), { timeout: 60_000, interval: 50 }).toBe(true);
    const state = (await cell('web1', 'http').getAttribute('data-state')) ?? '';
    if (state !== 'Healthy' && state !== 'Recovered') await page.screenshot({ path: join(ARTIFACTS, 'status-page-red.png'), fullPage: true });
    const red = (await seen()).filter((e) => e.state === 'Down' || e.state === 'Remediating');
    for (const e of red) {
      expect(e.text).toContain(e.state);
      expect(e.bg).toMatch(/^rgb\((211, 47, 47|221, 107, 32)\)$/); // --down red, or --rem orange
    }
    // web2 is untouched (a slow probe on a loaded machine may make it Suspect, never repaired).
    expect(await cell('web2', 'http').getAttribute('data-state')).toMatch(/^(Healthy|Suspect)$/);

    // mamori restarts httpd itself (standard runbook over SSH): back to green, still without a reload.
    await expect
      .poll(async () => (await cell('web1', 'http').getAttribute('data-state')) ?? '', { timeout: 90_000, interval: 200 })
      .toMatch(/^(Recovered|Healthy)$/);
    broken = false;
    await expect.poll(async () => (await cell('web1', 'http').getAttribute('data-state')) ?? '', { timeout: 60_000, interval: 250 }).toBe('Healthy');
    expect(await cell('web1', 'http').innerText()).toContain('Healthy');
    expect(navigations).toEqual([]);
    const states = (await seen()).map((e) => e.state);
    expect(states[0]).toBe('Healthy');
    expect(states[states.length - 1]).toBe('Healthy');
    expect(states.indexOf('Healthy', 1)).toBeGreaterThan(states.findIndex((x) => x === 'Down' || x === 'Remediating'));
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-recovered.png'), fullPage: true });
  }, 240_000);

  it('the server page shows the closed incident with its transcript (commands, exit codes)', async () => {
    await page.goto(`${daemon.base}/server?name=web1`);
    await expect.poll(() => page.locator('.incident').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    const text = await page.locator('main').innerText();
    expect(text).toMatch(/recovered/i);
    expect(text).toContain('httpd');
    expect(await page.locator('.transcript .step').count()).toBeGreaterThan(0);
    const transcript = (await page.locator('.transcript').first().textContent()) ?? '';
    expect(transcript).toContain('/etc/init.d/httpd');
    expect(transcript).toMatch(/exit \d+/);
    expect(await page.locator('.card[data-service="http"]').getAttribute('data-state')).toBe('Healthy');
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-server.png'), fullPage: true });
  }, 60_000);

  it('the running daemon journals what it watched, and the month so far reports the outage and its repair', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString('utf8');
        cb();
      },
    });
    const now = Date.now();
    // The month of the config's zone (mail.timeZone, Asia/Tokyo by default), which the report counts in.
    const month = new Date(now + 9 * 3_600_000).toISOString().slice(0, 7);
    const code = await runReport({ customer: 'acme', month, format: 'json', email: false, manifests: 'manifests', config: configPath, now }, { stdout: sink, stderr: sink, cwd: dir });
    expect(code).toBe(0);
    const report = JSON.parse(out) as MonthlyReport;
    expect(report.servers.map((s) => s.name)).toEqual(['acme/web1']);
    const http = report.servers[0]?.services.find((s) => s.service === 'http');
    expect(http?.downMs).toBeGreaterThan(0);
    expect(http?.upMs).toBeGreaterThan(0);
    // Before the daemon started this month, nothing was watched: unknown, never up.
    expect(http?.unknown.notMonitoredMs).toBeGreaterThan(0);
    const incident = report.servers[0]?.incidents.find((i) => i.target === 'http');
    expect(incident?.closeReason).toMatch(/^recovered/);
    expect(incident?.timeToRecoveryMs).toBeGreaterThan(0);
    // The report's modules load on first use: 15 s at load 10 here, so a deadline with room.
  }, 90_000);

  it('filters by customer', async () => {
    await page.goto(`${daemon.base}/?customer=globex`);
    expect(await page.locator('tr[data-server="globex/web2"]').count()).toBe(1);
    expect(await page.locator('tr[data-server="acme/web1"]').count()).toBe(0);
  }, 30_000);
});
