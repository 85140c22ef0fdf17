/**
 * A reconcile pass for 10,000 servers × 6 services, probes stubbed at the interface (answers at
 * once): (1) the pure decide over the whole fleet, (2) the controller's pass — scheduling, probe
 * semaphore, decide, commit, rescheduling — with an in-memory journal and store, and (3) the heap
 * each server costs the controller. Goals: < 100 ms a pass, < 10 KB a server.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ServerDocument, ServiceName } from '../src/manifest/types.ts';
import { syntheticServer } from './synthetic-fleet.ts';
import { silentLogger } from '../src/log.ts';
import type { ProbeResult } from '../src/probe/types.ts';
import { seededRandom } from '../src/reconcile/clock.ts';
import { Controller } from '../src/reconcile/controller.ts';
import { decideServer, emptyFleetHistory, fleetStep, serverFailing } from '../src/reconcile/decide.ts';
import { HOUR_MS, pruneWindow } from '../src/reconcile/budgets.ts';
import { DueQueue } from '../src/reconcile/due-queue.ts';
import { MassFailureIndex } from '../src/reconcile/mass-failure.ts';
import { desiredFromManifest } from '../src/reconcile/desired.ts';
import { policyFromConfig } from '../src/reconcile/policy.ts';
import type { DesiredServer, FleetHistory, ObservedServer, Policy, ServerHistory } from '../src/reconcile/types.ts';
import type { Journal, JournalRecord } from '../src/status/journal.ts';
import type { StatusStore } from '../src/status/store.ts';

const SERVERS = Number(process.env.RECONCILE_BENCH_SERVERS ?? 10_000);
const SERVICES: ServiceName[] = ['ping', 'http', 'https', 'ssh', 'smtp', 'pop3'];
const PASSES = Number(process.env.RECONCILE_BENCH_PASSES ?? 10);
/** Controller passes before the measured ones (the first is the daemon's start: everything Unknown → Healthy). */
const WARMUP = Number(process.env.RECONCILE_BENCH_WARMUP ?? 5);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const doc = (i: number): ServerDocument => syntheticServer(i, SERVICES);

/**
 * 0.5 % of servers have one service down: a steady state with some incidents. 199 is prime to the
 * rack (400) and site (4) spreads, so no group looks like a mass failure.
 */
const DOWN_EVERY = Number(process.env.RECONCILE_BENCH_DOWN_EVERY ?? 199);
const isDown = (i: number, s: ServiceName): boolean => i % DOWN_EVERY === 0 && s === 'http';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** The pure functions over the whole fleet at once: the mass-failure counts rebuilt, fleetStep, then decideServer for each server. */
function fleetPass(desired: readonly DesiredServer[], observed: ReadonlyMap<string, ObservedServer>, history: FleetHistory, policy: Policy, now: number): FleetHistory {
  const index = new MassFailureIndex();
  for (const d of desired) index.set(d.name, d.groupKeys ?? [], serverFailing(d, observed.get(d.name), history.servers.get(d.name)));
  const step = fleetStep({ massFailure: history.massFailure, tripped: index.tripped(policy), now });
  let fleetPower = pruneWindow(history.fleetPowerActions, now, HOUR_MS);
  const servers = new Map<string, ServerHistory>();
  for (const d of desired) {
    const dec = decideServer(d, observed.get(d.name), history.servers.get(d.name), { policy, now, pausedBy: index.pausedBy(d.name, policy), fleetPowerActions: fleetPower });
    if (dec.powerStarted.length > 0) fleetPower = [...fleetPower, ...dec.powerStarted];
    servers.set(d.name, dec.history);
  }
  return { servers, fleetPowerActions: fleetPower, massFailure: step.massFailure };
}

function pureDecide(): { medianMs: number; maxMs: number; cpuMs: number } {
  const docs = Array.from({ length: SERVERS }, (_, i) => doc(i));
  const desired = docs.map(desiredFromManifest);
  const policy = policyFromConfig({ remediation: { destructiveWaitSeconds: 0 } });
  let history: FleetHistory = emptyFleetHistory();
  const times: number[] = [];
  const cpus: number[] = [];
  let now = Date.parse('2026-11-25T00:00:00Z');
  for (let p = 0; p < PASSES + 2; p++) {
    now += 30_000;
    const observed = new Map<string, ObservedServer>();
    for (let i = 0; i < SERVERS; i++) {
      const o: ObservedServer = {};
      for (const s of SERVICES) o[s] = { up: !isDown(i, s), at: now - 100, latencyMs: 2 };
      observed.set(`srv${i}`, o);
    }
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    history = fleetPass(desired, observed, history, policy, now);
    const c = process.cpuUsage(c0);
    if (p >= 2) {
      times.push(performance.now() - t0);
      cpus.push((c.user + c.system) / 1000);
    }
  }
  return { medianMs: median(times), maxMs: Math.max(...times), cpuMs: median(cpus) };
}

