/**
 * A whole fleet on one box (issue 28): `mamori run` as a child process following a git source of N
 * generated manifests (6 services a server: ping ssh http ftp smtp imap; default probe settings,
 * 30 s), probing the fleet lab (test/lab/fleet.ts, id FLEET_LAB_ID, default 154: N addresses of
 * one namespace, its /16 derived from the id, served by one light responder). For each N of FLEET_SIZES (default 4,1000; 10000 when named):
 *   - start → first complete pass (every server's status file written: all its services probed);
 *   - a fixed window after warm-up (FLEET_MEASURE_SECONDS, default 60, at most 180): the daemon's
 *     CPU (% of one core, from /proc: its whole process tree, the ping helper and the fping it starts
 *     included, and the daemon process alone beside it) and RSS over time, fds, event-loop lag p99 (prom-client's,
 *     reset at each scrape), probes/s achieved vs scheduled, lateness of the schedule p50/p99
 *     (mamori_probe_lateness_seconds);
 *   - status folder and journal bytes per server per day (growth over the window);
 *   - a commit changing one server (pop3 added) → that server probed with its new spec (the signed webhook);
 *   - a fault → Recovered (the fault lane): server 0 is a real lab host (lab 32, bench-fault: sshd,
 *     httpd, the init scripts), its httpd killed FLEET_FAULT_RUNS times (default 5), each at a random
 *     phase of the schedule (one in each slice of the interval: bench/ttr-kills.ts) and timed to
 *     `Recovered` in the journal — detected, confirmed, repaired by the runbook over SSH, verified
 *     from outside; each run, median/min/max, the phases beside the README formula's terms; after
 *     every N, the lanes side by side and the goal's verdict (median at N ≤ the smallest N's + 2 s);
 *   - a burst of refused ports (min(500, N/10) servers, spread over the /24s so no mass-failure
 *     pause) → incidents, and the outbox's queue until it drains;
 *   - /api/status, /metrics and the status page: bytes and time; the page's first contentful paint
 *     in Chromium.
 * The daemon runs from the bundle (built first; FLEET_BUILD=0 skips that); FLEET_CPU_PROF=DIR has it
 * write a CPU profile there. Each lane prints the daemon's CPU per probe (µs).
 * FLEET_SOAK_MINUTES (a soak): the window lasts that long, sampled every 30 s (RSS, open fds, and
 * the daemon's live timers from a census it runs with, bench/timer-census.mjs: every timer, ref'd or
 * not, but the TCP probes in flight), the series printed as it goes and whole at the end; the run fails
 * unless the end's level (the median of the last three samples) is back to the warm-up level (the
 * highest of the window's first tenth, at least its first sample): RSS within +10 %, fds within +16,
 * timers within +16, and the heap in use just after the newest full GC (the census's) within +10 %.
 * The census costs the daemon some CPU (a stack captured at each timer): a soak's CPU is not the
 * window's. A soak leaves the fleet alone: the fault and burst lanes are skipped.
 * Every wait is bounded; the fleet and the daemon are torn down whatever happens.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserType } from 'playwright-core';
import { signHubBody } from '../src/http/auth.ts';
import { fileIdFor } from '../src/notify/outbox.ts';
import { statusFromYaml } from '../src/status/status-yaml.ts';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../test/daemon/daemon-process.ts';
import { createGitFixture, REPO_ROOT, type GitFixture } from '../test/source/git-fixture.ts';
import { startFleet, type FleetLab } from '../test/lab/fleet.ts';
import { startLab, type Lab } from '../test/lab/index.ts';
import { labConsoleProfiles, serverManifestYaml, serverPathOf, writeLabSecrets } from '../test/support/lab-fleet.ts';
import { breakdownTable, formulaTerms, median, schedulePhase, type KillRun, type RunPhases } from './ttr-breakdown.ts';
import { BENCH_REMEDIATION, DEFAULT_PROBE, formula, killHostServer, mamoriRuns, ROUND_S, RUNBOOK_S, stats, stratifiedPhases, type MamoriLane } from './ttr-kills.ts';

/** FLEET_LAB_ID: the fleet lab's id (default 154, its /16 10.250.0.0/16); another id (mod 16) lets two fleet benches run side by side. */
const FLEET_ID = Number(process.env.FLEET_LAB_ID ?? 154);
if (!Number.isInteger(FLEET_ID) || FLEET_ID < 0 || FLEET_ID > 255) throw new Error(`fleet bench: FLEET_LAB_ID must be a lab id 0..255, got ${String(process.env.FLEET_LAB_ID)}`);
const SERVICES = ['ping', 'ssh', 'http', 'ftp', 'smtp', 'imap'] as const;
const TCP_SERVICES = SERVICES.length - 1;
const INTERVAL_S = 30;
const SECRET = 'bench-fleet-webhook';
const SIZES = (process.env.FLEET_SIZES ?? '4,1000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0 && n <= 30_000);
const SOAK_MIN = Math.max(0, Math.min(24 * 60, Number(process.env.FLEET_SOAK_MINUTES ?? 0)));
const MEASURE_S = SOAK_MIN > 0 ? SOAK_MIN * 60 : Math.max(10, Math.min(180, Number(process.env.FLEET_MEASURE_SECONDS ?? 60)));
const SAMPLE_EVERY_MS = SOAK_MIN > 0 ? 30_000 : 5_000;
const MAX_BURST = 500;
/** FLEET_BURST_SECONDS: how long the burst lane waits for its mails (default 120). */
const BURST_S = Math.max(30, Math.min(1800, Number(process.env.FLEET_BURST_SECONDS ?? 120)));
/** The fault and burst lanes take minutes: at a large N only when asked (FLEET_FAULTS=1), so that a 10,000 run stays near 3 minutes. */
const FAULTS_AT_LARGE_N = process.env.FLEET_FAULTS === '1';
const LARGE_N = 5_000;
/**
 * The fault lane: a real lab host (lab 32: sshd, httpd and the rest, the init scripts, a BMC) stands
 * in for server 0, and its httpd is killed FLEET_FAULT_RUNS times, each timed to `Recovered` in the
 * journal (the runbook logs in over SSH, restarts, verifies from outside).
 */
const FAULT_LAB_ID = 32;
const FAULT_HOST = 'bench-fault';
/** FLEET_NODE_ARGS: more options for the daemon's node (space-separated), e.g. a heap setting to compare. */
const NODE_ARGS = (process.env.FLEET_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
/** FLEET_FAULT_DEBUG=1: the daemon logs at debug, and the fault lane prints its fault server's failing passes, timed. */
const FAULT_DEBUG = process.env.FLEET_FAULT_DEBUG === '1';
const FAULT_RUNS = Math.max(1, Math.min(20, Number(process.env.FLEET_FAULT_RUNS ?? 5)));
/** The kills' phases, drawn once: every N's lane kills at the same phases, so their medians compare like for like. */
const FAULT_PHASES = stratifiedPhases(FAULT_RUNS);
/** The goal: a fault at N repaired within the small fleet's time + 2 s (issue 28). */
const FAULT_SLACK_S = 2;
/** FLEET_CPU_PROF=DIR: the daemon runs with --cpu-prof and writes its profile there at its stop. */
const PROF_DIR = process.env.FLEET_CPU_PROF !== undefined && process.env.FLEET_CPU_PROF !== '' ? process.env.FLEET_CPU_PROF : undefined;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function until<T>(what: string, boundMs: number, everyMs: number, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`fleet bench: ${what} did not happen within ${boundMs} ms`);
    await sleep(everyMs);
  }
}

