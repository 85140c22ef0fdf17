import { readdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { defaultLabDir, failedLabDir, labRecordPath, netnsPrefix, vethPrefix, checkLabId } from './names.ts';
import { deleteNetwork } from './network.ts';
import { removeNspawnCgroups } from './nspawn.ts';
import { run, sleep } from './run.ts';

/** Programs of ours whose command line names the lab folder: only these are killed by folder. */
const OURS = new Set(['systemd-nspawn', 'ipmi_sim', 'init.sh', 'power.sh', 'chassis.sh', 'unshare', 'ip', 'nsenter']);

export async function readLabDir(id: number): Promise<string> {
  try {
    const rec = JSON.parse(await readFile(labRecordPath(id), 'utf8')) as { dir?: unknown };
    if (typeof rec.dir === 'string' && isAbsolute(rec.dir)) return rec.dir;
  } catch {
    // no record: a lab that never started, or one in the default folder
  }
  return defaultLabDir(id);
}

async function listNetns(id: number): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(netnsPrefix(id)));
}

async function listVeths(id: number): Promise<string[]> {
  const r = await run('ip', ['-o', 'link', 'show']);
  const names = [...r.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1] ?? '');
  return names.filter((n) => n.startsWith(vethPrefix(id)));
}

async function cmdline(pid: number): Promise<string[] | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((s) => s !== '');
  } catch {
    return undefined;
  }
}

/** Pids of processes that are provably this lab's: in its namespaces, or ours naming its folder. */
export async function labPids(id: number, dir: string): Promise<number[]> {
  const pids = new Set<number>();
  for (const ns of await listNetns(id)) {
    const r = await run('ip', ['netns', 'pids', ns]);
    for (const p of r.stdout.split(/\s+/)) if (/^\d+$/.test(p)) pids.add(Number(p));
  }
  const prefix = `${resolve(dir)}/`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const argv = await cmdline(pid);
    if (!argv || !argv.some((a) => a.startsWith(prefix) || a.includes(`=${prefix}`))) continue;
    const names = argv.slice(0, 2).map((a) => a.split('/').pop() ?? '');
    if (names.some((n) => OURS.has(n))) pids.add(pid);
  }
  pids.delete(process.pid);
  return [...pids];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function isZombie(pid: number): Promise<boolean> {
  try {
    return /^State:\s*Z/m.test(await readFile(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

export async function killAndWait(pids: readonly number[], timeoutMs = 5_000): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const until = Date.now() + timeoutMs;
  for (;;) {
    const left: number[] = [];
    for (const p of pids) if (alive(p) && !(await isZombie(p))) left.push(p);
    if (left.length === 0 || Date.now() > until) return;
    await sleep(50);
  }
}

/**
 * Removes everything lab <id> may have left (a killed test run included): its processes (by
 * pid, found through its network namespaces and its folder), mounts, namespaces, veths, bridge,
 * /etc/netns entries, folder and record. Idempotent; what startLab does first.
 */
export async function cleanStaleLab(id: number, dirOverride?: string, opts: { keepFailed?: boolean } = {}): Promise<void> {
  checkLabId(id);
  const dirs = new Set([await readLabDir(id), defaultLabDir(id)]);
  if (dirOverride) dirs.add(resolve(dirOverride));
  for (const dir of dirs) await killAndWait(await labPids(id, dir));
  // A second pass: a power-on racing the first kill may have booted an init.
  for (const dir of dirs) await killAndWait(await labPids(id, dir));

  const mounts = await readFile('/proc/mounts', 'utf8');
  for (const line of mounts.split('\n')) {
    const target = line.split(' ')[1]?.replace(/\\040/g, ' ');
    if (!target) continue;
    if ([...dirs].some((d) => target.startsWith(`${d}/`)) || target.startsWith(`/run/netns/${netnsPrefix(id)}`)) {
      await run('umount', ['-l', target]);
    }
  }
  // Each systemd host's container had a cgroup of its own, named after its netns.
  await removeNspawnCgroups(netnsPrefix(id));
  const namespaces = await listNetns(id);
  await deleteNetwork(id, namespaces, await listVeths(id));
  try {
    for (const e of await readdir('/etc/netns')) {
      if (e.startsWith(netnsPrefix(id))) await rm(join('/etc/netns', e), { recursive: true, force: true });
    }
  } catch {
    // no /etc/netns at all
  }
  for (const dir of dirs) {
    // Never a short path: an empty or root folder here would be a bug, not a lab.
    if (isAbsolute(dir) && dir.split('/').filter(Boolean).length >= 2) {
      await rm(dir, { recursive: true, force: true });
    }
  }
  await rm(labRecordPath(id), { force: true });
  if (!opts.keepFailed) await rm(failedLabDir(id), { recursive: true, force: true });
}
