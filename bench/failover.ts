/**
 * Replicas on etcd (a real three-member etcd, lab 242: ports 22421–22428).
 *
 * 1. Failover at the defaults: three `mamori run` replicas (cluster lease 10 s, probe interval 30 s)
 *    share 30 servers (an HTTP peer each on its own loopback address, which notes when a probe
 *    arrives); one replica is killed -9; failover = the kill → the last of its servers probed by
 *    another replica. Goal: ≤ TTL + one interval. FAILOVER_RUNS (default 3) kills.
 * 2. etcd writes at 10,000 servers in steady state: three controllers (in-process, a table prober,
 *    the real cluster layer) share 10,000 healthy servers probed every 10 s; etcd's own counters
 *    (raft proposals committed, puts, deletes, transactions) over a 20 s window, the owners'
 *    status publications (#24, published on change as the daemon wires them) included. Goal:
 *    writes only on changes — then 50 servers fail and come back, and the writes that causes are
 *    counted too.
 *
 * Every wait is bounded. Run under the lab lock: flock /tmp/mamori-lab.lock npm run bench -- failover
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../src/cluster/cluster.ts';
import { ClusterCoordinator } from '../src/cluster/remediation-coordinator.ts';
import { ownerOf } from '../src/cluster/rendezvous.ts';
import { publishOnEvent } from '../src/cluster/status-board.ts';
import { CONFIG_DEFAULTS } from '../src/config/defaults.ts';
import { silentLogger } from '../src/log.ts';
import type { ServerDocument, ServiceName } from '../src/manifest/types.ts';
import type { ProbeResult } from '../src/probe/types.ts';
import { seededRandom } from '../src/reconcile/clock.ts';
import { Controller } from '../src/reconcile/controller.ts';
import { policyFromConfig } from '../src/reconcile/policy.ts';
import { openJournal } from '../src/status/journal.ts';
import { createStatusStore } from '../src/status/store.ts';
import { freePort, killStrays, ProbeTarget, spawnDaemon, type DaemonProcess } from '../test/daemon/daemon-process.ts';
import { startEtcdCluster, type EtcdCluster } from '../test/lab/etcd-cluster.ts';
import { RecordingNotifier, renderStub, ScriptedExecutor, serverDoc } from '../test/reconcile/harness.ts';
import { loopbackFor, serverYaml } from '../test/source/git-fixture.ts';

const ETCD_ID = 242;
const RUNS = Math.max(1, Math.min(10, Number(process.env.FAILOVER_RUNS ?? 3)));
const SERVERS = 30;
const NAMES = ['fo-1', 'fo-2', 'fo-3'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, boundMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`failover bench: ${what} did not happen within ${boundMs} ms`);
    await sleep(everyMs);
  }
}

function membersSeen(d: DaemonProcess): string {
  for (let i = d.logs.length - 1; i >= 0; i--) {
    const l = d.logs[i]!;
    if (l.msg === 'cluster membership changed' && Array.isArray(l.members)) return (l.members as string[]).slice().sort().join(',');
  }
  return '';
}

async function failoverAtDefaults(etcd: EtcdCluster, dir: string): Promise<void> {
  const ttlS = 10;
  const intervalS = CONFIG_DEFAULTS.probe.intervalSeconds;
  const targets: ProbeTarget[] = [];
  const daemons = new Map<string, DaemonProcess>();
  try {
    const manifests = join(dir, 'manifests');
    await mkdir(join(manifests, 'customers', 'acme', 'servers'), { recursive: true });
    const names = Array.from({ length: SERVERS }, (_, i) => `fo${i}`);
    for (const n of names) {
      const t = await new ProbeTarget(loopbackFor(n)).start();
      targets.push(t);
      await writeFile(join(manifests, 'customers', 'acme', 'servers', `${n}.yaml`), serverYaml(n, { port: t.port }));
    }
    const ports = new Map<string, number>();
    const start = async (name: string): Promise<void> => {
      const port = ports.get(name) ?? (await freePort());
      ports.set(name, port);
      const rdir = join(dir, name);
      await mkdir(rdir, { recursive: true });
      const config = join(rdir, 'mamori.yaml');
      // Defaults everywhere: the probe schedule, the lease (10 s), the step deadline.
      await writeFile(
        config,
        [
          'apiVersion: mamori/v1',
          'kind: Config',
          `source: { type: folder, path: ${manifests} }`,
          `http: { listen: "127.0.0.1:${port}" }`,
          'cluster:',
          `  endpoints: [${etcd.endpoints.join(', ')}]`,
          `  prefix: /mamori-bench/${process.pid}`,
          `  replica: ${name}`,
          '',
        ].join('\n'),
      );
      daemons.set(name, await spawnDaemon({ cwd: rdir, config, port }));
    };
    await Promise.all(NAMES.map(start));
    const all = NAMES.join(',');
    await until('three members seen by each replica', () => (NAMES.every((n) => membersSeen(daemons.get(n)!) === all) ? true : undefined), 60_000);
    // Every server probed once (the first pass spreads the fleet over one interval).
    await until('every server probed', () => (targets.every((t) => t.hits.length > 0) ? true : undefined), (intervalS + 15) * 1000);
    const figures: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const victim = NAMES[run % NAMES.length]!;
      const orphans = names.map((n, i) => ({ n, t: targets[i]! })).filter(({ n }) => ownerOf(`acme/${n}`, NAMES) === victim);
      // A random phase of the victim's probe schedule.
      await sleep(Math.random() * intervalS * 1000);
      const killedAt = Date.now();
      daemons.get(victim)!.kill();
      const last = await until(
        `the servers of ${victim} probed by another replica`,
        () => {
          const firsts = orphans.map(({ t }) => t.firstHitAfter(killedAt + 50));
          return firsts.every((f) => f !== undefined) ? Math.max(...(firsts as number[])) : undefined;
        },
        (ttlS + 2 * intervalS + 30) * 1000,
        100,
      );
      figures.push(last - killedAt);
      console.log(JSON.stringify({ run, killed: victim, servers: orphans.length, failoverS: +((last - killedAt) / 1000).toFixed(1) }));
      await daemons.get(victim)!.exited;
      await start(victim);
      await until('three members again', () => (NAMES.every((n) => membersSeen(daemons.get(n)!) === all) ? true : undefined), 60_000);
    }
    const sorted = [...figures].sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        figure: 'failover at the defaults: kill -9 of a replica → its last server probed by another',
        leaseSeconds: ttlS,
        intervalSeconds: intervalS,
        runs: figures.length,
        medianS: +((sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN) / 1000).toFixed(1),
        worstS: +((sorted[sorted.length - 1] ?? NaN) / 1000).toFixed(1),
        goalS: ttlS + intervalS,
      }),
    );
  } finally {
    for (const d of daemons.values()) {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill('SIGTERM');
        await Promise.race([d.exited, sleep(15_000)]);
      }
    }
    killStrays();
    for (const t of targets) await t.close();
  }
}

interface EtcdCounters {
  proposals: number;
  puts: number;
  deletes: number;
  txns: number;
}

async function etcdCounters(url: string): Promise<EtcdCounters> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  const metric = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? NaN : Number(line.slice(name.length + 1));
  };
  return {
    proposals: metric('etcd_server_proposals_committed_total'),
    puts: metric('etcd_mvcc_put_total'),
    deletes: metric('etcd_mvcc_delete_total'),
    txns: metric('etcd_mvcc_txn_total'),
  };
}

function perSecond(a: EtcdCounters, b: EtcdCounters, ms: number): Record<string, number> {
  const r = (x: number): number => +((x * 1000) / ms).toFixed(2);
  return { proposalsPerS: r(b.proposals - a.proposals), putsPerS: r(b.puts - a.puts), deletesPerS: r(b.deletes - a.deletes), txnsPerS: r(b.txns - a.txns) };
}

/** A prober for 10,000 servers: a table of down servers, a count of probes (no per-call log). */
class CountingProber {
  readonly down = new Set<string>();
  count = 0;
  probe = async (doc: ServerDocument, service: ServiceName): Promise<ProbeResult> => {
    this.count++;
    const up = !this.down.has(doc.metadata.name);
    return {
      service,
      target: `${doc.spec.address}:80`,
      up,
      latencyMs: 1,
      startedAt: new Date().toISOString(),
      ...(up ? {} : { failure: { kind: 'refused' as const, phase: 'connect' as const, message: 'connection refused' } }),
    };
  };
}

