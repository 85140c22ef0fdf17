/**
 * No server silently stops being watched (issue 14), against the real daemon process on loopback
 * HTTP servers: last-known-good manifests survive a restart; removed servers say they are not
 * monitored; gauges read the controller after a restart; a SIGHUP that narrows the target networks
 * stops probes to the excluded servers at once, or is held past holds.maxRemovedFraction.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ServerStatus } from '../../src/status/model.ts';
import { loopbackFor, REPO_ROOT, serverPath, serverYaml } from '../source/git-fixture.ts';
import { BIN, freePort, killStrays, spawnDaemon, statusField, type DaemonProcess } from './daemon-process.ts';

/** An HTTP server on one loopback address that counts the probes it gets. */
class Web {
  readonly hits: number[] = [];
  private server: Server | undefined;
  port = 0;
  constructor(readonly address: string) {}
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.hits.push(Date.now());
      res.writeHead(200);
      res.end(req.method === 'HEAD' ? undefined : 'ok');
    });
    await new Promise<void>((resolve) => this.server?.listen(0, this.address, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }
  since(t: number): number {
    return this.hits.filter((h) => h >= t).length;
  }
  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

let dirs: string[] = [];
let webs: Web[] = [];
afterEach(async () => {
  killStrays();
  for (const w of webs) await w.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  webs = [];
});

function workspace(): { dir: string; manifests: string; state: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-watched-'));
  dirs.push(dir);
  const manifests = join(dir, 'manifests');
  cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(manifests, 'operator'), { recursive: true });
  return { dir, manifests, state: join(dir, 'state') };
}