const customerOf = (i: number): string => `c${String(i % 100).padStart(2, '0')}`;
const nameOf = (i: number): string => `s${i}`;
const pathOf = (i: number): string => `customers/${customerOf(i)}/servers/${nameOf(i)}.yaml`;

function manifest(i: number, address: string, services: readonly string[] = SERVICES): string {
  const c = customerOf(i);
  return `apiVersion: mamori/v1
kind: Server
metadata: { name: ${nameOf(i)}, customer: ${c} }
spec:
  address: ${address}
  os: { family: centos, version: "5.4" }
  plan: basic
  contact: { email: ops@${c}.example }
  allowedNetworks: [10.231.${FLEET_ID}.0/24]
  services: [${services.join(', ')}]
  access: { user: mamori, hostKey: "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", credentials: { secretRef: ${c}-login } }
`;
}

/** utime+stime and cutime+cstime (reaped children's) of one process, in seconds; undefined once it is gone. */
function procCpu(pid: number): { self: number; reaped: number; ppid: number } | undefined {
  let st: string;
  try {
    st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const tick = 100;
  return { self: (Number(f[11]) + Number(f[12])) / tick, reaped: (Number(f[13]) + Number(f[14])) / tick, ppid: Number(f[1]) };
}

/**
 * /proc of the daemon: CPU seconds (user+system) of its whole process tree — the daemon, the
 * helpers it keeps (the ping helper and the fping it starts) and every child it has reaped — and,
 * apart, of the daemon process alone; RSS bytes and open fds of the daemon.
 */
function procSample(pid: number): { cpuS: number; daemonCpuS: number; rss: number; fds: number } {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const rss = Number(f[21]) * 4096;
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  // Children by parent, from one pass over /proc (a few hundred entries every 5 s).
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    const child = Number(e);
    if (!Number.isInteger(child) || child <= 0 || child === pid) continue;
    const c = procCpu(child);
    if (c === undefined) continue;
    const list = children.get(c.ppid) ?? [];
    list.push(child);
    children.set(c.ppid, list);
  }
  const tree = (p: number, depth: number): number => {
    const c = procCpu(p);
    if (c === undefined) return 0;
    let total = c.self + c.reaped;
    if (depth < 8) for (const k of children.get(p) ?? []) total += tree(k, depth + 1);
    return total;
  };
  const own = procCpu(pid);
  return { cpuS: tree(pid, 0), daemonCpuS: own?.self ?? 0, rss, fds };
}

/** Prometheus text → samples by name (labels kept as text). */
function parseMetrics(text: string): Map<string, Array<{ labels: string; value: number }>> {
  const out = new Map<string, Array<{ labels: string; value: number }>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (!m) continue;
    const list = out.get(m[1] as string) ?? [];
    list.push({ labels: m[2] ?? '', value: Number(m[3]) });
    out.set(m[1] as string, list);
  }
  return out;
}
const sum = (m: ReturnType<typeof parseMetrics>, name: string, labelMatch?: RegExp): number =>
  (m.get(name) ?? []).filter((s) => (labelMatch ? labelMatch.test(s.labels) : true)).reduce((a, s) => a + s.value, 0);
/**
 * Ref'd timers (Timeout resources) as prom-client reports them: the TCP probes in flight (one each)
 * and little else (the daemon's own timers are unref'd): a figure of the load, not of leaks.
 */