async function writesAtScale(etcd: EtcdCluster, dir: string): Promise<void> {
  const n = 10_000;
  const intervalS = 10;
  // The fleet never needs a runbook here: down servers stay below the mass-failure and repair
  // thresholds' concern (a stub executor answers Recovered).
  const policy = policyFromConfig({ probe: { intervalSeconds: intervalS, failuresToDown: 3, retryIntervalSeconds: 1 }, massFailure: { minServers: 1000, fraction: 0.9, fleetFraction: 0.9 } });
  const docs = Array.from({ length: n }, (_, i) => serverDoc(`s${i}`, `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, ['http']));
  const prefix = `/mamori-bench/${process.pid}-scale`;
  const replicas: Array<{ controller: Controller; cluster: Cluster; prober: CountingProber; close: () => Promise<void> }> = [];
  try {
    for (const name of ['w-1', 'w-2', 'w-3']) {
      const state = await mkdtemp(join(dir, `${name}-`));
      const journal = await openJournal(state);
      const cluster = new Cluster({ endpoints: etcd.endpoints, prefix, replica: name, ttlSeconds: 10, callTimeoutMs: 3000 }, silentLogger());
      await cluster.start();
      const prober = new CountingProber();
      // The owners publish their servers' status to etcd on change (#24), as the daemon wires it.
      const controller: Controller = new Controller({
        onEvent: (e) => publishOnEvent(cluster.statusBoard, (server) => controller.statusOf(server), e),
        policy,
        probe: prober.probe,
        executor: new ScriptedExecutor(),
        renderRunbook: renderStub,
        notifier: new RecordingNotifier(),
        store: createStatusStore(state),
        journal,
        logger: silentLogger(),
        random: seededRandom(11),
        coordinator: new ClusterCoordinator(cluster, policy, 60_000, silentLogger()),
      });
      cluster.membership.onChange(() => controller.ownershipChanged());
      replicas.push({
        controller,
        cluster,
        prober,
        close: async () => {
          await controller.stop({ deadlineMs: 2000 });
          await journal.close();
          await cluster.stop();
        },
      });
    }
    await until('three members seen by each', () => (replicas.every((r) => r.cluster.membership.members().length === 3) ? true : undefined), 30_000);
    for (const r of replicas) {
      r.controller.setDesired('rev1', docs);
      await r.controller.start();
    }
    // Warm-up: two whole intervals, so every replica has judged every server of its shard.
    await sleep(2 * intervalS * 1000 + 5000);
    const url = etcd.endpoints[0]!;
    const probes0 = replicas.reduce((a, r) => a + r.prober.count, 0);
    const c0 = await etcdCounters(url);
    const windowMs = 20_000;
    await sleep(windowMs);
    const c1 = await etcdCounters(url);
    const probes1 = replicas.reduce((a, r) => a + r.prober.count, 0);
    console.log(JSON.stringify({ figure: `etcd writes, ${n} healthy servers over 3 replicas, steady state`, windowS: windowMs / 1000, probesPerS: Math.round(((probes1 - probes0) * 1000) / windowMs), ...perSecond(c0, c1, windowMs), goal: 'writes only on changes (0 puts/deletes/txns a second)' }));

    // 50 servers fail, then come back: the failing marks are written once each way.
    const flip = docs.slice(0, 50).map((d) => d.metadata.name);
    const c2 = await etcdCounters(url);
    for (const r of replicas) for (const s of flip) r.prober.down.add(s);
    await sleep(2 * intervalS * 1000 + 2000);
    for (const r of replicas) for (const s of flip) r.prober.down.delete(s);
    await sleep(2 * intervalS * 1000 + 2000);
    const c3 = await etcdCounters(url);
    console.log(JSON.stringify({ figure: '50 servers down, then up again (writes that change caused)', proposals: c3.proposals - c2.proposals, puts: c3.puts - c2.puts, deletes: c3.deletes - c2.deletes, txns: c3.txns - c2.txns }));
  } finally {
    for (const r of replicas) await r.close().catch(() => undefined);
  }
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mamori-failover-'));
  let etcd: EtcdCluster | undefined;
  try {
    etcd = await startEtcdCluster(ETCD_ID);
    const part = process.env.FAILOVER_PART;
    if (part === undefined || part === 'failover') await failoverAtDefaults(etcd, dir);
    if (part === undefined || part === 'writes') await writesAtScale(etcd, dir);
  } finally {
    killStrays();
    await etcd?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