/** decide + scheduling without the async probe plumbing: per server the controller's synchronous core. */
function syncCore(): { medianMs: number; cpuMs: number } {
  const desired = Array.from({ length: SERVERS }, (_, i) => desiredFromManifest(doc(i)));
  const policy = policyFromConfig({ remediation: { destructiveWaitSeconds: 0 }, massFailure: { fleetFraction: 1 } });
  const index = new MassFailureIndex();
  const queue = new DueQueue();
  const random = seededRandom(3);
  const history = new Map<string, ServerHistory>();
  let now = Date.parse('2026-11-25T00:00:00Z');
  const times: number[] = [];
  const cpus: number[] = [];
  for (let p = 0; p < PASSES + 2; p++) {
    now += 30_000;
    const observedAll = desired.map((d, i) => {
      const o: ObservedServer = {};
      for (const s of SERVICES) o[s] = { up: !isDown(i, s), at: now - 100, latencyMs: 2 };
      return [d, o] as const;
    });
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const [d, o] of observedAll) {
      const prev = history.get(d.name);
      index.set(d.name, d.groupKeys ?? [], serverFailing(d, o, prev));
      const dec = decideServer(d, o, prev, { policy, now, fleetPowerActions: [], pausedBy: index.pausedBy(d.name, policy) });
      if (dec.history !== prev) history.set(d.name, dec.history);
      queue.schedule(d.name, dec.nextProbeAt + (dec.fast ? 0 : policy.intervalMs * policy.jitter * (2 * random() - 1)));
    }
    queue.popDue(now + 60_000);
    const c = process.cpuUsage(c0);
    if (p >= 2) {
      times.push(performance.now() - t0);
      cpus.push((c.user + c.system) / 1000);
    }
  }
  return { medianMs: median(times), cpuMs: median(cpus) };
}

const memJournal = (): Journal & { count: number } => {
  let seq = 0;
  const j = {
    dir: 'memory',
    count: 0,
    append: async (e: Omit<JournalRecord, 'seq' | 'ts'>) => {
      j.count++;
      return { ...e, seq: ++seq, ts: '' } as JournalRecord;
    },
    close: async () => undefined,
  };
  return j;
};

const memStore = (): StatusStore => ({
  dir: 'memory',
  write: async () => undefined,
  read: async () => undefined,
  list: async () => [],
  archive: async () => undefined,
});

