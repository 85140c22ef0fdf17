/**
 * Two customers each with a web01, against the real daemon process on loopback HTTP servers: both
 * are monitored; status files, /metrics and /api/status keep them apart (one's outage never shows
 * on the other); the CLI takes customer/name and refuses the bare name with both candidates.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ServerStatus } from '../../src/status/model.ts';
import { loopbackFor, REPO_ROOT, serverPath, serverYaml } from '../source/git-fixture.ts';
import { BIN, freePort, killStrays, spawnDaemon } from './daemon-process.ts';

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

function statusFile(state: string, customer: string, name: string): ServerStatus | undefined {
  const file = join(state, 'status', customer, `${name}.yaml`);
  if (!existsSync(file)) return undefined;
  try {
    return parse(readFileSync(file, 'utf8')) as ServerStatus;
  } catch {
    return undefined; // mid-rename: the next poll reads it
  }
}

function mamori(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('two customers, one server name', () => {
  it('acme/web01 and globex/web01 are both watched; files, metrics and the API keep them apart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-two-'));
    dirs.push(dir);
    const manifests = join(dir, 'manifests');
    const state = join(dir, 'state');
    cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(manifests, 'operator'), { recursive: true });
    const acme = await new Web(loopbackFor('web01', 'acme')).start();
    const globex = await new Web(loopbackFor('web01', 'globex')).start();
    webs.push(acme, globex);
    expect(acme.address).not.toBe(globex.address);
    for (const [customer, w] of [['acme', acme], ['globex', globex]] as const) {
      mkdirSync(join(manifests, 'customers', customer, 'servers'), { recursive: true });
      writeFileSync(join(manifests, serverPath('web01', customer)), serverYaml('web01', { customer, port: w.port }));
    }
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    writeFileSync(config, `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests }\nhttp: { listen: "127.0.0.1:${port}" }\nprobe: { intervalSeconds: 0.5, retryIntervalSeconds: 0.2 }\n`);
    const d = await spawnDaemon({ cwd: dir, config, port });

    // Both are probed, each at its own address, and each has its own status file, Healthy.
    await expect.poll(() => acme.hits.length > 0 && globex.hits.length > 0, { timeout: 30_000, interval: 100 }).toBe(true);
    for (const customer of ['acme', 'globex']) {
      await expect.poll(() => statusFile(state, customer, 'web01')?.services.http?.state, { timeout: 30_000, interval: 100 }).toBe('Healthy');
      expect(statusFile(state, customer, 'web01')?.metadata).toEqual({ name: 'web01', customer });
    }
    expect(existsSync(join(state, 'status', 'web01.yaml'))).toBe(false);

    // globex's web01 goes down: only globex's file and series say so; acme's stays Healthy.
    await globex.close();
    await expect.poll(() => statusFile(state, 'globex', 'web01')?.services.http?.state, { timeout: 30_000, interval: 100 }).not.toBe('Healthy');
    const acmeHitsBefore = acme.hits.length;
    await expect.poll(() => acme.hits.length, { timeout: 15_000, interval: 100 }).toBeGreaterThan(acmeHitsBefore);
    expect(statusFile(state, 'acme', 'web01')?.services.http?.state).toBe('Healthy');
    expect(statusFile(state, 'acme', 'web01')?.incidents.open).toEqual([]);
    expect(statusFile(state, 'globex', 'web01')?.services.http?.consecutiveFailures).toBeGreaterThan(0);

    const lines = (await d.get('/metrics')).text.split('\n');
    const state1 = (server: string): string[] => lines.filter((l) => l.startsWith(`mamori_service_state{server="${server}",service="http"`) && l.endsWith(' 1'));
    expect(state1('acme/web01')).toEqual(['mamori_service_state{server="acme/web01",service="http",state="Healthy"} 1']);
    expect(state1('globex/web01')).toHaveLength(1);
    expect(state1('globex/web01')[0]).not.toContain('state="Healthy"');
    expect(lines.some((l) => l.startsWith('mamori_service_state{server="web01"'))).toBe(false);

    const api = JSON.parse((await d.get('/api/status')).text) as { reconciler: { servers: ServerStatus[] } };
    expect(api.reconciler.servers.map((s) => `${s.metadata.customer}/${s.metadata.name}`).sort()).toEqual(['acme/web01', 'globex/web01']);

    // The CLI: customer/name works; the bare name is refused with both candidates.
    const one = await mamori(['status', 'acme/web01', '--json', '--config', config], dir);
    expect(one.code, one.stderr).toBe(0);
    expect((JSON.parse(one.stdout) as ServerStatus).metadata).toEqual({ name: 'web01', customer: 'acme' });
    const bare = await mamori(['status', 'web01', '--config', config], dir);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('the server name web01 is used by 2 customers: name one of acme/web01, globex/web01');

    d.child.kill('SIGTERM');
    expect((await d.exited).code, d.stderr()).toBe(0);
  }, 120_000);
});