const timers = (m: ReturnType<typeof parseMetrics>): number => sum(m, 'nodejs_active_resources', /type="Timeout"/) || sum(m, 'nodejs_active_handles', /type="Timeout"/);
/** The soak's timer census, loaded into the daemon (bench/timer-census.mjs). */
const CENSUS_MODULE = fileURLToPath(new URL('./timer-census.mjs', import.meta.url));
interface Census {
  at: string;
  live: number;
  refd: number;
  unrefd: number;
  probeDialogs: number;
  others: Array<[string, number]>;
  /** The daemon's heap at the census (process.memoryUsage, MB). */
  heap?: { usedMB: number; totalMB: number; externalMB: number; arrayBuffersMB: number };
  /** The heap in use just after the newest full collection (MB), and how many there were. */
  afterFullGc?: { usedMB: number; fullGcs: number };
  /** V8's spaces: [used, size] MB. */
  spaces?: Record<string, [number, number]>;
}
/** The newest census, once it is younger than `sinceMs` (it is written every 5 s). */
async function readCensus(file: string, sinceMs: number): Promise<Census> {
  return until('a timer census', 30_000, 250, async () => {
    try {
      const c = JSON.parse(await readFile(file, 'utf8')) as Census;
      return Date.parse(c.at) >= sinceMs ? c : undefined;
    } catch {
      return undefined;
    }
  });
}
/** What a soak counts as timers: every live one, ref'd or not, but the TCP probes in flight. */
const lingering = (c: Census): number => c.live - c.probeDialogs;

/** A quantile of a Prometheus histogram's increase between two scrapes (linear within the bucket). */
function histQuantile(a: ReturnType<typeof parseMetrics>, b: ReturnType<typeof parseMetrics>, name: string, q: number): number {
  const buckets = (m: ReturnType<typeof parseMetrics>): Map<number, number> =>
    new Map((m.get(`${name}_bucket`) ?? []).map((s) => [Number(/le="([^"]+)"/.exec(s.labels)?.[1] === '+Inf' ? Infinity : /le="([^"]+)"/.exec(s.labels)?.[1]), s.value]));
  const ba = buckets(a);
  const bb = buckets(b);
  const les = [...bb.keys()].sort((x, y) => x - y);
  const total = (bb.get(Infinity) ?? 0) - (ba.get(Infinity) ?? 0);
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = (bb.get(le) ?? 0) - (ba.get(le) ?? 0);
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

async function duBytes(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  if (!existsSync(dir)) return { bytes, files };
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files += 1;
    bytes += (await stat(join(e.parentPath, e.name))).size;
  }
  return { bytes, files };
}

async function statusFileCount(stateDir: string): Promise<number> {
  const root = join(stateDir, 'status');
  if (!existsSync(root)) return 0;
  let n = 0;
  for (const c of await readdir(root, { withFileTypes: true })) if (c.isDirectory()) n += (await readdir(join(root, c.name))).filter((f) => f.endsWith('.yaml')).length;
  return n;
}

async function serviceState(stateDir: string, i: number, service: string): Promise<{ state?: string; lastProbe?: string; why?: string } | undefined> {
  try {
    // The daemon's own reader (js-yaml): the bench polls every 50 ms and shares the two cores.
    const doc = statusFromYaml(await readFile(join(stateDir, 'status', customerOf(i), `${nameOf(i)}.yaml`), 'utf8')) as {
      services?: Record<string, { state?: string; lastProbe?: { at?: string }; hold?: string; escalation?: string }>;
    };
    const s = doc.services?.[service];
    const why = s?.escalation ?? s?.hold;
    return s === undefined ? undefined : { ...(s.state ? { state: s.state } : {}), ...(s.lastProbe?.at ? { lastProbe: s.lastProbe.at } : {}), ...(why !== undefined ? { why } : {}) };
  } catch {
    return undefined;
  }
}

async function timed(d: DaemonProcess, path: string): Promise<{ ms: number; bytes: number; text: string }> {
  const t = performance.now();
  const res = await fetch(`${d.base}${path}`, { signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  return { ms: performance.now() - t, bytes: Buffer.byteLength(text), text };
}

async function firstPaint(url: string): Promise<{ fcpMs: number; loadMs: number; rows: number } | string> {
  let chromium: BrowserType;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    return `playwright-core missing: ${String(err)}`;
  }
  if (!existsSync('/usr/bin/chromium')) return 'no /usr/bin/chromium';
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const t = Date.now();
    await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    const loadMs = Date.now() - t;
    // A small page loads before its first paint is recorded: wait for the entry (at most 5 s).
    const fcp = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const e = performance.getEntriesByName('first-contentful-paint')[0];
          if (e !== undefined) return resolve(e.startTime);
          new PerformanceObserver((list) => {
            const x = list.getEntriesByName('first-contentful-paint')[0];
            if (x !== undefined) resolve(x.startTime);
          }).observe({ entryTypes: ['paint'] as never });
          setTimeout(() => resolve(NaN), 5_000);
        }),
    );
    const rows = await page.evaluate(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('tr, [data-server]').length);
    return { fcpMs: fcp, loadMs, rows };
  } catch (err) {
    return `no load within 60 s (${String(err).split('\n')[0]})`;
  } finally {
    await browser.close();
  }
}

interface FaultRuns {
  runs: RunPhases[];
  kills: KillRun[];
  loadStart: string;
  loadEnd: string;
  daemon?: string;
}

interface Lane {
  n: number;
  lines: string[];
  soakFailures: string[];
  fault?: FaultRuns;
}

