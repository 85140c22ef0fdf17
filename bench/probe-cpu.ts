/**
 * `npm run bench -- probe-cpu`: the CPU one probe costs mamori, this checkout (or the revision
 * PROBE_CPU_THIS) beside another revision of the probe code (PROBE_CPU_BASE, default `main`; each
 * revision a `git archive` of its src/ into a temporary folder), in the same run, in alternating
 * slices (base, this, base, this, …) so that a shared machine's drifting load weighs on both alike. Lanes (PROBE_CPU_LANES, default all):
 *   - ftp: banner, QUIT, the peer's FIN (a light responder on 200 loopback addresses);
 *   - http: HEAD, status line, the server closes (the same responder's HTTP port);
 *   - ping: loopback addresses through the registry's ping prober (fping), at a fleet's pace.
 * CPU is user+system of this process and every process it started (the ping helper and the fping
 * it runs, or fping started from here), the responder excluded: a helper's CPU is not hidden.
 * PROBE_CPU_BALLAST_MB (default 800) makes this process as large as the daemon at 10,000 servers
 * (touched memory, off the JS heap): starting a process from it costs what it costs the daemon.
 * Every loop is bounded by time (PROBE_CPU_SLICE_S × PROBE_CPU_ROUNDS per lane and revision).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { responderAddresses } from '../test/probe/light-responder.ts';
import { REPO_ROOT } from '../test/source/git-fixture.ts';

const BASE = process.env.PROBE_CPU_BASE ?? 'main';
const THIS = process.env.PROBE_CPU_THIS;
const LANES = (process.env.PROBE_CPU_LANES ?? 'ftp,http,ping').split(',').map((s) => s.trim());
const SLICE_S = Math.max(1, Math.min(20, Number(process.env.PROBE_CPU_SLICE_S ?? 3)));
const ROUNDS = Math.max(1, Math.min(10, Number(process.env.PROBE_CPU_ROUNDS ?? 3)));
const CONCURRENCY = Math.max(1, Math.min(512, Number(process.env.PROBE_CPU_CONCURRENCY ?? 64)));
const BALLAST_MB = Math.max(0, Math.min(4096, Number(process.env.PROBE_CPU_BALLAST_MB ?? 800)));
const OCTET = 230;
const HOSTS = 200;
const FTP_PORT = 2131;
const HTTP_PORT = 2181;
const TICK = 100;

interface ProbeTargetLike {
  service: 'ftp' | 'http' | 'ping';
  address: string;
  port?: number;
  timeoutMs: number;
}
interface RegistryLike {
  probe(target: ProbeTargetLike): Promise<{ up: boolean }>;
}
interface Impl {
  name: string;
  make: () => RegistryLike;
}

/** utime+stime (+ cutime+cstime: reaped children) of one process, in seconds. */
function procCpu(pid: number): { self: number; reaped: number; ppid: number } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { self: (Number(f[11]) + Number(f[12])) / TICK, reaped: (Number(f[13]) + Number(f[14])) / TICK, ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** CPU seconds of this process's tree without the excluded subtree (the responder). */
function treeCpu(excluded: number | undefined): number {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const c = procCpu(pid);
    if (c === undefined) continue;
    const list = children.get(c.ppid) ?? [];
    list.push(pid);
    children.set(c.ppid, list);
  }
  const tree = (pid: number, depth: number): number => {
    if (pid === excluded) return 0;
    const c = procCpu(pid);
    if (c === undefined) return 0;
    let total = c.self + c.reaped;
    if (depth < 8) for (const k of children.get(pid) ?? []) total += tree(k, depth + 1);
    return total;
  };
  // The responder is never reaped during a slice, so its time is not in this process's cutime.
  return tree(process.pid, 0);
}

async function loadImpl(name: string, root: string): Promise<Impl> {
  const registry = (await import(pathToFileURL(join(root, 'src/probe/registry.ts')).href)) as { createProberRegistry: (o: unknown) => RegistryLike };
  const networks = (await import(pathToFileURL(join(root, 'src/manifest/target-networks.ts')).href)) as { targetCheck: (n: string[]) => unknown };
  return { name, make: () => registry.createProberRegistry({ targets: networks.targetCheck(['127.0.0.0/8']) }) };
}

async function startResponder(): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('../test/probe/light-responder.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(OCTET), String(HOSTS), String(FTP_PORT), String(HTTP_PORT)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`light responder exited ${code}`)));
  });
  return child;
}

interface Slice {
  probes: number;
  up: number;
  cpuS: number;
  seconds: number;
}

