import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import type { Notification, Notifier } from '../../src/notify/types.ts';
import { BufferedNotifier, BufferedStatusStore } from '../../src/reconcile/state-backlog.ts';
import { StateHealth } from '../../src/status/state-health.ts';
import { createStatusStore, type StatusStore } from '../../src/status/store.ts';
import type { ServerStatus } from '../../src/status/model.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const enospc = (): Error => Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });

function statusOf(name: string, updatedAt: string): ServerStatus {
  return { apiVersion: 'mamori/v1', kind: 'ServerStatus', metadata: { name }, observedRevision: 'r', updatedAt, conditions: [], services: {}, incidents: { open: [], recent: [] } };
}

describe('state backlog', () => {
  test('status files and notifications wait in memory while the folder is full, counted, and are written in order when it is not', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mamori-backlog-'));
    dirs.push(state);
    const health = new StateHealth({ stateDir: state, logger: silentLogger(), checkEveryMs: 60_000 });
    let full = true;
    const real = createStatusStore(state);
    const disk: StatusStore = { ...real, write: async (s) => (full ? Promise.reject(enospc()) : real.write(s)) };
    const store = new BufferedStatusStore(disk, health, silentLogger());
    const queued: string[] = [];
    const outbox: Notifier = { notify: async (n: Notification) => (full ? Promise.reject(enospc()) : void queued.push(n.id)) };
    const notifier = new BufferedNotifier(outbox, health, silentLogger(), 2);

    await store.write(statusOf('web01', '2026-12-01T00:00:00.000Z'));
    await store.write(statusOf('web01', '2026-12-01T00:00:05.000Z'));
    await store.write(statusOf('web02', '2026-12-01T00:00:05.000Z'));
    const n = (id: string): Notification => ({ id, kind: 'recovered' }) as unknown as Notification;
    await notifier.notify(n('a'));
    await notifier.notify(n('b'));
    await notifier.notify(n('c')); // over the bound of 2: the oldest is dropped, and counted
    expect(health.writable).toBe(false);
    expect(health.status()).toMatchObject({ writable: false, condition: { type: 'StateWritable', status: 'False', reason: 'WriteFailed' }, unwritten: { status: 2, notification: 2 } });
    expect(notifier.dropped).toBe(1);
    // What is waiting is what a reader of this process sees.
    expect((await store.read('web01'))?.updatedAt).toBe('2026-12-01T00:00:05.000Z');
    expect(await real.read('web01')).toBeUndefined();

    full = false;
    health.succeeded('check');
    await expect.poll(() => health.unwrittenTotal()).toBe(0);
    expect(health.writable).toBe(true);
    expect((await real.read('web01'))?.updatedAt).toBe('2026-12-01T00:00:05.000Z');
    expect((await real.read('web02'))?.updatedAt).toBe('2026-12-01T00:00:05.000Z');
    expect(queued).toEqual(['b', 'c']);
    health.stop();
  });

  test('an error that is not the disk\'s is not held: it reaches the caller', async () => {
    const health = new StateHealth({ stateDir: '/nonexistent', logger: silentLogger() });
    const notifier = new BufferedNotifier({ notify: async () => Promise.reject(new Error('cannot render')) }, health, silentLogger());
    await expect(notifier.notify({ id: 'x' } as unknown as Notification)).rejects.toThrow('cannot render');
    expect(health.writable).toBe(true);
    expect(notifier.size()).toBe(0);
  });
});
