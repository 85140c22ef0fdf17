/**
 * #24, routing and the report among replicas: three real `mamori run` replicas (own state folders,
 * operator token configured) share one lab host (lab 158: real sshd, httpd, ipmi_sim) through a
 * real three-member etcd (client ports 22471–22473). The host's httpd is made to fail every start,
 * so its owner escalates it (restart budget 1 an hour). Then:
 *
 *  - `POST /api/resume` to a replica that does not own the host (over TCP, with the operator
 *    token) is carried out by the owner: the answer names it, its journal has the resume, the
 *    asker's has none, and the owner repairs the service (the etcd hold and budget end with the
 *    resume; otherwise the next attempt would be refused and escalated again);
 *  - a forwarded request landing on a non-owner is refused (409), never forwarded again;
 *  - `mamori reconcile --once` through a non-owner's socket covers every replica's shard;
 *  - the month's report over the three journals sees the host watched, and one non-owner's journal
 *    alone never counts it up.
 *
 * Run under the lab lock: flock /tmp/mamori-lab.lock npx vitest run test/cluster/replica-routing.lab.test.ts
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ownerOf } from '../../src/cluster/rendezvous.ts';
import { computeMonthlyReport } from '../../src/report/compute.ts';
import { readJournal, type JournalRecord } from '../../src/status/journal.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { BIN, freePort, killStrays, spawnDaemon, type DaemonProcess } from '../daemon/daemon-process.ts';
import { startEtcdCluster, type EtcdCluster } from '../lab/etcd-cluster.ts';
import { untilEvery } from './until.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests, type ProbeSettings } from '../support/lab-fleet.ts';

const run = promisify(execFile);
const LAB_ID = 158;
const ETCD_PORTS = { client: [22471, 22472, 22473] as const, peerOffset: 10 };
const HOST = 'acme-rt';
const ID = `acme/${HOST}`;
const NAMES = ['q-1', 'q-2', 'q-3'];
const TOKEN = 'replica-routing-operator-token-0123456789';
const PROBE: ProbeSettings = { intervalSeconds: 1, timeoutSeconds: 2, retryIntervalSeconds: 0.3, failuresToDown: 2, jitter: 0.1 };

interface Replica {
  name: string;
  dir: string;
  config: string;
  daemon: DaemonProcess;
}

let lab: Lab;
let etcd: EtcdCluster;
let root: string;
const replicas = new Map<string, Replica>();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const until = untilEvery(200);

async function api(r: Replica, method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${r.daemon.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

async function httpState(r: Replica): Promise<string | undefined> {
  const { json } = await api(r, 'GET', '/api/status').catch(() => ({ json: {} as Record<string, unknown> }));
  const servers = (json as { reconciler?: { servers?: ServerStatus[] } }).reconciler?.servers ?? [];
  return servers.find((s) => s.metadata.name === HOST)?.services.http?.state;
}

/** The members a replica last saw (its own log). */
function viewOf(r: Replica): string | undefined {
  for (let i = r.daemon.logs.length - 1; i >= 0; i--) {
    const l = r.daemon.logs[i]!;
    if (l.msg === 'cluster membership changed' && Array.isArray(l.members)) return (l.members as string[]).slice().sort().join(',');
  }
  return undefined;
}

async function journalOf(r: Replica): Promise<JournalRecord[]> {
  return (await readJournal(join(r.dir, 'state'))).records;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'mamori-replica-routing-'));
  [etcd, lab] = await Promise.all([startEtcdCluster(LAB_ID, ETCD_PORTS), startLab({ id: LAB_ID, hosts: [{ name: HOST }] })]);
  const manifests = join(root, 'manifests');
  await writeServerManifests(manifests, [fleetServer(lab, lab.host(HOST), { customer: 'acme', services: ['ping', 'http'], locale: 'en' })]);
  await Promise.all(
    NAMES.map(async (name) => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      await writeLabSecrets(join(dir, 'secrets'), lab, { 'operator-token': TOKEN });
      const port = await freePort();
      const doc = parse(
        fleetConfigYaml({
          lab,
          source: { type: 'folder', path: manifests },
          httpPort: port,
          probe: PROBE,
          // One restart an hour: the failing httpd escalates after its first attempt.
          remediation: { restartsPerServicePerHour: 1, destructiveWaitSeconds: 0 },
        }),
      ) as Record<string, Record<string, unknown>>;
      doc.http = { ...doc.http, tokens: [{ scope: 'operator', secretRef: 'operator-token' }] };
      doc.cluster = { endpoints: etcd.endpoints, prefix: `/mamori-routing/${process.pid}`, replica: name, leaseSeconds: 3, stepDeadlineSeconds: 10 };
      const config = join(dir, 'mamori.yaml');
      writeFileSync(config, stringify(doc, { lineWidth: 0 }));
      replicas.set(name, { name, dir, config, daemon: await spawnDaemon({ cwd: dir, config, port }) });
    }),
  );
}, 180_000);

afterAll(async () => {
  for (const r of replicas.values()) {
    if (r.daemon.child.exitCode !== null || r.daemon.child.signalCode !== null) continue;
    r.daemon.child.kill('SIGTERM');
    await Promise.race([r.daemon.exited, sleep(15_000)]);
  }
  killStrays();
  await etcd?.close();
  await lab?.stop();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
}, 90_000);

