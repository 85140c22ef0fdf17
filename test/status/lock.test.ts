import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { isMamoriError } from '../../src/errors.ts';
import { acquireStateLock, isStateLocked, readLockOwner } from '../../src/status/lock.ts';

const dirs: string[] = [];
async function tempState(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mamori-lock-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const HOLDER = path.join(import.meta.dirname, 'lock-holder.ts');

/** A separate process that takes the lock and says so, then waits to be killed. */
function startHolder(state: string): Promise<{ pid: number; kill: (sig: NodeJS.Signals) => void; exited: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, state], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('lock holder did not start')), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) {
        clearTimeout(timer);
        resolve({ pid: child.pid as number, kill: (sig) => child.kill(sig), exited });
      }
    });
  });
}

describe('state lock', () => {
  test('a second mamori on the same state folder refuses to start (MAMORI_STATE_LOCKED)', async () => {
    const state = await tempState();
    const holder = await startHolder(state);
    try {
      expect(await isStateLocked(state)).toBe(true);
      const err = await acquireStateLock(state, { deadOwnerWaitMs: 300 }).catch((e: unknown) => e);
      expect(isMamoriError(err, 'MAMORI_STATE_LOCKED')).toBe(true);
      expect((await readLockOwner(state))?.pid).toBe(holder.pid);
    } finally {
      holder.kill('SIGTERM');
      await holder.exited;
    }
  });

  test('a lock left by a SIGKILLed owner is taken over without waiting for staleness', async () => {
    const state = await tempState();
    const holder = await startHolder(state);
    holder.kill('SIGKILL');
    await holder.exited;
    const lock = await acquireStateLock(state, { staleMs: 60_000 });
    expect(lock.owner.pid).toBe(process.pid);
    await lock.release();
    expect(await isStateLocked(state)).toBe(false);
  });

  test('in one process: held, refused, released, taken again', async () => {
    const state = await tempState();
    const a = await acquireStateLock(state);
    await expect(acquireStateLock(state, { deadOwnerWaitMs: 0 })).rejects.toMatchObject({ code: 'MAMORI_STATE_LOCKED' });
    await a.release();
    const b = await acquireStateLock(state);
    await b.release();
  });
});