async function controllerPass(): Promise<{ medianMs: number; maxMs: number; cpuMs: number; heapPerServerBytes: number; journal: number }> {
  const docs = Array.from({ length: SERVERS }, (_, i) => doc(i));
  const indexOf = new Map(docs.map((d, i) => [d.metadata.name, i]));
  const probe = async (d: ServerDocument, service: ServiceName): Promise<ProbeResult> => {
    const i = indexOf.get(d.metadata.name) ?? 0;
    const up = !isDown(i, service);
    return { service, target: d.spec.address, up, latencyMs: 1, startedAt: '', ...(up ? {} : { failure: { kind: 'refused', phase: 'connect', message: 'refused' } }) };
  };
  gc();
  const before = process.memoryUsage().heapUsed;
  const journal = memJournal();
  const controller = new Controller({
    policy: policyFromConfig({ probe: { concurrency: 512 }, massFailure: { fleetFraction: 1 } }),
    probe,
    executor: {
      execute: async (req) => ({
        runbook: 'x', origin: 'standard', server: req.server.metadata.name, service: req.runbook.service, startedAt: '', finishedAt: '',
        verdict: 'Recovered', message: '', steps: [], evidence: {}, acted: true, powerActions: [],
      }),
    },
    renderRunbook: (d, t) => ({ runbook: 'x', origin: 'standard', server: d.metadata.name, service: t === 'host' ? 'ping' : t, address: d.spec.address, deadlineMs: 1, steps: [] }),
    notifier: { notify: async () => undefined },
    store: memStore(),
    journal,
    logger: silentLogger(),
    random: seededRandom(1),
    probeConcurrency: 512,
    remediationConcurrency: 4,
  });
  controller.setDesired('bench', docs);
  await controller.start();
  const times: number[] = [];
  const cpus: number[] = [];
  for (let p = 0; p < PASSES + WARMUP; p++) {
    // The first pass journals 60,000 transitions and writes 10,000 status files: a daemon does that
    // once, 30 s before its next pass. Its garbage is collected before the measured passes start
    // (left in, it was marked and swept inside them), and the measured passes are the steady state
    // of a daemon that runs pass after pass: the first few after it were 30–80 ms slower.
    if (p === WARMUP) gc();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await controller.reconcileOnce();
    const c = process.cpuUsage(c0);
    if (p >= WARMUP) {
      times.push(performance.now() - t0);
      cpus.push((c.user + c.system) / 1000);
    }
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  // Probe function and docs are the daemon's anyway (the loader holds the manifests): subtract them.
  const docsOnly = (() => {
    gc();
    const b = process.memoryUsage().heapUsed;
    const copy = Array.from({ length: SERVERS }, (_, i) => doc(i));
    gc();
    const a = process.memoryUsage().heapUsed;
    void copy.length;
    return a - b;
  })();
  await controller.stop({ deadlineMs: 1000 });
  return { medianMs: median(times), maxMs: Math.max(...times), cpuMs: median(cpus), heapPerServerBytes: Math.round((after - before - docsOnly) / SERVERS), journal: journal.count };
}

type Phase = 'pure' | 'core' | 'controller';

/**
 * Each measurement in a fresh process. Run one after another in one heap, the controller's pass
 * could pay for garbage the earlier ones left (old-space marking: its CPU time was above its
 * wall time) and ran decide with type feedback from the bench's own observation objects, a shape
 * the daemon never makes. The daemon runs only the controller; so does its measurement.
 */
async function inChild<T>(phase: Phase): Promise<T> {
  const { execFile } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  return new Promise<T>((resolve, reject) => {
    execFile(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], { env: { ...process.env, RECONCILE_BENCH_PHASE: phase }, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err !== null) reject(err);
      else resolve(JSON.parse(stdout) as T);
    });
  });
}

export async function run(): Promise<void> {
  const pure = process.env.ONLY_CONTROLLER ? { medianMs: 0, maxMs: 0, cpuMs: 0 } : await inChild<Awaited<ReturnType<typeof pureDecide>>>('pure');
  process.stdout.write(
    `decide (pure, the whole fleet incl. rebuilding the mass-failure index), ${SERVERS} servers × ${SERVICES.length} services: ` +
      `median ${pure.medianMs.toFixed(1)} ms a pass (max ${pure.maxMs.toFixed(1)}), CPU ${pure.cpuMs.toFixed(1)} ms\n`,
  );
  if (!process.env.ONLY_CONTROLLER) {
    const core = await inChild<ReturnType<typeof syncCore>>('core');
    process.stdout.write(`decide + scheduling, server by server as the controller does (incremental mass-failure index, due queue with jitter): median ${core.medianMs.toFixed(1)} ms a pass, CPU ${core.cpuMs.toFixed(1)} ms\n`);
  }
  const ctl = await inChild<Awaited<ReturnType<typeof controllerPass>>>('controller');
  process.stdout.write(
    `controller pass (probe stub + semaphore + decide + commit + reschedule): median ${ctl.medianMs.toFixed(1)} ms (max ${ctl.maxMs.toFixed(1)}), CPU ${ctl.cpuMs.toFixed(1)} ms, ` +
      `heap ${(ctl.heapPerServerBytes / 1024).toFixed(2)} KB a server (manifests excluded), ${ctl.journal} journal records\n`,
  );
  process.stdout.write(`goal: < 100 ms a pass, < 10 KB a server (load average now ${(await import('node:os')).loadavg()[0]?.toFixed(1)})\n`);
}

const phase = process.env.RECONCILE_BENCH_PHASE as Phase | undefined;
if (phase !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const result = phase === 'pure' ? pureDecide() : phase === 'core' ? syncCore() : await controllerPass();
  process.stdout.write(JSON.stringify(result));
} else if (import.meta.url === `file://${process.argv[1]}`) await run();