describe('three replicas: resume, reconcile --once and the report from any replica', () => {
  it('resume sent to a non-owner releases the server on its owner; the report covers the three journals', async () => {
    const all = [...replicas.values()];
    await until('every replica sees the three', () => all.every((r) => viewOf(r) === [...NAMES].sort().join(',')), 30_000);
    const owner = replicas.get(ownerOf(ID, NAMES)!)!;
    const [asked, third] = all.filter((r) => r !== owner) as [Replica, Replica];
    await until(`${HOST} http Healthy on its owner ${owner.name}`, async () => (await httpState(owner)) === 'Healthy', 30_000);

    // httpd fails every start now, and stops: one restart (the budget), then Escalated on the owner.
    const failing = `mv /etc/init.d/httpd /etc/init.d/httpd.good && printf '#!/bin/sh\\necho "Starting httpd: [FAILED]"\\nexit 1\\n' >/etc/init.d/httpd && chmod 755 /etc/init.d/httpd`;
    expect((await lab.console(HOST, failing)).code).toBe(0);
    await lab.breakService(HOST, 'httpd');
    await until(`${HOST} http Escalated on ${owner.name}`, async () => (await httpState(owner)) === 'Escalated', 40_000);
    await lab.console(HOST, 'mv /etc/init.d/httpd.good /etc/init.d/httpd');
    // Held: still Escalated a few probes later (nobody repairs it on their own).
    await sleep(3 * PROBE.intervalSeconds * 1000);
    expect(await httpState(owner)).toBe('Escalated');

    // A forward that lands on a non-owner is answered there and goes no further.
    const looped = await api(third, 'POST', '/api/resume', { server: ID, service: 'http' }, { 'x-mamori-forwarded-by': asked.name });
    expect(looped.status).toBe(409);
    expect(looped.json.code).toBe('MAMORI_CLUSTER_NOT_OWNER');

    const mark = owner.daemon.logs.length;
    const resumed = await api(asked, 'POST', '/api/resume', { server: ID, service: 'http' });
    expect(resumed.status, JSON.stringify(resumed.json)).toBe(200);
    expect(resumed.json.result).toEqual({ server: ID, resumed: ['http'], replica: owner.name });
    // The owner acted (its journal), the replica asked did not.
    expect((await journalOf(owner)).filter((r) => r.type === 'resume' && r.server === ID)).toHaveLength(1);
    expect((await journalOf(asked)).filter((r) => r.type === 'resume')).toEqual([]);
    expect(asked.daemon.logs.some((l) => l.msg === 'resume forwarded to the owning replica' && l.owner === owner.name)).toBe(true);
    // Released: the owner repairs it again (the etcd hold and budget ended with the resume).
    await until(`${HOST} http Healthy again on ${owner.name}`, async () => (await httpState(owner)) === 'Healthy', 40_000);
    expect(owner.daemon.logs.slice(mark).some((l) => l.msg === 'runbook started' && l.target === 'http')).toBe(true);
    expect(owner.daemon.logs.slice(mark).some((l) => l.msg === 'cluster resume recorded: the hold ends, budgets count afresh')).toBe(true);

    // reconcile --once through a non-owner's socket (the CLI): every replica's shard, the host once.
    const cli = await run(process.execPath, [BIN, '--config', asked.config, 'reconcile', '--once', '--dry-run', '--json'], { cwd: asked.dir, timeout: 60_000 });
    const summary = JSON.parse(cli.stdout) as { servers: number; replicas: Array<{ replica: string; ok: boolean; servers: number }> };
    expect(summary.servers).toBe(1);
    expect(summary.replicas.map((r) => [r.replica, r.ok, r.servers]).sort()).toEqual(NAMES.map((n) => [n, true, n === owner.name ? 1 : 0]).sort());

    // The month so far, over the three replicas' journals: the host was watched (by its owner's).
    const now = Date.now();
    const month = new Date(now).toISOString().slice(0, 7);
    const journals = await Promise.all(all.map(journalOf));
    const report = computeMonthlyReport({ journals, customer: 'acme', month, now, desired: [] });
    const http = report.servers.find((s) => s.name === ID)?.services.find((s) => s.service === 'http');
    expect(report.missingJournals).toBeUndefined();
    expect(http?.downMs).toBeGreaterThan(0);
    expect(http?.upMs).toBeGreaterThan(0);
    // The same from a non-owner's /report: it reads the other replicas' journals over their APIs.
    const viaApi = await api(asked, 'GET', `/report?customer=acme&month=${month}&format=json`);
    expect(viaApi.status).toBe(200);
    expect(viaApi.json.missingJournals).toBeUndefined();
    const apiHttp = (viaApi.json as unknown as { servers: Array<{ name: string; services: Array<{ service: string; downMs: number; upMs: number }> }> }).servers.find((s) => s.name === ID)?.services.find((s) => s.service === 'http');
    expect(apiHttp?.downMs).toBeGreaterThanOrEqual(http!.downMs);
    expect(apiHttp?.upMs).toBeGreaterThan(0);
    // A non-owner's journal alone watched it at most while it joined (alone, it owned everything):
    // the rest is unknown there, and the replicas whose journals are missing are named.
    const alone = computeMonthlyReport({ journals: [await journalOf(asked)], customer: 'acme', month, now, desired: [] });
    const aloneHttp = alone.servers.find((s) => s.name === ID)?.services.find((s) => s.service === 'http');
    expect(aloneHttp?.downMs).toBe(0);
    expect(aloneHttp!.upMs).toBeLessThan(http!.upMs);
    expect(aloneHttp!.unknown.daemonDownMs).toBeGreaterThan(http!.unknown.daemonDownMs + http!.downMs);
    expect(alone.missingJournals).toEqual(NAMES.filter((n) => n !== asked.name).sort());
  }, 150_000);
});
