/**
 * One mamori per state folder. proper-lockfile makes the lock (an atomic mkdir, refreshed while we
 * live, stale after `staleMs` without a refresh); next to it an owner file names the holder's pid
 * and host, so that a lock left by a process that is gone (SIGKILL, a crash) is taken over at once
 * instead of after the stale time.
 */
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';

export const LOCK_NAME = 'mamori.lock';
export const OWNER_NAME = 'mamori.lock.owner.json';

export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  /** What holds it: `run` (the daemon) or a one-off command (`reconcile --once`, `resume`). */
  purpose: string;
}

export interface StateLock {
  readonly owner: LockOwner;
  release(): Promise<void>;
}

export interface LockOptions {
  purpose?: string;
  logger?: Logger;
  staleMs?: number;
  /** How long to wait for an owner that was just killed to disappear (its pid may linger ~1 s). */
  deadOwnerWaitMs?: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function zombie(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return /^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return true;
  }
}

export async function readLockOwner(stateDir: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(path.join(stateDir, OWNER_NAME), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

async function ownerGone(stateDir: string): Promise<boolean> {
  const owner = await readLockOwner(stateDir);
  if (owner === undefined || owner.hostname !== hostname()) return false;
  if (owner.pid === process.pid) return false;
  return !pidAlive(owner.pid) || (await zombie(owner.pid));
}

/** Whether another live process holds the lock (for commands that talk to a running daemon). */
export async function isStateLocked(stateDir: string, staleMs = 10_000): Promise<boolean> {
  try {
    const locked = await lockfile.check(stateDir, { lockfilePath: path.join(stateDir, LOCK_NAME), stale: staleMs, realpath: false });
    if (!locked) return false;
    return !(await ownerGone(stateDir));
  } catch {
    return false;
  }
}

export async function acquireStateLock(stateDir: string, options: LockOptions = {}): Promise<StateLock> {
  await mkdir(stateDir, { recursive: true });
  const lockfilePath = path.join(stateDir, LOCK_NAME);
  const staleMs = options.staleMs ?? 10_000;
  const deadline = Date.now() + (options.deadOwnerWaitMs ?? 3_000);
  const take = () =>
    lockfile.lock(stateDir, {
      lockfilePath,
      stale: staleMs,
      realpath: false,
      onCompromised: (err) => options.logger?.error({ err }, 'state lock compromised'),
    });
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await take();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      if (await ownerGone(stateDir)) {
        options.logger?.warn({ owner: await readLockOwner(stateDir) }, 'state lock left by a dead process: taking it over');
        await rm(lockfilePath, { recursive: true, force: true });
        continue;
      }
      if (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const owner = await readLockOwner(stateDir);
      throw new MamoriError('MAMORI_STATE_LOCKED', `another mamori holds the lock on ${stateDir}${owner ? ` (pid ${owner.pid}, ${owner.purpose})` : ''}`, {
        cause: err,
        details: { stateDir, ...(owner ? { pid: owner.pid, purpose: owner.purpose } : {}) },
      });
    }
  }
  const owner: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), purpose: options.purpose ?? 'run' };
  await writeFile(path.join(stateDir, OWNER_NAME), `${JSON.stringify(owner)}\n`, { mode: 0o644 });
  let released = false;
  return {
    owner,
    async release() {
      if (released) return;
      released = true;
      await rm(path.join(stateDir, OWNER_NAME), { force: true });
      await release();
    },
  };
}
