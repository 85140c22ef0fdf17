/**
 * Replicas sharing a fleet through a REAL three-member etcd (Debian's etcd-server on the loopback,
 * lab id 240). Each replica is its own process (test/cluster/replica-driver.ts: the cluster layer as
 * production wires it, with faults as files and a runbook step as a line in the host's log), so that
 * it can be killed -9 and SIGSTOPped. The host log is the judge: each step at most once per incident.
 *
 * Run under the lab lock: flock /tmp/mamori-lab.lock npx vitest run test/cluster/replicas.lab.test.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Cluster } from '../../src/cluster/cluster.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import type { Policy } from '../../src/reconcile/types.ts';
import { startEtcdCluster, type EtcdCluster } from '../lab/etcd-cluster.ts';
import { rm } from 'node:fs/promises';
import { ClusterCoordinator } from '../../src/cluster/remediation-coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { seededRandom } from '../../src/reconcile/clock.ts';
import { Controller } from '../../src/reconcile/controller.ts';
import { openJournal, readJournal } from '../../src/status/journal.ts';
import { createStatusStore } from '../../src/status/store.ts';
import { RecordingNotifier, renderStub, ScriptedExecutor, serverDoc, TableProber, tempStateDir } from '../reconcile/harness.ts';

const LAB_ID = 240;
const TTL = 3;
const root = join(import.meta.dirname, '..', '..');

interface Event {
  event: string;
  replica: string;
  t: number;
  [k: string]: unknown;
}

interface Replica {
  name: string;
  proc: ChildProcess;
  events: Event[];
}

let etcd: EtcdCluster;
let dir: string;
let replicas: Replica[] = [];
let prefixN = 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function policy(over: Partial<Policy> = {}): Policy {
  return { ...policyFromConfig(), restartsPerServicePerHour: 1, powerCyclesPerServerPer6h: 1, massMinServers: 3, massFraction: 0.5, fleetFraction: 0.5, powerActionsPerHour: 10, ...over };
}

interface Setup {
  prefix: string;
  servers: Array<{ name: string; groups: string[] }>;
  faults: string;
  hostLog: string;
  policy: Policy;
  stepDelayMs: number;
  stepDeadlineMs: number;
  pauseAfterClaimMs: number;
}

function setup(servers: Array<{ name: string; groups: string[] }>, over: Partial<Setup> = {}): Setup {
  const faults = join(dir, `faults-${prefixN}`);
  mkdirSync(faults, { recursive: true });
  return {
    prefix: `/mamori-test/${process.pid}-${prefixN++}`,
    servers,
    faults,
    hostLog: join(dir, `host-${prefixN}.log`),
    policy: policy(),
    stepDelayMs: 300,
    stepDeadlineMs: 4000,
    pauseAfterClaimMs: 0,
    ...over,
  };
}

function startReplica(s: Setup, name: string): Replica {
  const cfg = {
    endpoints: etcd.endpoints, prefix: s.prefix, replica: name, ttlSeconds: TTL, servers: s.servers, faults: s.faults, hostLog: s.hostLog,
    probeMs: 200, destructiveWaitMs: 1000, stepDelayMs: s.stepDelayMs, pauseAfterClaimMs: s.pauseAfterClaimMs, stepDeadlineMs: s.stepDeadlineMs, policy: s.policy,
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/cluster/replica-driver.ts'), JSON.stringify(cfg)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Replica = { name, proc, events: [] };
  let buf = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const e = JSON.parse(line) as Event;
        if (e.event !== 'probed' || r.events.length < 20_000) r.events.push(e);
      } catch { /* not an event */ }
    }
  });
  proc.stderr?.on('data', (d: Buffer) => { if (process.env.MAMORI_TEST_VERBOSE) process.stderr.write(`[${name}] ${d.toString()}`); });
  replicas.push(r);
  return r;
}

function lastProbe(r: Replica): Event | undefined {
  for (let i = r.events.length - 1; i >= 0; i--) if (r.events[i]!.event === 'probed') return r.events[i];
  return undefined;
}

function allEvents(name: string): Event[] {
  return replicas.flatMap((r) => r.events.filter((e) => e.event === name));
}

