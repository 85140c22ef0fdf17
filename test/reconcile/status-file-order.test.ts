/**
 * A status file ends as the newest state, whatever order the disk finishes writes in. In CI a
 * server's file kept `services: {}` and NotProbedYet while the daemon called it Healthy: a
 * certificate seen by the first pass wrote the file before the pass's commit, that write reached
 * the disk after the one its transitions made, and nothing changed afterwards to write it again.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import type { ServerDocument, ServiceName } from '../../src/manifest/types.ts';
import { serverIdOf } from '../../src/manifest/server-id.ts';
import type { ProbeResult } from '../../src/probe/types.ts';
import { Controller } from '../../src/reconcile/controller.ts';
import { desiredFromManifest } from '../../src/reconcile/desired.ts';
import { FleetState } from '../../src/reconcile/fleet-state.ts';
import type { LoopContext } from '../../src/reconcile/loop-types.ts';
import { PassFailures } from '../../src/reconcile/pass-retry.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import { StatusFiles } from '../../src/reconcile/status-files.ts';
import { openJournal, type Journal } from '../../src/status/journal.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { createStatusStore, type StatusStore } from '../../src/status/store.ts';
import { ManualClock, RecordingNotifier, renderStub, ScriptedExecutor, serverDoc, tempStateDir } from './harness.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function stateDir(): Promise<string> {
  const dir = await tempStateDir();
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A store whose writes of the statuses `slow` picks reach the disk `ms` later than the others. */
function slowStore(inner: StatusStore, slow: (s: ServerStatus) => boolean, ms: number): StatusStore & { written: ServerStatus[] } {
  const written: ServerStatus[] = [];
  return {
    dir: inner.dir,
    written,
    async write(status) {
      if (slow(status)) await sleep(ms);
      await inner.write(status);
      written.push(status);
    },
    read: (server) => inner.read(server),
    list: () => inner.list(),
    archive: (server, nowIso) => inner.archive(server, nowIso),
  };
}

describe('status files: the last write is the newest state', () => {
  test('a write asked for while one is under way is written after it, from the state as it is then; its caller waits for that', async () => {
    const dir = await stateDir();
    const inner = createStatusStore(dir);
    let first = true;
    const store = slowStore(inner, () => {
      const was = first;
      first = false;
      return was;
    }, 150);
    const doc = serverDoc('web01', '10.231.10.5', ['ping']);
    const name = serverIdOf(doc);
    const fleet = new FleetState();
    const desired = desiredFromManifest(doc);
    fleet.setEntry(name, { loaded: false, doc, desired, groupKeys: [] });
    const ctx = {
      o: { store, logger: silentLogger(), policy: policyFromConfig({}) },
      clock: new ManualClock(Date.parse('2026-12-01T00:00:00Z')),
      fleet,
      track: <T>(p: Promise<T>) => p,
      stopping: () => false,
    } as unknown as LoopContext;
    const files = new StatusFiles(ctx, { passFailures: new PassFailures(), emit: () => undefined });

    files.revision = 'rev1';
    const one = files.write(name);
    await sleep(20); // the first write is on its way to the disk
    files.revision = 'rev2';
    const two = files.write(name);
    const three = files.write(name); // joins the second
    await Promise.all([one, two, three]);
    expect(store.written.map((s) => s.observedRevision)).toEqual(['rev1', 'rev2']);
    expect((await inner.read(name))?.observedRevision).toBe('rev2');
  });

  test('a first pass that sees a self-signed certificate, its journal slow: the file shows every service Healthy', async () => {
    const dir = await stateDir();
    const real = await openJournal(dir);
    cleanup.push(() => real.close());
    // The pass's records take 100 ms to reach the journal; a status with no services yet takes 150 ms to reach the disk.
    const journal: Journal = {
      ...real,
      append: async (e) => {
        await sleep(100);
        return real.append(e);
      },
      ...(real.appendBatch !== undefined
        ? {
            appendBatch: async (e) => {
              await sleep(100);
              return (real.appendBatch as NonNullable<Journal['appendBatch']>)(e);
            },
          }
        : {}),
    };
    const inner = createStatusStore(dir);
    const store = slowStore(inner, (s) => Object.keys(s.services).length === 0, 150);
    const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
    const probe = async (d: ServerDocument, service: ServiceName): Promise<ProbeResult> => ({
      service,
      target: `${d.spec.address}:443`,
      up: true,
      latencyMs: 1,
      startedAt: new Date(clock.now()).toISOString(),
      ...(service === 'https'
        ? { tls: { daysToExpiry: 300, selfSigned: true, authorized: false, chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT', fingerprint: 'AA:BB', notAfter: new Date(clock.now() + 300 * 86_400_000).toISOString(), names: ['web01'] } }
        : {}),
    });
    const controller = new Controller({
      policy: policyFromConfig({}),
      probe,
      executor: new ScriptedExecutor(),
      renderRunbook: renderStub,
      notifier: new RecordingNotifier(),
      store,
      journal,
      logger: silentLogger(),
      clock,
    });
    cleanup.push(() => controller.stop({ deadlineMs: 1000 }));
    const doc = serverDoc('web01', '10.231.10.5', ['ping', 'https']);
    controller.setDesired('rev1', [doc]);
    await controller.start();
    await controller.reconcileOnce();
    await controller.whenIdle();
    await sleep(300);
    const s = await inner.read(serverIdOf(doc));
    expect(Object.fromEntries(Object.entries(s?.services ?? {}).map(([k, v]) => [k, v.state]))).toEqual({ ping: 'Healthy', https: 'Healthy' });
    expect(s?.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
    expect(s?.conditions.find((c) => c.type === 'CertificateInvalid')).toMatchObject({ status: 'True', reason: 'SelfSigned' });
  });
});