function write(root: string, path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

async function web(address = '127.0.0.1'): Promise<Web> {
  const w = await new Web(address).start();
  webs.push(w);
  return w;
}

function statusFile(state: string, name: string): ServerStatus {
  return parse(readFileSync(join(state, 'status', `${name}.yaml`), 'utf8')) as ServerStatus;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function metric(d: DaemonProcess, line: RegExp): Promise<string | undefined> {
  const { text } = await d.get('/metrics');
  return text.split('\n').find((l) => line.test(l));
}

async function stop(d: DaemonProcess): Promise<void> {
  d.child.kill('SIGTERM');
  expect((await d.exited).code, d.stderr()).toBe(0);
}

describe('every server watched, or said not to be', () => {
  it('restart: an invalid server is probed from its last good manifest; a removed one says Monitored False, in its file and /metrics', async () => {
    const { dir, manifests, state } = workspace();
    // Each manifest's address is its server's own loopback address (addresses are unique).
    const a = await web(loopbackFor('web01'));
    const b = await web(loopbackFor('web02'));
    const c = await web(loopbackFor('web03'));
    write(manifests, serverPath('web01'), serverYaml('web01', { port: a.port }));
    write(manifests, serverPath('web02'), serverYaml('web02', { port: b.port }));
    write(manifests, serverPath('web03'), serverYaml('web03', { port: c.port }));
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    writeFileSync(config, `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests }\nhttp: { listen: "127.0.0.1:${port}" }\nprobe: { intervalSeconds: 0.5, retryIntervalSeconds: 0.2 }\nholds: { maxRemovedFraction: 0.5 }\n`);
    let d = await spawnDaemon({ cwd: dir, config, port });
    await expect.poll(() => a.hits.length > 0 && b.hits.length > 0 && c.hits.length > 0, { timeout: 20_000, interval: 100 }).toBe(true);
    await expect.poll(() => existsSync(join(state, 'last-good', 'acme', 'web01.json')), { timeout: 10_000, interval: 100 }).toBe(true);
    await stop(d);

    // While it is down: web01's manifest breaks, web02's is deleted.
    write(manifests, serverPath('web01'), serverYaml('web01', { port: a.port }).replace('plan: basic', 'plan: no-such-plan'));
    unlinkSync(join(manifests, serverPath('web02')));
    d = await spawnDaemon({ cwd: dir, config, port });
    const t0 = Date.now();
    // web01 is still watched, from the manifest it last had valid, and says why.
    await expect.poll(() => a.since(t0), { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(3);
    const invalid = (await statusField(d, 'desired', 'manifestInvalid')) as Record<string, unknown>;
    expect(Object.keys(invalid)).toEqual(['acme/web01']);
    await expect.poll(() => statusFile(state, 'acme/web01').conditions.find((x) => x.type === 'ManifestInvalid')?.status, { timeout: 10_000, interval: 100 }).toBe('True');
    // web02: nobody probes it, and its status file says so instead of Ready.
    const t1 = Date.now();
    await sleep(1500);
    expect(b.since(t1)).toBe(0);
    const s2 = statusFile(state, 'acme/web02');
    expect(s2.conditions.find((x) => x.type === 'Ready')?.status).not.toBe('True');
    expect(s2.conditions.find((x) => x.type === 'Monitored')).toMatchObject({ status: 'False', reason: 'NotInDesiredState' });
    expect(await metric(d, /^mamori_server_not_monitored\{server="acme\/web02"/)).toMatch(/reason="NotInDesiredState"\} 1$/);

    // Removed while running: Removed, since when, in the file, /api/status and /metrics.
    unlinkSync(join(manifests, serverPath('web03')));
    await expect.poll(() => statusFile(state, 'acme/web03').conditions.find((x) => x.type === 'Monitored')?.reason, { timeout: 15_000, interval: 100 }).toBe('Removed');
    const m3 = statusFile(state, 'acme/web03').conditions.find((x) => x.type === 'Monitored');
    expect(m3?.status).toBe('False');
    expect(Date.parse(m3?.lastTransitionTime ?? '')).toBeGreaterThan(t0);
    const unmonitored = (await statusField(d, 'reconciler', 'unmonitored')) as Array<{ name: string; reason: string }>;
    expect(unmonitored.map((u) => [u.name, u.reason]).sort()).toEqual([
      ['acme/web02', 'NotInDesiredState'],
      ['acme/web03', 'Removed'],
    ]);
    expect(await metric(d, /^mamori_server_not_monitored\{server="acme\/web03"/)).toMatch(/reason="Removed"\} 1$/);
    await stop(d);
  }, 120_000);

  it('restart with an open incident and a mass-failure pause: /metrics shows both at once', async () => {
    const { dir, manifests } = workspace();
    const canary = await web();
    const closed = await freePort();
    write(manifests, serverPath('web01'), serverYaml('web01', { port: closed }));
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    writeFileSync(
      config,
      `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests }\nhttp: { listen: "127.0.0.1:${port}" }\nprobe: { intervalSeconds: 0.5, retryIntervalSeconds: 0.2, failuresToDown: 2 }\nremediation: { destructiveWaitSeconds: 0 }\nmassFailure: { canaries: [{ address: 127.0.0.1, service: http, port: ${canary.port} }] }\n`,
    );
    let d = await spawnDaemon({ cwd: dir, config, port });
    await expect.poll(() => metric(d, /^mamori_incidents_open /), { timeout: 30_000, interval: 200 }).toBe('mamori_incidents_open 1');
    await canary.close(); // the canary goes down: remediation is paused
    await expect.poll(() => metric(d, /^mamori_mass_failure_paused /), { timeout: 30_000, interval: 200 }).toBe('mamori_mass_failure_paused 1');
    await stop(d);

    d = await spawnDaemon({ cwd: dir, config, port });
    // Read from the replayed state: no event is needed to set them.
    expect(await metric(d, /^mamori_incidents_open /)).toBe('mamori_incidents_open 1');
    expect(await metric(d, /^mamori_mass_failure_paused /)).toBe('mamori_mass_failure_paused 1');
    await stop(d);
  }, 120_000);

  it('SIGHUP narrowing the target networks stops probes to the excluded servers within an interval, and holds past holds.maxRemovedFraction until confirmed', async () => {
    const { dir, manifests, state } = workspace();
    const a = await web('127.0.0.1');
    const b = await web('127.0.0.2');
    const c = await web('127.0.0.3');
    write(manifests, serverPath('web01'), serverYaml('web01', { address: a.address, port: a.port }));
    write(manifests, serverPath('web02'), serverYaml('web02', { address: b.address, port: b.port }));
    write(manifests, serverPath('web03'), serverYaml('web03', { address: c.address, port: c.port }));
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    const text = (targets: string[]): string =>
      `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests }\nhttp: { listen: "127.0.0.1:${port}" }\nprobe: { intervalSeconds: 0.5, retryIntervalSeconds: 0.2 }\nholds: { maxRemovedFraction: 0.4 }\ntargetNetworks: [${targets.join(', ')}]\n`;
    writeFileSync(config, text(['127.0.0.0/8']));
    const d = await spawnDaemon({ cwd: dir, config, port });
    await expect.poll(() => a.hits.length > 0 && b.hits.length > 0 && c.hits.length > 0, { timeout: 20_000, interval: 100 }).toBe(true);

    // One of three outside (33 % ≤ 40 %): applied at once.
    writeFileSync(config, text(['127.0.0.2/32', '127.0.0.3/32']));
    d.child.kill('SIGHUP');
    const reloaded = await d.waitForLog('config reloaded');
    expect(reloaded.changed).toContain('targetNetworks');
    const interval = 500;
    const quiet = Date.now() + interval + 600; // one interval, and a probe's timeout in flight
    await sleep(quiet - Date.now());
    const t1 = Date.now();
    await sleep(2000);
    expect(a.since(t1)).toBe(0);
    expect(b.since(t1)).toBeGreaterThan(0);
    expect(statusFile(state, 'acme/web01').conditions.find((x) => x.type === 'Monitored')).toMatchObject({ status: 'False', reason: 'OutsideTargetNetworks' });

    // Two more of three outside (67 % > 40 %): held, and they are still probed.
    writeFileSync(config, text(['127.0.0.9/32']));
    d.child.kill('SIGHUP');
    const held = await d.waitForLog('target networks change held until an operator confirms it');
    const id = held.id as string;
    expect(id).toMatch(/^targets-[0-9a-f]{12}$/);
    expect(((await statusField(d, 'targetNetworks', 'held')) as { affected: string[] }).affected.sort()).toEqual(['acme/web02', 'acme/web03']);
    expect(await metric(d, /^mamori_source_revision_held /)).toBe('mamori_source_revision_held 1');
    const t2 = Date.now();
    await sleep(1500);
    expect(b.since(t2)).toBeGreaterThan(0);
    expect(c.since(t2)).toBeGreaterThan(0);

    // mamori confirm targets-…: applied; b and c are no longer probed.
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'confirm', id, '--config', config], { cwd: dir, encoding: 'utf8' });
    expect(stdout).toContain('applied');
    await sleep(interval + 600);
    const t3 = Date.now();
    await sleep(1500);
    expect(b.since(t3) + c.since(t3)).toBe(0);
    expect(await metric(d, /^mamori_source_revision_held /)).toBe('mamori_source_revision_held 0');
    await stop(d);
  }, 120_000);
});
