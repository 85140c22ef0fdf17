/**
 * `npm run bench -- reconcile-vs`: the controller pass of bench/reconcile.ts measured for this tree
 * and for a base commit (RECONCILE_BENCH_BASE, the parent commit by default) in the same run: the
 * base is checked out into a temporary worktree (sharing this tree's node_modules), and the two are
 * run in alternation, RECONCILE_BENCH_ROUNDS rounds (3), each in a fresh process, so that both see
 * the same machine load. Prints each side's median and the ratio; exits non-zero when this tree is
 * more than 10 % slower than the base in CPU time a pass.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run$ = promisify(execFile);
const LIMIT = 1.1;

interface Figures {
  wallMs: number;
  cpuMs: number;
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run$('git', args, { cwd })).stdout.trim();
}

async function measure(cwd: string): Promise<Figures> {
  const { stdout } = await run$(process.execPath, ['--import', 'tsx', 'bench/reconcile.ts'], {
    cwd,
    env: { ...process.env, ONLY_CONTROLLER: '1' },
    maxBuffer: 1 << 20,
    timeout: 600_000,
  });
  const m = /controller pass[^\n]*median ([\d.]+) ms[^\n]*CPU ([\d.]+) ms/.exec(stdout);
  if (m === null) throw new Error(`bench/reconcile.ts in ${cwd} printed no controller figures:\n${stdout}`);
  return { wallMs: Number(m[1]), cpuMs: Number(m[2]) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

export async function run(): Promise<void> {
  const root = await git(process.cwd(), 'rev-parse', '--show-toplevel');
  const base = await git(root, 'rev-parse', '--short', process.env.RECONCILE_BENCH_BASE ?? 'HEAD~1');
  const head = await git(root, 'rev-parse', '--short', 'HEAD');
  const rounds = Math.max(1, Math.min(9, Number(process.env.RECONCILE_BENCH_ROUNDS ?? 3)));
  const dir = await mkdtemp(path.join(tmpdir(), 'mamori-bench-base-'));
  await git(root, 'worktree', 'add', '--detach', dir, base);
  try {
    await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    const sides: Array<{ label: string; cwd: string; runs: Figures[] }> = [
      { label: `base ${base}`, cwd: dir, runs: [] },
      { label: `this ${head}${(await git(root, 'status', '--porcelain', '--untracked-files=no')) !== '' ? '+changes' : ''}`, cwd: root, runs: [] },
    ];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first: a load spike is not always paid by the same side.
      for (const side of r % 2 === 0 ? sides : [...sides].reverse()) side.runs.push(await measure(side.cwd));
    }
    const [b, t] = sides.map((s) => ({ label: s.label, wall: median(s.runs.map((x) => x.wallMs)), cpu: median(s.runs.map((x) => x.cpuMs)), all: s.runs })) as [
      { label: string; wall: number; cpu: number; all: Figures[] },
      { label: string; wall: number; cpu: number; all: Figures[] },
    ];
    for (const s of [b, t]) {
      process.stdout.write(`${s.label}: controller pass median ${s.wall.toFixed(1)} ms, CPU ${s.cpu.toFixed(1)} ms (rounds: ${s.all.map((x) => `${x.wallMs.toFixed(1)}/${x.cpuMs.toFixed(1)}`).join(', ')})\n`);
    }
    const ratio = t.cpu / b.cpu;
    process.stdout.write(`ratio (CPU a pass, this / base): ${ratio.toFixed(3)}; wall ${(t.wall / b.wall).toFixed(3)}; limit ${LIMIT} (load average now ${(await import('node:os')).loadavg()[0]?.toFixed(1)})\n`);
    if (ratio > LIMIT) process.exitCode = 1;
  } finally {
    await git(root, 'worktree', 'remove', '--force', dir).catch(() => rm(dir, { recursive: true, force: true }));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
