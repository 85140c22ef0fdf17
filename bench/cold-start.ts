/**
 * Cold start of the commands an operator types, built vs through tsx, in one run:
 * `mamori --help` (goal ≤ 0.3 s wall) and `mamori validate` on the examples with the production
 * config. Each a fresh `node bin/mamori.js` process; median and p90 of RUNS runs, wall and CPU
 * (the child's user + system time, from this process's cutime/cstime). `npm run build` first, so
 * the built flavour is current.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'mamori.js');
const RUNS = 7;
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const HZ = 100;

/** CPU time (ms) of this process's reaped children so far: cutime + cstime. */
function childrenCpuMs(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state(0) ppid … utime(11) stime(12) cutime(13) cstime(14).
  return ((Number(f[13]) + Number(f[14])) * 1000) / HZ;
}

function measure(args: string[], env: NodeJS.ProcessEnv): { wallMs: number; cpuMs: number; code: number | null } {
  const cpu0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: 'ignore', timeout: 60_000 });
  return { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: childrenCpuMs() - cpu0, code: r.status };
}

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] ?? NaN, p90: s[Math.min(s.length - 1, Math.ceil(s.length * 0.9) - 1)] ?? NaN };
}

export async function run(): Promise<void> {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (build.status !== 0) throw new Error('cold-start bench: npm run build failed');
  const cases: Array<[string, string[]]> = [
    ['--help', ['--help']],
    ['validate examples', ['validate', '--manifests', 'examples', '--config', join('packaging', 'production', 'mamori.yaml')]],
  ];
  const flavours: Array<[string, NodeJS.ProcessEnv]> = [
    ['built', { ...process.env, MAMORI_FROM_SOURCE: '' }],
    ['tsx', { ...process.env, MAMORI_FROM_SOURCE: '1' }],
  ];
  for (const [label, args] of cases) {
    for (const [flavour, env] of flavours) {
      measure(args, env); // once to warm the page cache (and tsx's cache)
      const samples = Array.from({ length: RUNS }, () => measure(args, env));
      const bad = samples.find((s) => s.code !== 0);
      if (bad) throw new Error(`cold-start bench: mamori ${args.join(' ')} (${flavour}) exited ${String(bad.code)}`);
      const wall = stats(samples.map((s) => s.wallMs));
      const cpu = stats(samples.map((s) => s.cpuMs));
      const goal = label === '--help' && flavour === 'built' ? `  goal ≤ 300 ms: ${wall.median <= 300 ? 'met' : 'NOT met'}` : '';
      process.stdout.write(`mamori ${label.padEnd(18)} ${flavour.padEnd(5)}  wall median ${wall.median.toFixed(0).padStart(5)} ms, p90 ${wall.p90.toFixed(0).padStart(5)} ms; cpu median ${cpu.median.toFixed(0).padStart(5)} ms (${RUNS} runs)${goal}\n`);
    }
  }
}