async function lane(n: number): Promise<Lane> {
  const lines: string[] = [];
  const say = (l: string): void => {
    lines.push(l);
    process.stdout.write(`  [N=${n}] ${l}\n`);
  };
  const soakFailures: string[] = [];
  let fleet: FleetLab | undefined;
  let repo: GitFixture | undefined;
  let daemon: DaemonProcess | undefined;
  let faultLab: Lab | undefined;
  let fault: FaultRuns | undefined;
  try {
    fleet = await startFleet({ id: FLEET_ID, n, sample: Math.min(4, n) });
    // The fault lane's server: a real lab host in place of server 0 (N stays N), so that a fault is
    // repaired as in production: the runbook logs in over SSH, restarts httpd and verifies.
    if (SOAK_MIN === 0 && (n < LARGE_N || FAULTS_AT_LARGE_N)) faultLab = await startLab({ id: FAULT_LAB_ID, hosts: [{ name: FAULT_HOST }] });
    repo = createGitFixture();
    for (let i = faultLab === undefined ? 0 : 1; i < n; i += 1) repo.write(pathOf(i), manifest(i, fleet.address(i)));
    if (faultLab !== undefined) {
      const doc = killHostServer(faultLab, FAULT_HOST, SERVICES, [`10.231.${FLEET_ID}.0/24`]);
      repo.write(serverPathOf(doc), serverManifestYaml(doc));
    }
    repo.commit(`${n} servers`);
    repo.push();
    const dir = repo.dir;
    const stateDir = join(dir, 'state');
    const secrets = join(dir, 'secrets');
    await mkdir(secrets, { recursive: true, mode: 0o700 });
    for (let c = 0; c < Math.min(100, n); c += 1) await writeFile(join(secrets, `${customerOf(c)}-login`), 'not-a-key\n', { mode: 0o600 });
    if (faultLab !== undefined) await writeLabSecrets(secrets, faultLab);
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    await writeFile(
      config,
      [
        'apiVersion: mamori/v1',
        'kind: Config',
        `source: { type: git, url: ${repo.bare}, ref: main, pollSeconds: 3600 }`,
        'stateDir: state',
        'secretsDir: secrets',
        `managementNetworks: [10.231.${FLEET_ID}.0/24]`,
        // The fault lane's lab host, and its BMC on the loopback.
        `targetNetworks: [${fleet.range}${faultLab === undefined ? '' : `, ${faultLab.subnet}, 127.0.0.1/32`}]`,
        // It kills one service five times in minutes: the restart budget and flapping hold lifted (BENCH_REMEDIATION).
        ...(faultLab === undefined ? [] : [`consoleProfiles: ${JSON.stringify(labConsoleProfiles(faultLab))}`, `remediation: ${JSON.stringify(BENCH_REMEDIATION)}`]),
        `tls: { caFiles: [${fleet.caPath}] }`,
        `http: { listen: "127.0.0.1:${port}", webhookSecret: { secretRef: hook } }`,
        'mail: { from: mamori@provider.example }',
        `log: { level: ${FAULT_DEBUG ? 'debug' : 'info'} }`,
        '',
      ].join('\n'),
    );
    await writeFile(join(secrets, 'hook'), SECRET, { mode: 0o600 });

    // ---- start → first complete pass --------------------------------------------------------
    const t0 = Date.now();
    const censusFile = join(dir, 'timer-census.json');
    const nodeArgs = [...NODE_ARGS, ...(PROF_DIR !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : []), ...(SOAK_MIN > 0 ? ['--import', pathToFileURL(CENSUS_MODULE).href] : [])];
    const env: Record<string, string> = SOAK_MIN > 0 ? { CENSUS_FILE: censusFile } : {};
    daemon = await spawnDaemon({ cwd: dir, config, port, runningTimeoutMs: 10 * 60_000, nodeArgs, env });
    const pid = daemon.child.pid as number;
    const runningMs = Date.now() - t0;
    // The controller logs the end of its first round: every server of the start through one pass.
    const round = await daemon.waitForLog('first round complete', 10 * 60_000);
    const firstPassMs = Date.now() - t0;
    const at = (msg: string): string => {
      const l = daemon?.logs.find((x) => x.msg === msg);
      return l === undefined ? '?' : `${((Date.parse(l.time) - t0) / 1000).toFixed(1)} s`;
    };
    say(`start: revision applied ${at('revision applied')}, reconciler started ${at('reconciler started')}, running ${(runningMs / 1000).toFixed(1)} s after spawn; first full pass (every server probed) ${(firstPassMs / 1000).toFixed(1)} s after spawn (${(Number(round.durationMs) / 1000).toFixed(1)} s after the reconciler started; the first round is spread over one interval, ${INTERVAL_S} s); ${await statusFileCount(stateDir)} status files; CPU so far ${procSample(pid).cpuS.toFixed(1)} s`);

    // ---- warm-up: one more interval, then the measured window ------------------------------
    await sleep(Math.min(INTERVAL_S * 1000, 30_000));
    const m0 = parseMetrics((await timed(daemon, '/metrics')).text);
    const p0 = procSample(pid);
    const c0 = await fleet.counts();
    const status0 = await duBytes(join(stateDir, 'status'));
    const journal0 = await duBytes(join(stateDir, 'journal'));
    const tw0 = Date.now();
    const fresh = (): Promise<Census> => readCensus(censusFile, Date.now() - 5_500);
    let census = SOAK_MIN > 0 ? await fresh() : undefined;
    const samples: Array<{ t: number; cpuS: number; rss: number; fds: number; timers?: number; retainedMB?: number }> = [
      { t: tw0, ...p0, ...(census !== undefined ? { timers: lingering(census) } : {}), ...(census?.afterFullGc !== undefined ? { retainedMB: census.afterFullGc.usedMB } : {}) },
    ];
    while (Date.now() - tw0 < MEASURE_S * 1000) {
      await sleep(Math.min(SAMPLE_EVERY_MS, tw0 + MEASURE_S * 1000 - Date.now()));
      const sample: (typeof samples)[number] = { t: Date.now(), ...procSample(pid) };
      if (SOAK_MIN > 0) {
        census = await fresh();
        sample.timers = lingering(census);
        if (census.afterFullGc !== undefined) sample.retainedMB = census.afterFullGc.usedMB;
        const old = census.spaces?.old_space;
        const large = census.spaces?.large_object_space;
        say(`soak +${((sample.t - tw0) / 1000).toFixed(0)} s: RSS ${(sample.rss / 2 ** 20).toFixed(0)} MB${census.heap !== undefined ? ` (heap used ${census.heap.usedMB} of ${census.heap.totalMB} MB, external ${census.heap.externalMB}, array buffers ${census.heap.arrayBuffersMB})` : ''}${census.afterFullGc !== undefined ? `, retained after full GC ${census.afterFullGc.usedMB} MB (${census.afterFullGc.fullGcs} full GCs)` : ''}${old !== undefined && large !== undefined ? `, old space ${old[0]}/${old[1]} MB, large objects ${large[0]}/${large[1]} MB` : ''}, fds ${sample.fds}, timers ${sample.timers} (${census.live} live: ${census.refd} ref'd, ${census.unrefd} unref'd; ${census.probeDialogs} of them TCP probes in flight, not counted); load average ${load()}`);
      }
      samples.push(sample);
    }
    const p1 = procSample(pid);
    const c1 = await fleet.counts();
    const metricsScrape = await timed(daemon, '/metrics');
    const m1 = parseMetrics(metricsScrape.text);
    const tw1 = Date.now();
    const windowS = (tw1 - tw0) / 1000;
    const cpuPct = ((p1.cpuS - p0.cpuS) / windowS) * 100;
    const perSample = samples.slice(1).map((s, k) => {
      const prev = samples[k] as (typeof samples)[number];
      return `${(((s.cpuS - prev.cpuS) / ((s.t - prev.t) / 1000)) * 100).toFixed(0)}%/${(s.rss / 2 ** 20).toFixed(0)}M`;
    });
    const daemonPct = ((p1.daemonCpuS - p0.daemonCpuS) / windowS) * 100;
    say(`window ${windowS.toFixed(0)} s: daemon CPU ${cpuPct.toFixed(1)} % of one core (its whole process tree: the daemon ${daemonPct.toFixed(1)} %, its helpers and their children such as the ping helper and fping ${(cpuPct - daemonPct).toFixed(1)} %); RSS ${(p0.rss / 2 ** 20).toFixed(0)} → ${(p1.rss / 2 ** 20).toFixed(0)} MB (max ${(Math.max(...samples.map((s) => s.rss)) / 2 ** 20).toFixed(0)}); fds ${p0.fds} → ${p1.fds}`);
    say(`  CPU/RSS every ${SAMPLE_EVERY_MS / 1000} s: ${perSample.join(' ')}`);
    const lagP99 = sum(m1, 'nodejs_eventloop_lag_p99_seconds') * 1000;
    const lagMax = sum(m1, 'nodejs_eventloop_lag_max_seconds') * 1000;
    const probes = sum(m1, 'mamori_probe_results_total') - sum(m0, 'mamori_probe_results_total');
    const tcpAchieved = [21, 22, 25, 80, 143].reduce((a, p) => a + ((c1[p] ?? 0) - (c0[p] ?? 0)), 0) / windowS;
    const scheduled = (n * SERVICES.length) / INTERVAL_S;
    const lateP50 = histQuantile(m0, m1, 'mamori_probe_lateness_seconds', 0.5) * 1000;
    const lateP99 = histQuantile(m0, m1, 'mamori_probe_lateness_seconds', 0.99) * 1000;
    say(`event-loop lag p99 ${lagP99.toFixed(1)} ms (max ${lagMax.toFixed(0)} ms); probes ${(probes / windowS).toFixed(1)}/s achieved vs ${scheduled.toFixed(1)}/s scheduled (TCP at the responders ${tcpAchieved.toFixed(1)}/s vs ${((n * TCP_SERVICES) / INTERVAL_S).toFixed(1)}/s); lateness p50 ${lateP50.toFixed(0)} ms p99 ${lateP99.toFixed(0)} ms`);
    say(`cost per probe: ${probes > 0 ? (((p1.cpuS - p0.cpuS) * 1e6) / probes).toFixed(0) : '?'} µs of daemon CPU (user+system of the daemon's process tree, helpers included: everything it did in the window ÷ probes)`);
    const status1 = await duBytes(join(stateDir, 'status'));
    const journal1 = await duBytes(join(stateDir, 'journal'));
    const perDay = (a: number, b: number): string => (((b - a) / n) * (86_400 / windowS)).toFixed(0);
    say(`status folder ${status1.files} files ${(status1.bytes / 2 ** 20).toFixed(1)} MB (${(status1.bytes / n).toFixed(0)} B a server), grows ${perDay(status0.bytes, status1.bytes)} B/server/day; journal ${(journal1.bytes / 2 ** 20).toFixed(1)} MB, grows ${perDay(journal0.bytes, journal1.bytes)} B/server/day`);
    say(`ref'd timers (prom-client's active Timeout resources: mostly the TCP probes in flight) ${timers(m0)} → ${timers(m1)}; /metrics ${(metricsScrape.bytes / 2 ** 20).toFixed(1)} MB in ${metricsScrape.ms.toFixed(0)} ms`);
    if (SOAK_MIN > 0) {
      const series = (pick: (x: (typeof samples)[number]) => number): number[] => samples.map(pick);
      const rss = series((x) => Math.round(x.rss / 2 ** 20));
      const fds = series((x) => x.fds);
      const tms = series((x) => x.timers ?? NaN);
      const retained = samples.map((x) => x.retainedMB).filter((x): x is number => x !== undefined);
      say(`soak series every ${SAMPLE_EVERY_MS / 1000} s — RSS MB: ${rss.join(' ')}`);
      if (retained.length > 0) say(`soak series — heap retained after the newest full GC, MB: ${retained.join(' ')}`);
      say(`soak series — open fds: ${fds.join(' ')}`);
      say(`soak series — timers (every live one, ref'd or not, but the TCP probes in flight): ${tms.join(' ')}`);
      if (census !== undefined) say(`soak timers at the end, by where they were made: ${census.others.map(([site, c]) => `${c} × ${site}`).join('; ')}`);
      const warmCount = Math.max(1, Math.ceil(samples.length / 10));
      const warm = (xs: number[]): number => Math.max(...xs.slice(0, warmCount));
      const end = (xs: number[]): number => [...xs.slice(-3)].sort((a, b) => a - b)[Math.floor(Math.min(3, xs.length) / 2)] as number;
      const verdict = (name: string, xs: number[], limit: (w: number) => number, unit: string): void => {
        const ok = end(xs) <= limit(warm(xs));
        say(`soak ${name}: warm-up level ${warm(xs)}${unit}, end level ${end(xs)}${unit} (limit ${limit(warm(xs)).toFixed(0)}${unit}): ${ok ? 'back to it' : 'NOT back to it'}`);
        if (!ok) soakFailures.push(`${name} ${warm(xs)}${unit} → ${end(xs)}${unit}`);
      };
      verdict('RSS', rss, (w) => w * 1.1, ' MB');
      // What the daemon keeps (RSS also carries the garbage of the GC's sawtooth and the heap V8 chose to reserve).
      if (retained.length >= 10) verdict('heap retained after a full GC', retained, (w) => w * 1.1, ' MB');
      verdict('open fds', fds, (w) => w + 16, '');
      verdict('timers', tms, (w) => w + 16, '');
    }

    // ---- the views at N (FLEET_VIEWS=0 skips them: a profile of the probing alone) -------------
    if (process.env.FLEET_VIEWS !== '0') {
      const api = await timed(daemon, '/api/status');
      // One server found by search, as a dashboard or the fault lane polls it: ten in a row.
      const one = `/api/servers?q=${encodeURIComponent(nameOf(Math.min(n - 1, 3)))}&limit=10`;
      const polls: number[] = [];
      for (let k = 0; k < 10; k++) polls.push((await timed(daemon, one)).ms);
      say(`/api/servers (one server by search) ×10: first ${(polls[0] ?? 0).toFixed(0)} ms, median ${[...polls].sort((a, b) => a - b)[5]?.toFixed(0) ?? '?'} ms, max ${Math.max(...polls).toFixed(0)} ms`);
      const page = await timed(daemon, '/');
      const paint = await firstPaint(`${daemon.base}/`);
      say(`/api/status ${(api.bytes / 1024).toFixed(0)} KB in ${api.ms.toFixed(0)} ms; page ${(page.bytes / 1024).toFixed(0)} KB in ${page.ms.toFixed(0)} ms; Chromium ${typeof paint === 'string' ? paint : `first contentful paint ${paint.fcpMs.toFixed(0)} ms, load ${paint.loadMs} ms, ${paint.rows} rows in the DOM`}`);
    }

    // ---- a commit changing one server → probed with its new spec ------------------------------
    const target = Math.min(n - 1, 5);
    repo.write(pathOf(target), manifest(target, fleet.address(target), [...SERVICES, 'pop3']));
    repo.commit('one server gains pop3');
    const tc = Date.now();
    repo.push();
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const hook = await daemon.post('/hooks/git', body, { 'x-hub-signature-256': signHubBody(SECRET, body) });
    if (hook.status !== 202) throw new Error(`webhook answered ${hook.status}`);
    await until('the changed server probed with pop3', 120_000, 50, async () => ((await serviceState(stateDir, target, 'pop3'))?.lastProbe !== undefined ? true : undefined));
    const applied = daemon.logs.filter((l) => l.msg === 'revision applied').at(-1);
    const steps = applied?.ms !== undefined ? Object.entries(applied.ms as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(', ') : '?';
    const appliedAt = applied !== undefined ? `${((Date.parse(applied.time) - tc) / 1000).toFixed(2)} s after the push` : '?';
    say(`commit (webhook) → server probed with its new spec: ${((Date.now() - tc) / 1000).toFixed(2)} s (revision applied ${appliedAt}; ms: ${steps}; ${String(applied?.objectsRead ?? '?')} objects read)`);

    if (SOAK_MIN > 0) {
      say(`fault and burst lanes skipped in a soak; load average ${load()}`);
      return { n, lines, soakFailures };
    }
    if (n >= LARGE_N && !FAULTS_AT_LARGE_N) {
      say(`fault and burst lanes skipped at N ≥ ${LARGE_N} (FLEET_FAULTS=1 runs them); load average ${load()} (2 cores shared: figures under load are not final)`);
      return { n, lines, soakFailures };
    }
    // ---- one fault → Recovered, FAULT_RUNS times ----------------------------------------------
    if (faultLab !== undefined) {
      const killLane: MamoriLane = { daemon, stateDir, probe: DEFAULT_PROBE, kills: [] };
      const loadStart = load();
      // The daemon over the lane: CPU, event-loop lag p99 (reset at each scrape) and the schedule's lateness.
      const fm0 = parseMetrics((await timed(daemon, '/metrics')).text);
      const fp0 = { ...procSample(pid), t: Date.now() };
      // Kills at random phases of the schedule, one in each fifth of the interval (five medians compare).
      const runs = await mamoriRuns(faultLab, FAULT_HOST, killLane, FAULT_RUNS, { journalEveryMs: 1000, phases: FAULT_PHASES });
      fault = { runs, kills: killLane.kills, loadStart, loadEnd: load() };
      const fp1 = { ...procSample(pid), t: Date.now() };
      const fm1 = parseMetrics((await timed(daemon, '/metrics')).text);
      fault.daemon = `daemon over the lane: CPU ${(((fp1.cpuS - fp0.cpuS) / ((fp1.t - fp0.t) / 1000)) * 100).toFixed(0)} % of one core (the daemon process ${(((fp1.daemonCpuS - fp0.daemonCpuS) / ((fp1.t - fp0.t) / 1000)) * 100).toFixed(0)} %), event-loop lag p99 ${(sum(fm1, 'nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(0)} ms (max ${(sum(fm1, 'nodejs_eventloop_lag_max_seconds') * 1000).toFixed(0)} ms), probe lateness p99 ${(histQuantile(fm0, fm1, 'mamori_probe_lateness_seconds', 0.99) * 1000).toFixed(0)} ms`;
      say(fault.daemon);
      runs.forEach((r, k) => {
        const ph = schedulePhase(killLane.kills[k] as KillRun, INTERVAL_S);
        say(`fault ${k + 1}/${FAULT_RUNS}: httpd killed at phase ${ph === undefined ? '?' : ph.toFixed(2)} → Recovered ${r.totalS.toFixed(1)} s (wait ${r.waitS.toFixed(1)}, confirm ${r.confirmS.toFixed(2)}, queue ${r.queueS.toFixed(2)}, runbook ${r.runbookS.toFixed(2)}, close ${r.closeS.toFixed(2)})`);
      });
      if (FAULT_DEBUG) {
        // The fault server's failing passes (the daemon's debug log): how long its probes and the act after them took.
        const passes = daemon.logs.filter((l) => l.msg === 'failing server pass' && String(l.server).endsWith(FAULT_HOST));
        const q = (xs: number[], p: number): string => (xs.length === 0 ? '?' : String([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]));
        const probesMs = passes.map((l) => Number(l.probesMs));
        const actMs = passes.map((l) => Number(l.actMs));
        say(`fault server's failing passes: ${passes.length}; probes ms p50 ${q(probesMs, 0.5)} p90 ${q(probesMs, 0.9)} max ${q(probesMs, 1)}; act ms p50 ${q(actMs, 0.5)} max ${q(actMs, 1)}; unknown probes ${passes.reduce((a, l) => a + Number(l.unknown), 0)}`);
        for (const l of passes.filter((x) => Number(x.probesMs) > 2000 || Number(x.actMs) > 1000).slice(0, 8)) say(`  slow pass ${String(l.pass)} at ${String(l.time)}: probes ${String(l.probesMs)} ms, act ${String(l.actMs)} ms, ${JSON.stringify(l.probes)}`);
      }
      const st = stats(runs.map((r) => r.totalS * 1000));
      const fm = formula(DEFAULT_PROBE);
      say(`fault → Recovered (httpd killed on a real lab host among the ${n} servers, repaired over SSH), ${FAULT_RUNS} kills: median ${st.medianS} s, min ${Math.min(...st.allS)} s, max ${st.worstS} s; the formula ${fm.medianS} s (worst ${fm.worstS} s); load average ${loadStart} → ${fault.loadEnd}`);
      for (const l of breakdownTable(`fault lane, N = ${n}`, runs, formulaTerms(DEFAULT_PROBE, ROUND_S, RUNBOOK_S), killLane.kills.map((k) => schedulePhase(k, INTERVAL_S))).split('\n')) say(`  ${l}`);
    }

    // ---- a burst of incidents → the outbox --------------------------------------------------
    const burst = Math.min(MAX_BURST, Math.floor(n / 10));
    if (burst > 0) {
      // One record (<id>.json) a message in pending/ and in sent/ (where the .eml written without a
      // relay lies beside it: counting files counted each mail twice). The burst's mails are its ftp incidents'.
      const records = (folder: string): string[] => (existsSync(join(stateDir, 'outbox', folder)) ? readdirSync(join(stateDir, 'outbox', folder)).filter((f) => f.endsWith('.json')) : []);
      type Pending = { notification?: { kind?: string; id?: string }; state?: string; attempts?: number; nextAttemptAt?: number; lastError?: string };
      const pendingRecords = (): Array<[string, Pending]> =>
        records('pending').flatMap((f): Array<[string, Pending]> => {
          try {
            return [[f, JSON.parse(readFileSync(join(stateDir, 'outbox', 'pending', f), 'utf8')) as Pending]];
          } catch {
            return [[f, {}]];
          }
        });
      // Waiting to go out: a record folded into its window's digest (storm control: the fault lane's
      // recovered mails to one customer) waits in pending/ for that window's end, by design.
      const pending = (): number => pendingRecords().filter(([, r]) => r.state !== 'folded').length;
      const ftpMark = fileIdFor('.ftp.');
      const sentNow = (): number => records('sent').filter((f) => f.includes(ftpMark)).length;
      const sentBefore = sentNow();
      const step = Math.max(1, Math.floor((n - 4) / burst));
      const victims = Array.from({ length: burst }, (_, k) => 4 + ((k * step) % (n - 4)));
      const tb = Date.now();
      for (const v of victims) await fleet.fault(fleet.address(v), { kind: 'refuse', port: 21 });
      let maxPending = 0;
      let lastReport = Date.now();
      /** The victims' ftp: state (and hold or escalation) → how many. */
      const victimStates = async (): Promise<string> => {
        const by = new Map<string, number>();
        for (const v of victims) {
          const st = await serviceState(stateDir, v, 'ftp');
          const k = st === undefined ? '?' : `${st.state ?? '?'}${st.why !== undefined ? `/${st.why}` : ''}`;
          by.set(k, (by.get(k) ?? 0) + 1);
        }
        return [...by].sort((a, b) => b[1] - a[1]).map(([k, c]) => `${k} ${c}`).join(', ');
      };
      await until('the burst in the outbox', BURST_S * 1000, 500, async () => {
        const p = pending();
        maxPending = Math.max(maxPending, p);
        const sent = sentNow() - sentBefore;
        if (Date.now() - lastReport >= 15_000) {
          lastReport = Date.now();
          say(`  burst +${((Date.now() - tb) / 1000).toFixed(0)} s: outbox pending ${p}, sent ${sent}; victims' ftp: ${await victimStates()}`);
        }
        return sent >= burst && p === 0 ? true : undefined;
      }).then(
        () => say(`burst of ${burst} refused ftp ports → ${burst}+ mails written, outbox drained ${((Date.now() - tb) / 1000).toFixed(1)} s after the first fault (largest queue ${maxPending})`),
        async (err: unknown) => {
          say(`burst of ${burst}: ${String(err)} (largest queue ${maxPending}, pending now ${pending()}, sent ${sentNow() - sentBefore}; victims' ftp: ${await victimStates()})`);
          // What still waits, and why (kind, id, state, attempts, due in, last error).
          for (const [f, r] of pendingRecords().slice(0, 10)) {
            say(`  pending ${f.slice(0, 60)}: ${r.notification?.kind ?? '?'} (${r.notification?.id ?? '?'}), ${r.state ?? '?'}, ${r.attempts ?? 0} attempts, due in ${r.nextAttemptAt === undefined ? '?' : ((r.nextAttemptAt - Date.now()) / 1000).toFixed(0)} s${r.lastError !== undefined ? `, last error ${r.lastError.slice(0, 160)}` : ''}`);
          }
        },
      );
      await fleet.clear();
    }
    say(`load average ${load()} (2 cores shared: figures under load are not final)`);
  } finally {
    if (daemon !== undefined) {
      daemon.child.kill('SIGTERM');
      await Promise.race([daemon.exited, sleep(30_000)]);
    }
    killStrays();
    await fleet?.stop();
    await faultLab?.stop();
    repo?.cleanup();
  }
  return { n, lines, soakFailures, ...(fault !== undefined ? { fault } : {}) };
}

/** The phases' medians of the fault lanes side by side, and the goal's verdict for each N against the smallest. */
function faultVerdict(lanes: readonly Lane[]): void {
  const withFault = lanes.filter((l): l is Lane & { fault: FaultRuns } => l.fault !== undefined).sort((a, b) => a.n - b.n);
  if (withFault.length === 0) return;
  const fm = formula(DEFAULT_PROBE);
  const out = (l: string): void => void process.stdout.write(`${l}\n`);
  const f2 = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(2));
  const med = (f: FaultRuns, pick: (r: RunPhases, k: KillRun) => number | undefined): number =>
    median(f.runs.map((r, k) => pick(r, f.kills[k] as KillRun)).filter((x): x is number => x !== undefined));
  // How late the first failing probe came against the schedule: its start − (the probe before the kill + I).
  // The interval's jitter (±10 %) spreads it ±3 s; a starved event loop or a late queue shows here.
  const slip = (r: RunPhases, k: KillRun): number | undefined => (k.lastProbeAt === undefined ? undefined : (k.killAt + r.waitS * 1000 - k.lastProbeAt) / 1000 - INTERVAL_S);
  out(`\nfault → Recovered by N (${FAULT_RUNS} kills each; medians in s; the formula's median ${fm.medianS} s, worst ${fm.worstS} s):`);
  out(`| N | kill → Recovered | min … max | each run | wait for the schedule | of which late vs schedule | confirm | queue | runbook | close | load average (start → end) |`);
  out('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const l of withFault) {
    const tot = l.fault.runs.map((r) => r.totalS);
    out(`| ${l.n} | **${f2(median(tot))}** | ${f2(Math.min(...tot))} … ${f2(Math.max(...tot))} | ${tot.map((x) => x.toFixed(1)).join(', ')} | ${f2(med(l.fault, (r) => r.waitS))} | ${f2(med(l.fault, slip))} | ${f2(med(l.fault, (r) => r.confirmS))} | ${f2(med(l.fault, (r) => r.queueS))} | ${f2(med(l.fault, (r) => r.runbookS))} | ${f2(med(l.fault, (r) => r.closeS))} | ${l.fault.loadStart} → ${l.fault.loadEnd} |`);
  }
  const small = withFault[0] as Lane & { fault: FaultRuns };
  const smallMedian = median(small.fault.runs.map((r) => r.totalS));
  const smallRest = median(small.fault.runs.map((r) => r.totalS - r.waitS));
  for (const l of withFault) if (l.fault.daemon !== undefined) out(`N=${l.n}: ${l.fault.daemon}`);
  for (const l of withFault.slice(1)) {
    const m = median(l.fault.runs.map((r) => r.totalS));
    const rest = median(l.fault.runs.map((r) => r.totalS - r.waitS));
    out(`${l.n} median ≤ N=${small.n} median + ${FAULT_SLACK_S} s: ${m <= smallMedian + FAULT_SLACK_S ? 'yes' : 'no'} (${f2(m)} s against ${f2(smallMedian)} + ${FAULT_SLACK_S} s)`);
    out(`  without the wait for the schedule (first failing probe → Recovered): ${f2(rest)} s against ${f2(smallRest)} s at N=${small.n}`);
  }
}

export async function run(): Promise<void> {
  // The daemon as operators run it: the bundle (bin/mamori.js takes dist/ when it is newer than src/).
  if (process.env.FLEET_BUILD !== '0') execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  process.stdout.write(`fleet: N = ${SIZES.join(', ')}; window ${MEASURE_S} s after warm-up; ${SERVICES.length} services a server (${SERVICES.join(' ')}), interval ${INTERVAL_S} s; load average at start ${load()}\n`);
  const failures: string[] = [];
  const lanes: Lane[] = [];
  for (const n of SIZES) {
    const l = await lane(n);
    lanes.push(l);
    for (const f of l.soakFailures) failures.push(`N=${n}: ${f}`);
  }
  faultVerdict(lanes);
  if (failures.length > 0) throw new Error(`fleet soak: not back to the warm-up level: ${failures.join('; ')}`);
}
