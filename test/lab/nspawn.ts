/**
 * A real systemd as PID 1 in its own namespaces, booted with systemd-nspawn over an overlay
 * of the machine's own root (LAB.md: "A host with a real systemd"). Generic: the lab's
 * systemd hosts use it, and so can any test that wants a systemd to run a unit file.
 *
 * Layout of a container's folder DIR: DIR/upper and DIR/work (the overlay's writable layer:
 * the container's "disk", kept across power cycles), DIR/root (the overlay, mounted by
 * prepareNspawnRoot and unmounted by unmountNspawnRoot), DIR/console.log (the boot console),
 * DIR/nspawn.pid. The container boots to its own target, `mamori-nspawn.target` (basic.target
 * plus the units asked for), so nothing the machine has enabled for itself starts inside.
 *
 * Power: poweroff() asks systemd to power off (SIGRTMIN+4: the stop jobs run); kill() is a
 * pulled plug (SIGKILL to the container's PID 1: every process of it ends). Either way
 * systemd-nspawn exits; the overlay stays mounted until unmountNspawnRoot().
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { run, sleep, type RunResult } from './run.ts';

/** The target a container boots to: basic.target and the units asked for, nothing else. */
export const NSPAWN_TARGET = 'mamori-nspawn.target';

/**
 * Masked by default: timers (apt-daily and friends would wake up inside) and the consoles'
 * gettys (nobody logs in on them; the console is nsenter).
 */
export const DEFAULT_MASKED_UNITS: readonly string[] = ['timers.target', 'getty.target', 'console-getty.service'];

export interface NspawnFile {
  content: string;
  mode?: number;
}

export interface NspawnOptions {
  /** The container's folder (absolute): upper/, work/, root/, console.log, nspawn.pid. */
  dir: string;
  /**
   * The machine name: nspawn's -M, the container's hostname, and the name of nspawn's own
   * bookkeeping under /run/systemd/nspawn. [a-zA-Z0-9-], up to 64 characters; unique among
   * the containers running at once.
   */
  machine: string;
  /** The container's hostname (its /etc/hostname); default: the machine name. */
  hostname?: string;
  /** A network namespace to join (a name under /run/netns, or a path); default: the machine's network. */
  netns?: string;
  /** Units the boot target wants (e.g. 'httpd.service', 'telnet.socket'). */
  units?: readonly string[];
  /** Units linked to /dev/null inside; default DEFAULT_MASKED_UNITS (pass [] to mask nothing). */
  mask?: readonly string[];
  /** Files written into the container before boot (path inside → text or {content, mode}). */
  files?: Readonly<Record<string, string | NspawnFile>>;
  /** Machine folders bound into the container at the same path (read-only unless in bindRw). */
  bindRo?: readonly string[];
  bindRw?: readonly string[];
}

function checkOptions(o: NspawnOptions): void {
  if (!isAbsolute(o.dir) || o.dir.split('/').filter(Boolean).length < 2) {
    throw new Error(`nspawn: the container folder must be an absolute path two levels deep, got "${o.dir}"`);
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9-]{0,63}$/.test(o.machine)) {
    throw new Error(`nspawn: machine name "${o.machine}" must match [a-zA-Z0-9][a-zA-Z0-9-]{0,63}`);
  }
  for (const u of [...(o.units ?? []), ...(o.mask ?? [])]) {
    if (!/^[a-zA-Z0-9@_.:\\-]+\.(service|socket|target|timer|path|mount)$/.test(u)) {
      throw new Error(`nspawn: "${u}" is not a unit name`);
    }
  }
  for (const p of Object.keys(o.files ?? {})) {
    if (!isAbsolute(p) || resolve(p) !== p) throw new Error(`nspawn: file path "${p}" must be absolute and normal`);
  }
}

export const nspawnRoot = (dir: string): string => join(dir, 'root');

async function isMounted(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[1] === path);
}

/**
 * Mounts the overlay (once: a mounted root is kept, with its writes) and writes the boot
 * target, the masks, a machine id of its own (nspawn refuses the machine's) and the files.
 * Returns the root folder; writing under it writes the container's disk.
 */