function hostLines(s: Setup): Array<{ server: string; incident: string; step: string; replica: string }> {
  if (!existsSync(s.hostLog)) return [];
  return readFileSync(s.hostLog, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { server: string; incident: string; step: string; replica: string });
}

function inject(s: Setup, server: string, repairedBy: 'restart' | 'power' | 'nothing'): void {
  writeFileSync(join(s.faults, server.replace('/', '__')), repairedBy);
}

function faulty(s: Setup, server: string): boolean {
  return existsSync(join(s.faults, server.replace('/', '__')));
}

/** Every step at most once per incident in the host's own log. */
function expectAtMostOncePerStep(s: Setup): void {
  const seen = new Set<string>();
  for (const l of hostLines(s)) {
    const k = `${l.server} ${l.incident} ${l.step}`;
    expect(seen.has(k), `step repeated on the host: ${k}`).toBe(false);
    seen.add(k);
  }
}

/** Waits until the live replicas agree on 3-way ownership: each server owned by exactly one. */
async function settled(s: Setup, live: Replica[]): Promise<Map<string, string>> {
  return until('ownership settled', () => {
    const owner = new Map<string, string>();
    for (const r of live) {
      const p = lastProbe(r);
      if (p === undefined || p.phase !== 'active') return undefined;
      for (const srv of p.servers as string[]) {
        if (owner.has(srv)) return undefined;
        owner.set(srv, r.name);
      }
    }
    return owner.size === s.servers.length ? owner : undefined;
  }, 40_000);
}

function fleet(n: number, net: (i: number) => string, customer = 'acme'): Array<{ name: string; groups: string[] }> {
  return Array.from({ length: n }, (_, i) => ({ name: `${customer}/web${i}`, groups: [`network:${net(i)}`] }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-replicas-'));
  etcd = await startEtcdCluster(LAB_ID);
}, 90_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') {
    for (const r of replicas) console.log(r.name, JSON.stringify(r.events.filter((e) => e.event !== 'probed')));
  }
  for (const r of replicas) {
    if (r.proc.exitCode === null && r.proc.signalCode === null) {
      r.proc.kill('SIGCONT');
      r.proc.kill('SIGKILL');
    }
  }
  replicas = [];
  for (const m of etcd.members) if (!(await m.healthy())) await m.start();
});