async function slice(registry: RegistryLike, next: (i: number) => ProbeTargetLike, responder: number | undefined, seconds: number): Promise<Slice> {
  let i = 0;
  let probes = 0;
  let up = 0;
  const cpu0 = treeCpu(responder);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const r = await registry.probe(next(i++));
        probes++;
        if (r.up) up++;
      }
    }),
  );
  return { probes, up, cpuS: treeCpu(responder) - cpu0, seconds: (performance.now() - t0) / 1000 };
}

export async function run(): Promise<void> {
  const baseDir = mkdtempSync(join(tmpdir(), 'mamori-probe-cpu-'));
  let responder: ChildProcess | undefined;
  try {
    /** A revision's src/ in a folder of its own; its TypeScript resolves npm packages from the checkout's node_modules. */
    const archive = (name: string): { rev: string; dir: string } => {
      const rev = execFileSync('git', ['rev-parse', '--short', name], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
      const dir = join(baseDir, rev);
      execFileSync('mkdir', ['-p', dir]);
      execFileSync('sh', ['-c', `git archive ${rev} src package.json | tar -x -C "${dir}"`], { cwd: REPO_ROOT });
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
      return { rev, dir };
    };
    const base = archive(BASE);
    let mine: Impl;
    if (THIS !== undefined) {
      const t = archive(THIS);
      mine = await loadImpl(`this ${t.rev}`, t.dir);
    } else {
      const here = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
      mine = await loadImpl(`this ${here}${dirty ? '+' : ''}`, REPO_ROOT);
    }
    const impls = [await loadImpl(`base ${base.rev}`, base.dir), mine];
    const ballast: Buffer[] = [];
    for (let mb = 0; mb < BALLAST_MB; mb += 64) ballast.push(Buffer.alloc(64 << 20, 1));
    responder = await startResponder();
    const addrs = responderAddresses(OCTET, HOSTS);
    const pings = Array.from({ length: 512 }, (_, k) => `127.1.${Math.floor(k / 250)}.${(k % 250) + 1}`);
    const targetOf: Record<string, (i: number) => ProbeTargetLike> = {
      ftp: (i) => ({ service: 'ftp', address: addrs[i % addrs.length] as string, port: FTP_PORT, timeoutMs: 5000 }),
      http: (i) => ({ service: 'http', address: addrs[i % addrs.length] as string, port: HTTP_PORT, timeoutMs: 5000 }),
      ping: (i) => ({ service: 'ping', address: pings[i % pings.length] as string, timeoutMs: 1000 }),
    };
    process.stdout.write(
      `probe-cpu: ${impls.map((i) => i.name).join(' vs ')}; ${ROUNDS} rounds of ${SLICE_S} s slices a lane, concurrency ${CONCURRENCY}, this process ${BALLAST_MB} MB larger (ballast); load average at start ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
    );
    const rows: string[] = [];
    for (const lane of LANES) {
      const next = targetOf[lane];
      if (next === undefined) throw new Error(`probe-cpu: no lane ${lane}`);
      const registries = impls.map((impl) => impl.make());
      // Warm-up: code paths compiled, the ping helper started.
      for (const r of registries) await slice(r, next, responder.pid, 1);
      const sums = impls.map(() => ({ probes: 0, up: 0, cpuS: 0, seconds: 0 }));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [k, r] of registries.entries()) {
          const s = await slice(r, next, responder.pid, SLICE_S);
          const sum = sums[k] as Slice;
          sum.probes += s.probes;
          sum.up += s.up;
          sum.cpuS += s.cpuS;
          sum.seconds += s.seconds;
        }
      }
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
      const us = sums.map((s) => (s.cpuS * 1e6) / Math.max(1, s.probes));
      for (const [k, s] of sums.entries()) {
        rows.push(
          `${lane.padEnd(5)} ${(impls[k] as Impl).name.padEnd(18)} ${(s.probes / s.seconds).toFixed(0).padStart(7)}/s  up ${((100 * s.up) / Math.max(1, s.probes)).toFixed(1).padStart(5)} %  ${(us[k] as number).toFixed(0).padStart(5)} µs CPU a probe`,
        );
      }
      rows.push(`${lane.padEnd(5)} this / base: ${((us[1] as number) / (us[0] as number)).toFixed(2)}× the CPU a probe (load average ${load})`);
      process.stdout.write(`${rows.slice(-3).join('\n')}\n`);
    }
    ballast.length = 0;
    process.stdout.write(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${availableParallelism()} cores\n`);
  } finally {
    responder?.stdin?.end();
    responder?.kill('SIGTERM');
    rmSync(baseDir, { recursive: true, force: true });
  }
}