export async function prepareNspawnRoot(o: NspawnOptions): Promise<string> {
  checkOptions(o);
  const root = nspawnRoot(o.dir);
  for (const d of ['upper', 'work', 'root']) await mkdir(join(o.dir, d), { recursive: true, mode: 0o755 });
  if (!(await isMounted(root))) {
    const r = await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=/,upperdir=${o.dir}/upper,workdir=${o.dir}/work`, root]);
    if (r.code !== 0) throw new Error(`nspawn: cannot mount the overlay of / on ${root}: ${r.stderr.trim()}`);
  }
  const sys = join(root, 'etc/systemd/system');
  await mkdir(join(sys, `${NSPAWN_TARGET}.wants`), { recursive: true });
  const machineId = join(root, 'etc/machine-id');
  const id = await readFile(machineId, 'utf8').catch(() => '');
  const machines = await readFile('/etc/machine-id', 'utf8').catch(() => '');
  if (id.trim() === '' || id.trim() === machines.trim()) await writeFile(machineId, `${randomBytes(16).toString('hex')}\n`);
  // systemd takes its hostname from /etc/hostname (the machine's, in the lower layer), not from -M.
  await writeFile(join(root, 'etc/hostname'), `${o.hostname ?? o.machine}\n`);
  await writeFile(
    join(sys, NSPAWN_TARGET),
    '[Unit]\nDescription=What this container serves (mamori lab)\nRequires=basic.target\nAfter=basic.target\nAllowIsolate=yes\n',
  );
  for (const u of o.mask ?? DEFAULT_MASKED_UNITS) {
    await rm(join(sys, u), { force: true });
    await symlink('/dev/null', join(sys, u));
  }
  for (const [path, f] of Object.entries(o.files ?? {})) {
    const file = typeof f === 'string' ? { content: f } : f;
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    // Replace, never write through: the machine's file may be a symlink (an alias unit).
    await rm(target, { force: true });
    await writeFile(target, file.content, { mode: file.mode ?? 0o644 });
    await chmod(target, file.mode ?? 0o644);
  }
  // Wanted after the files: a unit given as a file is found by its link.
  for (const u of o.units ?? []) {
    const link = join(sys, `${NSPAWN_TARGET}.wants`, u);
    await rm(link, { force: true });
    const own = join(sys, u);
    const vendor = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'].map((d) => join(root, d, u));
    const found = await firstExisting([own, ...vendor]);
    if (!found) throw new Error(`nspawn: unit ${u} is neither given nor installed`);
    await symlink(found.slice(root.length), link);
  }
  return root;
}

async function firstExisting(paths: readonly string[]): Promise<string | undefined> {
  for (const p of paths) {
    try {
      await readFile(p);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * Moves the shell into a cgroup of its own (CGROUP_PREFIX + machine, under its current cgroup in
 * the named systemd v1 hierarchy and in the v2 one), then execs the rest. Without it nspawn
 * (--keep-unit, no systemd on the machine) puts every container in the same cgroup (the
 * machine's root), and one container's systemd then signals another's processes when it stops
 * a unit of the same name.
 */
const OWN_CGROUP_SH = [
  'm=$1; shift',
  'while IFS=: read -r _ ctrl path; do',
  '  case "$ctrl" in',
  '    name=systemd) base=/sys/fs/cgroup/systemd ;;',
  '    "") if [ -d /sys/fs/cgroup/unified ]; then base=/sys/fs/cgroup/unified; else base=/sys/fs/cgroup; fi ;;',
  '    *) continue ;;',
  '  esac',
  '  [ -d "$base" ] || continue',
  '  d="$base${path%/}/$m"',
  '  mkdir -p "$d" && echo $$ >"$d/cgroup.procs" || { echo "nspawn: cannot move into cgroup $d" >&2; exit 1; }',
  'done </proc/self/cgroup',
  'exec "$@"',
].join('\n');

/** Each container's own cgroup is named after its machine with this prefix. */
export const CGROUP_PREFIX = 'mamori-nspawn-';

/** The command line that boots the prepared root (what power scripts run): systemd-nspawn in a cgroup of its own. */
export function nspawnArgv(o: NspawnOptions): string[] {
  checkOptions(o);
  const net = o.netns === undefined ? [] : [`--network-namespace-path=${o.netns.includes('/') ? o.netns : `/run/netns/${o.netns}`}`];
  return [
    '/bin/sh', '-c', OWN_CGROUP_SH, 'mamori-nspawn', `${CGROUP_PREFIX}${o.machine}`,
    'systemd-nspawn', '--quiet', '-D', nspawnRoot(o.dir), '--boot', '-M', o.machine,
    // No systemd or dbus on the machine: nspawn must not register, nor make a scope unit.
    '--register=no', '--keep-unit', '--link-journal=no', '--console=read-only',
    ...net,
    ...(o.bindRo ?? []).map((p) => `--bind-ro=${p}`),
    ...(o.bindRw ?? []).map((p) => `--bind=${p}`),
    `systemd.unit=${NSPAWN_TARGET}`,
  ];
}

async function statusField(pid: number, field: string): Promise<string | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  } catch {
    return undefined;
  }
}

/** True while the process runs (not a zombie waiting to be reaped). */
export async function processRuns(pid: number): Promise<boolean> {
  const state = await statusField(pid, 'State');
  return state !== undefined && !state.startsWith('Z');
}

/** True when pid is a systemd-nspawn of this container folder. */
async function isOurNspawn(pid: number, dir: string): Promise<boolean> {
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return (argv[0] ?? '').endsWith('systemd-nspawn') && argv.includes(nspawnRoot(dir)) && (await processRuns(pid));
  } catch {
    return false;
  }
}

/**
 * The container's PID 1 as the machine sees it: the child of systemd-nspawn that is PID 1 of
 * its own PID namespace (nspawn's short-lived helper children are not).
 */
export async function nspawnLeader(nspawnPid: number): Promise<number | undefined> {
  let kids: string;
  try {
    kids = await readFile(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8');
  } catch {
    return undefined;
  }
  for (const k of kids.split(/\s+/).filter(Boolean)) {
    const pid = Number(k);
    const ns = (await statusField(pid, 'NSpid'))?.split(/\s+/);
    if (ns && ns.length > 1 && ns.at(-1) === '1' && (await processRuns(pid))) return pid;
  }
  return undefined;
}

/** The running container of a folder, from its nspawn.pid: { nspawnPid, leader } or undefined. */
export async function findNspawn(dir: string): Promise<{ nspawnPid: number; leader: number } | undefined> {
  const pid = Number((await readFile(join(dir, 'nspawn.pid'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1 || !(await isOurNspawn(pid, dir))) return undefined;
  const leader = await nspawnLeader(pid);
  return leader === undefined ? undefined : { nspawnPid: pid, leader };
}

export interface NspawnContainer {
  dir: string;
  machine: string;
  nspawnPid: number;
  /** The container's PID 1 (systemd) as the machine sees it. */
  leader: number;
  /** Runs argv as root inside the container (all its namespaces), with a clean environment. */
  exec(argv: readonly string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>;
  /** `bash -c command` inside. */
  sh(command: string, opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** systemctl is-active UNIT: 'active', 'inactive', 'failed', 'activating', ... */
  unitState(unit: string): Promise<string>;
  /** Waits until systemd finished booting (running or degraded); returns that state. */
  waitBooted(timeoutMs?: number): Promise<string>;
  /** A clean power-off (the stop jobs run); resolves when nspawn has exited. */
  poweroff(timeoutMs?: number): Promise<void>;
  /** A pulled plug: SIGKILL to PID 1, every process ends; resolves when nspawn has exited. */
  kill(timeoutMs?: number): Promise<void>;
  /** Ends the container if it runs (kill) and unmounts its root. The folder stays. */
  close(): Promise<void>;
}

const CLEAN_ENV = ['/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C', 'TERM=dumb', 'USER=root'];

/** The argv that runs a command in the container of leader pid (what a console script does). */
export function nsenterArgv(leader: number, argv: readonly string[]): string[] {
  return ['nsenter', '-t', String(leader), '-a', '--wd=/', '--', ...CLEAN_ENV, ...argv];
}

async function waitGone(pid: number, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (await processRuns(pid)) {
    if (Date.now() > until) throw new Error(`nspawn: ${what}: still running after ${timeoutMs} ms`);
    await sleep(50);
  }
}

function containerOf(o: NspawnOptions, nspawnPid: number, leader: number): NspawnContainer {
  const exec = (argv: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> => {
    const [file, ...args] = nsenterArgv(leader, argv);
    return run(file ?? 'nsenter', args, { timeoutMs: opts.timeoutMs ?? 30_000, ...(opts.input === undefined ? {} : { input: opts.input }) });
  };
  const c: NspawnContainer = {
    dir: o.dir,
    machine: o.machine,
    nspawnPid,
    leader,
    exec,
    sh: (command, opts) => exec(['/bin/bash', '--norc', '--noprofile', '-c', command], opts),
    async unitState(unit) {
      return (await exec(['systemctl', 'is-active', unit])).stdout.trim();
    },
    async waitBooted(timeoutMs = 60_000) {
      // Until its manager listens, systemctl says "offline" at once: ask again.
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: Math.max(1_000, until - Date.now()) });
        const state = r.stdout.trim();
        if (state === 'running' || state === 'degraded') return state;
        if (Date.now() > until || (state !== 'offline' && state !== '' && state !== 'initializing' && state !== 'starting')) {
          throw new Error(`did not finish booting (${state || r.stderr.trim() || `exit ${r.code}`})`);
        }
        await sleep(100);
      }
    },
    async poweroff(timeoutMs = 30_000) {
      if (!(await processRuns(leader))) return;
      // SIGRTMIN+4 is systemd's poweroff.target; node has no name for real-time signals.
      await run('kill', ['-s', 'RTMIN+4', String(leader)]);
      await waitGone(nspawnPid, timeoutMs, `${o.machine} power-off`);
    },
    async kill(timeoutMs = 10_000) {
      try {
        process.kill(leader, 'SIGKILL');
      } catch {
        // gone already
      }
      await waitGone(nspawnPid, timeoutMs, `${o.machine} after SIGKILL of its PID 1`);
    },
    async close() {
      if (await isOurNspawn(nspawnPid, o.dir)) await c.kill();
      await unmountNspawnRoot(o.dir);
      await removeNspawnCgroups(o.machine);
    },
  };
  return c;
}

/**
 * Boots the container (preparing its root first) and waits until its systemd has finished
 * booting. nspawn runs detached, its output in DIR/console.log; a failed boot stops it and
 * rejects with the console's tail.
 */
export async function bootNspawn(o: NspawnOptions, opts: { timeoutMs?: number } = {}): Promise<NspawnContainer> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const until = Date.now() + timeoutMs;
  if (await findNspawn(o.dir)) throw new Error(`nspawn: a container of ${o.dir} already runs`);
  await prepareNspawnRoot(o);
  const log = openSync(join(o.dir, 'console.log'), 'a');
  const [file, ...args] = nspawnArgv(o);
  const child = spawn(file ?? '/bin/sh', args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`nspawn: systemd-nspawn did not start for ${o.machine}`);
  await writeFile(join(o.dir, 'nspawn.pid'), `${pid}\n`);
  const fail = async (why: string): Promise<never> => {
    const leader = await nspawnLeader(pid);
    if (leader !== undefined) {
      try {
        process.kill(leader, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    await waitGone(pid, 10_000, 'a failed boot').catch(() => undefined);
    const text = await readFile(join(o.dir, 'console.log'), 'utf8').catch(() => '');
    throw new Error(`nspawn: ${o.machine}: ${why}\n--- console.log\n${text.trimEnd().split('\n').slice(-15).join('\n')}`);
  };
  let leader: number | undefined;
  while ((leader = await nspawnLeader(pid)) === undefined) {
    if (!(await processRuns(pid))) return fail('systemd-nspawn exited before its container started');
    if (Date.now() > until) return fail(`no container PID 1 within ${timeoutMs} ms`);
    await sleep(20);
  }
  const c = containerOf(o, pid, leader);
  try {
    await c.waitBooted(Math.max(1_000, until - Date.now()));
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  return c;
}

/** The container of a folder that runs now (another process booted it), or undefined. */
export async function attachNspawn(o: NspawnOptions): Promise<NspawnContainer | undefined> {
  const found = await findNspawn(o.dir);
  return found ? containerOf(o, found.nspawnPid, found.leader) : undefined;
}

/** Unmounts the container's root (lazily: a console still inside does not keep it). Idempotent. */
export async function unmountNspawnRoot(dir: string): Promise<void> {
  const root = nspawnRoot(dir);
  if (await isMounted(root)) {
    const r = await run('umount', ['-l', root]);
    if (r.code !== 0) throw new Error(`nspawn: cannot unmount ${root}: ${r.stderr.trim()}`);
  }
}

/**
 * Removes the cgroups of stopped containers whose machine name starts with `machinePrefix`
 * (deepest first; a cgroup with processes in it stays). Idempotent.
 */
export async function removeNspawnCgroups(machinePrefix: string): Promise<void> {
  if (!/^[a-zA-Z0-9-]+$/.test(machinePrefix)) throw new Error(`nspawn: bad machine prefix "${machinePrefix}"`);
  for (const base of ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    const found = await run('find', [base, '-maxdepth', '3', '-type', 'd', '-name', `${CGROUP_PREFIX}${machinePrefix}*`, '-prune'], { timeoutMs: 10_000 });
    for (const d of found.stdout.split('\n').filter((l) => l.includes(`/${CGROUP_PREFIX}`))) {
      await run('find', [d, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', '+'], { timeoutMs: 10_000 });
    }
  }
}