afterAll(async () => {
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('replicas on a three-member etcd', () => {
  it('three replicas share 30 servers, each owned by exactly one; three faults → three restarts, all recovered', async () => {
    const s = setup(fleet(30, (i) => `10.240.${i % 10}.0/24`));
    const rs = ['r-a', 'r-b', 'r-c'].map((n) => startReplica(s, n));
    const owners = await settled(s, rs);
    expect(new Set(owners.values()).size).toBe(3);
    const victims = ['acme/web1', 'acme/web12', 'acme/web23'];
    for (const v of victims) inject(s, v, 'restart');
    await until('three recoveries', () => victims.every((v) => !faulty(s, v)) && allEvents('recovered').length >= 3);
    await sleep(1500); // a late duplicate would show here
    const lines = hostLines(s);
    expect(lines.map((l) => l.server).sort()).toEqual([...victims].sort());
    expect(lines.every((l) => l.step === 'restart-1' && l.replica === owners.get(l.server))).toBe(true);
    expectAtMostOncePerStep(s);
  }, 90_000);

  it('kill -9 of the owner mid-runbook, in a bounded random loop: another replica takes over and never repeats a step', async () => {
    const seed = Number(process.env.MAMORI_TEST_SEED ?? Date.now() % 100_000);
    console.log(`replica kill loop seed=${seed}`);
    let x = seed;
    const rand = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x % n;
    };
    const s = setup(fleet(12, (i) => `10.241.${i}.0/24`), { stepDelayMs: 800, stepDeadlineMs: 2500 });
    let live = ['k-1', 'k-2', 'k-3'].map((n) => startReplica(s, n));
    let next = 4;
    const unused = Array.from({ length: 12 }, (_, i) => `acme/web${i}`);
    for (let round = 0; round < 3; round++) {
      const owners = await settled(s, live);
      const server = unused.splice(rand(unused.length), 1)[0]!; // an escalated server stays held
      const killAt = (['claimed', 'intent', 'acted'] as const)[rand(3)]!;
      const owner = live.find((r) => r.name === owners.get(server))!;
      inject(s, server, 'power'); // the restart does not repair it; the power step would
      const mark = owner.events.length;
      await until(`${killAt} by ${owner.name}`, () => owner.events.slice(mark).some((e) => e.event === killAt && e.server === server));
      owner.proc.kill('SIGKILL');
      const killedAt = Date.now();
      console.log(`round ${round}: ${server} owner ${owner.name} killed at ${killAt}`);
      live = live.filter((r) => r !== owner);
      // Failover: another replica probes it within TTL + two intervals, and the incident ends.
      const end = await until('the incident ends (recovered or escalated) under a new owner', () =>
        live.flatMap((r) => r.events).find((e) => (e.event === 'recovered' || e.event === 'escalated') && e.server === server && e.t > killedAt), 30_000);
      console.log(`round ${round}: ${end.event} by ${end.replica} ${end.t - killedAt} ms after the kill`);
      expectAtMostOncePerStep(s);
      // The killed owner's step in doubt is never repeated: restart-1 at most once for this server.
      expect(hostLines(s).filter((l) => l.server === server && l.step === 'restart-1').length).toBeLessThanOrEqual(1);
      rmSync(join(s.faults, server.replace('/', '__')), { force: true });
      live.push(startReplica(s, `k-${next++}`));
    }
  }, 240_000);

  it('SIGSTOP of a claim holder past its lease: another takes over; resumed, it acts no more', async () => {
    const s = setup(fleet(9, (i) => `10.242.${i}.0/24`), { pauseAfterClaimMs: 1500 });
    const rs = ['s-a', 's-b', 's-c'].map((n) => startReplica(s, n));
    const owners = await settled(s, rs);
    const server = 'acme/web4';
    const holder = rs.find((r) => r.name === owners.get(server))!;
    inject(s, server, 'restart');
    await until('the holder claims', () => holder.events.some((e) => e.event === 'claimed' && e.server === server));
    holder.proc.kill('SIGSTOP');
    const others = rs.filter((r) => r !== holder);
    await until('another replica recovers it', () => others.flatMap((r) => r.events).some((e) => e.event === 'recovered' && e.server === server), 30_000);
    const mark = holder.events.length;
    holder.proc.kill('SIGCONT');
    const refused = await until('the resumed holder is refused', () => holder.events.slice(mark).find((e) => e.event === 'step-refused' && e.server === server), 20_000);
    expect(['fenced', 'draining']).toContain(refused.reason);
    await sleep(1000);
    expect(hostLines(s).filter((l) => l.server === server)).toHaveLength(1);
    expect(hostLines(s)[0]!.replica).not.toBe(holder.name);
    // And it rejoins with a fresh lease.
    await until('the resumed holder active again', () => lastProbe(holder)?.phase === 'active' && lastProbe(holder)!.t > refused.t, 20_000);
  }, 90_000);

  it('the transaction itself refuses a claim whose lease is gone, even while the local clock still says active', async () => {
    const s = setup(fleet(1, () => '10.243.0.0/24'));
    const log = pino({ level: 'silent' });
    const c = new Cluster({ endpoints: etcd.endpoints, prefix: s.prefix, replica: 'txn-a', ttlSeconds: 30, callTimeoutMs: 2000 }, log);
    await c.start();
    try {
      const got = await c.claims.claim('acme/web0', 'http');
      expect(got.ok).toBe(true);
      if (!got.ok) return;
      // Another party revokes the lease (as its expiry on the server would): the claim key goes.
      await c.session.client.leaseClient.leaseRevoke({ ID: got.claim.lease });
      expect(c.phase()).toBe('active');
      const res = await c.claims.beginStep(got.claim, { step: 'restart-1', kind: 'restart', deadlineMs: 1000 }, () => undefined);
      expect(res).toMatchObject({ ok: false, reason: 'fenced' });
      expect(await c.claims.steps('acme/web0')).toHaveLength(0);
    } finally {
      await c.stop();
    }
  }, 30_000);

  it('etcd member loss: one member down, remediation goes on once; quorum lost, probing goes on, nothing acts; back, each fault repaired once', async () => {
    const s = setup(fleet(9, (i) => `10.244.${i}.0/24`));
    const rs = ['e-a', 'e-b', 'e-c'].map((n) => startReplica(s, n));
    await settled(s, rs);
    await etcd.members[0]!.kill();
    inject(s, 'acme/web2', 'restart');
    await until('repaired with one member down', () => !faulty(s, 'acme/web2') && allEvents('recovered').some((e) => e.server === 'acme/web2'), 30_000);

    await etcd.members[1]!.kill();
    await until('every replica fenced', () => rs.every((r) => lastProbe(r)?.phase === 'fenced'), 20_000);
    const fencedAt = Date.now();
    inject(s, 'acme/web5', 'restart');
    // Probing goes on (each replica reports its passes) while nothing acts.
    await sleep(3 * TTL * 1000);
    for (const r of rs) expect(r.events.filter((e) => e.event === 'probed' && e.t > fencedAt).length).toBeGreaterThan(5);
    expect(hostLines(s).filter((l) => l.server === 'acme/web5')).toHaveLength(0);

    await etcd.members[0]!.start();
    await etcd.members[1]!.start();
    await until('repaired once etcd is back', () => !faulty(s, 'acme/web5'), 60_000);
    await sleep(1500);
    expect(hostLines(s).filter((l) => l.server === 'acme/web5')).toHaveLength(1);
    expectAtMostOncePerStep(s);
  }, 180_000);

  it('a /24 whose servers are spread over three replicas trips the mass-failure pause as it would alone', async () => {
    const s = setup([...fleet(10, () => '10.245.1.0/24'), ...fleet(6, (i) => `10.245.${10 + i}.0/24`, 'globex')]);
    const rs = ['m-a', 'm-b', 'm-c'].map((n) => startReplica(s, n));
    const owners = await settled(s, rs);
    const victims = Array.from({ length: 6 }, (_, i) => `acme/web${i}`);
    expect(new Set(victims.map((v) => owners.get(v))).size).toBeGreaterThan(1);
    for (const v of victims) inject(s, v, 'restart');
    await until('paused by more than one replica', () => new Set(allEvents('paused').map((e) => e.replica)).size > 1, 30_000);
    await sleep(2000);
    expect(hostLines(s)).toHaveLength(0);
    // A server of another network is repaired meanwhile.
    inject(s, 'globex/web2', 'restart');
    await until('globex/web2 repaired', () => !faulty(s, 'globex/web2'), 30_000);
    expect(hostLines(s).map((l) => l.server)).toEqual(['globex/web2']);
  }, 90_000);

  it('the fleet power limit holds across replicas', async () => {
    const s = setup(fleet(12, (i) => `10.246.${i}.0/24`), { policy: policy({ powerActionsPerHour: 2 }) });
    const rs = ['p-a', 'p-b', 'p-c'].map((n) => startReplica(s, n));
    const owners = await settled(s, rs);
    const victims = ['acme/web0', 'acme/web3', 'acme/web6', 'acme/web9', 'acme/web11'];
    expect(new Set(victims.map((v) => owners.get(v))).size).toBeGreaterThan(1);
    for (const v of victims) inject(s, v, 'power');
    await until('every power fault repaired or escalated', () =>
      victims.every((v) => !faulty(s, v) || allEvents('escalated').some((e) => e.server === v)), 40_000);
    await sleep(1500);
    const power = hostLines(s).filter((l) => l.step === 'power-1');
    expect(power).toHaveLength(2);
    expect(allEvents('escalated').filter((e) => String(e.reason).startsWith('fleet power limit')).length).toBeGreaterThanOrEqual(3);
    expectAtMostOncePerStep(s);
  }, 90_000);
});

describe('the real controller on the cluster layer', () => {
  const controllerPolicy = (): Policy => policyFromConfig({ probe: { failuresToDown: 2, retryIntervalSeconds: 1, intervalSeconds: 10 }, remediation: { destructiveWaitSeconds: 0 } });

  async function controllerReplica(prefix: string, name: string, endpoints: string[]) {
    const state = await tempStateDir();
    const journal = await openJournal(state);
    const cluster = new Cluster({ endpoints, prefix, replica: name, ttlSeconds: TTL, callTimeoutMs: 1500 }, silentLogger());
    await cluster.start();
    const prober = new TableProber();
    const executor = new ScriptedExecutor();
    const controller = new Controller({
      policy: controllerPolicy(),
      probe: prober.probe,
      executor,
      renderRunbook: renderStub,
      notifier: new RecordingNotifier(),
      store: createStatusStore(state),
      journal,
      logger: silentLogger(),
      random: seededRandom(7),
      coordinator: new ClusterCoordinator(cluster, controllerPolicy(), 60_000, silentLogger()),
    });
    const close = async (): Promise<void> => {
      await controller.stop({ deadlineMs: 1000 });
      await journal.close();
      await cluster.stop();
      await rm(state, { recursive: true, force: true });
    };
    return { name, state, cluster, prober, executor, controller, close };
  }

  it('three controllers on one fleet: each server probed by exactly one; a server down → one runbook, one started record in all journals', async () => {
    const prefix = `/mamori-test/${process.pid}-ctl`;
    const docs = Array.from({ length: 12 }, (_, i) => serverDoc(`web${i}`, `10.231.247.${10 + i}`));
    const rs = await Promise.all(['c-1', 'c-2', 'c-3'].map((n) => controllerReplica(prefix, n, etcd.endpoints)));
    try {
      await until('three members seen by each', () => rs.every((r) => r.cluster.membership.members().length === 3));
      for (const r of rs) {
        r.controller.setDesired('rev1', docs);
        await r.controller.start(undefined, { schedule: false });
      }
      for (const r of rs) await r.controller.reconcileOnce();
      const probedBy = new Map<string, string[]>();
      for (const r of rs) for (const c of r.prober.calls) probedBy.set(c.split('/')[0]!, [...new Set([...(probedBy.get(c.split('/')[0]!) ?? []), r.name])]);
      expect(probedBy.size).toBe(12);
      for (const [, by] of probedBy) expect(by).toHaveLength(1);

      for (const r of rs) r.prober.set('web5', 'http', false);
      for (let pass = 0; pass < 3; pass++) for (const r of rs) await r.controller.reconcileOnce();
      expect(rs.flatMap((r) => r.executor.runs)).toEqual([{ server: 'web5', service: 'http', verdict: 'Recovered' }]);
      const started = (await Promise.all(rs.map(async (r) => (await readJournal(r.state)).records.filter((x) => x.type === 'started').length))).reduce((a, b) => a + b, 0);
      expect(started).toBe(1);
      const owner = rs.find((r) => r.executor.runs.length === 1)!;
      expect(owner.cluster.owns('acme/web5')).toBe(true);
      // The step is recorded in etcd with its outcome, and the claim was given back.
      const steps = await owner.cluster.claims.steps('acme/web5');
      expect(steps.filter((s) => s.step !== 'closed')).toEqual([expect.objectContaining({ kind: 'restart', outcome: expect.objectContaining({ result: 'Recovered' }) })]);
      expect((await owner.cluster.status()).claims).toHaveLength(0);
    } finally {
      for (const r of rs) await r.close();
    }
  }, 60_000);

  it('etcd unreachable: the controller keeps probing every server, starts no runbook, and says why', async () => {
    const r = await controllerReplica(`/mamori-test/${process.pid}-alone`, 'c-cut', [`http://127.0.0.1:${20000 + LAB_ID * 10 + 9}`]);
    try {
      expect(r.cluster.canRemediate()).toBe(false);
      expect(r.cluster.notReadyReason()).toMatch(/etcd unreachable/);
      r.controller.setDesired('rev1', [serverDoc('web0', '10.231.247.10'), serverDoc('web1', '10.231.247.11')]);
      r.prober.set('web0', 'http', false);
      await r.controller.start();
      // Scheduled as the daemon runs it: a pass that would start a runbook fails and is retried; probing goes on.
      await until('web0 probed again and again, web1 too', () => r.prober.calls.filter((c) => c === 'web0/http').length >= 4 && r.prober.calls.includes('web1/http'), 40_000);
      expect(r.executor.runs).toHaveLength(0);
      expect((await readJournal(r.state)).records.filter((x) => x.type === 'started')).toHaveLength(0);
    } finally {
      await r.close();
    }
  }, 60_000);
});
