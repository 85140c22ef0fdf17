/**
 * The per-result path at fleet scale (issue 28): everything the daemon does with a probe result
 * after the prober returns it — the server pass (semaphore, observation, decide, commit, the due
 * queue), the events' fan-out to the status page's live state and the metrics, the pass's own
 * metrics (duration, lateness) — for PASS_SERVERS servers × 6 services on the real clock at the
 * daemon's interval (default 10,000 × 6 every 30 s: 2,000 results a second), probes stubbed at the
 * interface (a result like the prober's, at once; no socket). Printed per lane: µs of CPU a result
 * (user + system of the whole process, GC helper threads included), bytes allocated a result, and
 * the main thread's GC pauses; then one /metrics render of the whole fleet.
 *
 * Before and after side by side in one run: each lane runs in a fresh child process, once with the
 * tree at PASS_BASE (default the commit that first had this bench's lanes measured, 940ffb4;
 * extracted to a temporary folder with `git archive`) and once with this tree. PASS_FORKS (forks a
 * second, default "0,2"): the daemon forks fping up to twice a second (at 940ffb4), and after a
 * fork the first write to each page of the daemon's memory is a copy-on-write page fault, so the
 * layout of what a result writes matters; each lane runs once per value (a `/bin/true` spawned
 * from the same process at that rate).
 * PASS_WARMUP_S (default 35: the first round, spread over one interval, Unknown → Healthy),
 * PASS_WINDOW_S (default 20). Bounded: every lane ends after warm-up + window + 60 s at most.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GCProfiler, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as MetricsModule from '../src/http/metrics.ts';
import type * as LiveStateModule from '../src/http/page/live-state.ts';
import type * as LogModule from '../src/log.ts';
import type { ServerDocument as Doc } from '../src/manifest/types.ts';
import type { ProbeResult as Result } from '../src/probe/types.ts';
import type * as ControllerModule from '../src/reconcile/controller.ts';
import type { ControllerEvent as Event } from '../src/reconcile/loop-types.ts';
import type * as PolicyModule from '../src/reconcile/policy.ts';
import { syntheticServer } from './synthetic-fleet.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
const SERVERS = Math.max(1, Math.min(30_000, Number(process.env.PASS_SERVERS ?? 10_000)));
const SERVICES = ['ping', 'ssh', 'http', 'ftp', 'smtp', 'imap'] as const;
const INTERVAL_S = Math.max(1, Number(process.env.PASS_INTERVAL_S ?? 30));
const WARMUP_S = Math.max(1, Number(process.env.PASS_WARMUP_S ?? INTERVAL_S + 5));
const WINDOW_S = Math.max(1, Math.min(300, Number(process.env.PASS_WINDOW_S ?? 20)));
const BASE = process.env.PASS_BASE ?? '940ffb4';
const FORKS = (process.env.PASS_FORKS ?? '0,2').split(',').map(Number).filter((n) => Number.isFinite(n) && n >= 0 && n <= 20);

interface LaneResult {
  results: number;
  cpuUs: number;
  userUs: number;
  allocatedBytes: number;
  gcPauseMs: number;
  gcs: Record<string, number>;
  forks: number;
  heapMB: number;
  rssMB: number;
  lateP99Ms: number;
  metricsMs: number;
  metricsBytes: number;
}

/** In the child: one lane with the modules of `src` (this tree's or the base's). */
async function lane(src: string, forksPerS: number): Promise<LaneResult> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(src, path)).href) as Promise<T>;
  const { Controller } = await load<typeof ControllerModule>('reconcile/controller.ts');
  const { policyFromConfig } = await load<typeof PolicyModule>('reconcile/policy.ts');
  const { silentLogger } = await load<typeof LogModule>('log.ts');
  const { PageLiveState } = await load<typeof LiveStateModule>('http/page/live-state.ts');
  const { MamoriMetrics } = await load<typeof MetricsModule>('http/metrics.ts');

  const docs: Doc[] = Array.from({ length: SERVERS }, (_, i) => syntheticServer(i, [...SERVICES]));
  let results = 0;
  // Like the prober's result (src/probe/result.ts): a fresh object with the start as an ISO string.
  const probe = (d: Doc, service: Result['service']): Promise<Result> => {
    results++;
    const started = Date.now();
    return Promise.resolve({ service, target: d.spec.address, up: true, latencyMs: 0.4 + (results % 7) * 0.3, startedAt: new Date(started).toISOString() });
  };
  const page = new PageLiveState();
  const metrics = new MamoriMetrics();
  const late: number[] = [];
  // What the daemon does with each event (src/daemon.ts onControllerEvent, the parts a steady fleet reaches).
  const onEvent = (e: Event): void => {
    page.onEvent(e);
    if (e.type === 'probe') metrics.probeResult(e.result.service, e.unknown ? 'unknown' : e.result.up, e.result.latencyMs, e.server);
    else if (e.type === 'transition') metrics.serviceStateChanged(e.server, e.service, e.to);
  };
  let seq = 0;
  const controller = new Controller({
    policy: policyFromConfig({ probe: { intervalSeconds: INTERVAL_S } }),
    probe,
    executor: { execute: () => Promise.reject(new Error('no runbook in this bench')) },
    renderRunbook: () => {
      throw new Error('no runbook in this bench');
    },
    notifier: { notify: async () => undefined },
    store: { dir: 'memory', write: async () => undefined, read: async () => undefined, list: async () => [], archive: async () => undefined },
    journal: { dir: 'memory', append: async (e: object) => ({ ...e, seq: ++seq, ts: '' }), close: async () => undefined } as never,
    logger: silentLogger(),
    onEvent,
    onPass: (p) => metrics.passEnded(p.durationMs),
    onLate: (ms) => {
      metrics.passLate(ms);
      if (late.length < 200_000) late.push(ms);
    },
  });
  controller.setDesired('bench', docs);
  await controller.start();
  let forks = 0;
  const forker =
    forksPerS > 0
      ? setInterval(() => {
          forks++;
          spawn('/bin/true', { stdio: 'ignore' }).on('error', () => undefined);
        }, 1000 / forksPerS)
      : undefined;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await sleep(WARMUP_S * 1000);
  gc();
  late.length = 0;
  const profiler = new GCProfiler();
  const used0 = getHeapStatistics().used_heap_size;
  const r0 = results;
  const f0 = forks;
  const c0 = process.cpuUsage();
  profiler.start();
  await sleep(WINDOW_S * 1000);
  const c = process.cpuUsage(c0);
  const stats = profiler.stop();
  const used1 = getHeapStatistics().used_heap_size;
  const n = results - r0;
  if (forker !== undefined) clearInterval(forker);
  // Bytes allocated: what each collection found used beyond what the previous one left.
  let allocated = 0;
  let gcPauseUs = 0;
  const gcs: Record<string, number> = {};
  let left = used0;
  for (const s of stats.statistics) {
    allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - left);
    left = s.afterGC.heapStatistics.usedHeapSize;
    gcPauseUs += s.cost;
    gcs[s.gcType] = (gcs[s.gcType] ?? 0) + 1;
  }
  allocated += Math.max(0, used1 - left);
  const sorted = [...late].sort((a, b) => a - b);
  const mem = process.memoryUsage();
  const m0 = performance.now();
  const text = await metrics.text();
  const metricsMs = performance.now() - m0;
  await controller.stop({ deadlineMs: 1000 });
  page.close();
  return {
    results: n,
    cpuUs: (c.user + c.system) / n,
    userUs: c.user / n,
    allocatedBytes: allocated / n,
    gcPauseMs: gcPauseUs / 1000,
    gcs,
    forks: forks - f0,
    heapMB: mem.heapUsed / 2 ** 20,
    rssMB: mem.rss / 2 ** 20,
    lateP99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
    metricsMs,
    metricsBytes: Buffer.byteLength(text),
  };
}

/** The base tree's src, extracted once (node_modules linked, so its imports resolve). */
function baseTree(rev: string): { src: string; commit: string } {
  const commit = execFileSync('git', ['rev-parse', '--short', `${rev}^{commit}`], { cwd: REPO, encoding: 'utf8' }).trim();
  const dir = join(os.tmpdir(), `mamori-bench-pass-${commit}`);
  if (!existsSync(join(dir, 'src', 'reconcile', 'controller.ts'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tmp = mkdtempSync(join(os.tmpdir(), 'mamori-bench-pass-'));
    execFileSync('sh', ['-c', `git archive ${commit} src package.json | tar -x -C "${tmp}"`], { cwd: REPO });
    rmSync(dir, { recursive: true, force: true });
    execFileSync('mv', [tmp, dir]);
  }
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return { src: join(dir, 'src'), commit };
}

function inChild(src: string, forks: number): Promise<LaneResult> {
  const boundMs = (WARMUP_S + WINDOW_S + 60) * 1000;
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url)],
      { env: { ...process.env, PASS_LANE_SRC: src, PASS_LANE_FORKS: String(forks) }, maxBuffer: 1 << 20, timeout: boundMs, killSignal: 'SIGKILL' },
      (err, stdout) => {
        if (err !== null) reject(err);
        else resolvePromise(JSON.parse(stdout) as LaneResult);
      },
    );
  });
}

const loadAvg = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

export async function run(): Promise<void> {
  const base = baseTree(BASE);
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8' }).trim() !== '' ? '+changes' : '';
  process.stdout.write(
    `per-result path: ${SERVERS} servers × ${SERVICES.length} services every ${INTERVAL_S} s (${((SERVERS * SERVICES.length) / INTERVAL_S).toFixed(0)} results/s scheduled), probes stubbed; ` +
      `warm-up ${WARMUP_S} s, window ${WINDOW_S} s; each lane a fresh process; load average at start ${loadAvg()}\n`,
  );
  for (const forks of FORKS) {
    for (const [label, src] of [
      [`base ${base.commit}`, base.src],
      [`this ${head}${dirty}`, join(REPO, 'src')],
    ] as const) {
      const r = await inChild(src, forks);
      const gcs = Object.entries(r.gcs)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ');
      const row =
        `  ${label.padEnd(22)} forks ${forks}/s: ${r.cpuUs.toFixed(1).padStart(6)} µs CPU a result (user ${r.userUs.toFixed(1)}), ${(r.allocatedBytes / 1024).toFixed(2)} KB allocated a result, ` +
        `GC pauses ${r.gcPauseMs.toFixed(0)} ms in ${WINDOW_S} s (${gcs || 'none'}); ${r.results} results (${(r.results / WINDOW_S).toFixed(0)}/s), lateness p99 ${r.lateP99Ms.toFixed(0)} ms; ` +
        `heap ${r.heapMB.toFixed(0)} MB, RSS ${r.rssMB.toFixed(0)} MB; /metrics ${(r.metricsBytes / 2 ** 20).toFixed(1)} MB in ${r.metricsMs.toFixed(0)} ms; load ${loadAvg()}`;
      process.stdout.write(`${row}\n`);
    }
  }
}

const laneSrc = process.env.PASS_LANE_SRC;
if (laneSrc !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const result = await lane(laneSrc, Number(process.env.PASS_LANE_FORKS ?? 0));
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
} else if (import.meta.url === `file://${process.argv[1]}`) await run();
