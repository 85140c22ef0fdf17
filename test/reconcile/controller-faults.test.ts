/**
 * The controller under a failing state disk: journal writes fail at the journal's file layer (the
 * real journal, the real file, a write that throws ENOSPC/EIO). A failed pass is retried with
 * backoff and counted; a server is never left without a next probe time; no runbook runs without
 * its `started` record; an attempt whose `started` could not be written never blocks the next one.
 */
import { rm } from 'node:fs/promises';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { seededRandom } from '../../src/reconcile/clock.ts';
import { Controller, type ControllerEvent } from '../../src/reconcile/controller.ts';
import { passBackoffMs } from '../../src/reconcile/pass-retry.ts';
import { replayJournal } from '../../src/reconcile/replay.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import { openJournal, readJournal, type JournalRecord } from '../../src/status/journal.ts';
import { createStatusStore } from '../../src/status/store.ts';
import { FaultyFiles } from './faulty-journal.ts';
import { flush, ManualClock, RecordingNotifier, renderStub, ScriptedExecutor, serverDoc, TableProber, tempStateDir } from './harness.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const T0 = Date.parse('2026-12-01T00:00:00Z');
const policy = () => policyFromConfig({ probe: { failuresToDown: 2, retryIntervalSeconds: 2, intervalSeconds: 30 }, remediation: { destructiveWaitSeconds: 0 } });

/**
 * Lets file I/O and the promises after it settle (the journal writes real files): the controller's
 * passes and runbooks, or 500 ms of real time for one that waits on the manual clock (a backoff).
 */
let current: Controller | undefined;
async function settle(): Promise<void> {
  await flush();
  if (current !== undefined) await Promise.race([current.whenIdle(), new Promise((r) => setTimeout(r, 500))]);
  await flush();
}

async function rig(servers: number) {
  const state = await tempStateDir();
  cleanup.push(() => rm(state, { recursive: true, force: true }));
  const files = new FaultyFiles();
  const clock = new ManualClock(T0);
  const journal = await openJournal(state, { open: files.open, now: clock.now });
  cleanup.push(() => journal.close());
  const prober = new TableProber();
  const executor = new ScriptedExecutor();
  const events: ControllerEvent[] = [];
  const controller = new Controller({
    policy: policy(),
    probe: prober.probe,
    executor,
    renderRunbook: renderStub,
    notifier: new RecordingNotifier(),
    store: createStatusStore(state),
    journal,
    logger: silentLogger(),
    onEvent: (e) => events.push(e),
    clock,
    random: seededRandom(11),
  });
  cleanup.push(() => controller.stop({ deadlineMs: 200 }));
  current = controller;
  const docs = Array.from({ length: servers }, (_, i) => serverDoc(`web${String(i + 1).padStart(2, '0')}`, `10.231.50.${i + 11}`, ['http']));
  controller.setDesired('rev1', docs);
  await controller.start([]);
  return { state, files, clock, journal, prober, executor, events, controller, names: docs.map((d) => d.metadata.name) };
}

const records = async (state: string): Promise<JournalRecord[]> => (await readJournal(state)).records;

describe('controller: journal faults', () => {
  test('the `started` append fails once: the attempt ends not-started, the server is probed again on schedule and attempt 2 runs', async () => {
    const r = await rig(1);
    r.prober.set('web01', 'http', false);
    r.files.failOnce('"type":"started"', 'EIO');
    // Healthy → Suspect → Down → attempt 1 (its `started` fails) → re-probe → attempt 2.
    for (let i = 0; i < 40 && r.executor.runs.length === 0; i++) await r.clock.advance(1000, settle);
    expect(r.files.failed).toBe(1);
    expect(r.executor.runs).toHaveLength(1);
    await settle();
    const recs = await records(r.state);
    // Not one step ran for attempt 1: it has no `started`, only its not-started end.
    expect(recs.filter((x) => x.type === 'started').map((x) => x.attempt)).toEqual([2]);
    expect(recs.find((x) => x.type === 'interrupted')).toMatchObject({ attempt: 1, reason: 'not-started' });
    // Nothing left that decide would wait on for ever: a restart replays no unfinished attempt.
    expect(replayJournal(recs).unfinished).toEqual([]);
    expect(r.controller.dueAt('acme/web01')).toBeDefined();
  });

  test('a pass whose records fail to append commits nothing, is counted, and is retried with backoff', async () => {
    const r = await rig(1);
    r.prober.set('web01', 'http', false);
    r.files.failOnce('"to":"Remediating"', 'ENOSPC');
    for (let i = 0; i < 40 && r.executor.runs.length === 0; i++) await r.clock.advance(1000, settle);
    const failed = r.events.filter((e) => e.type === 'pass-failed');
    expect(failed).toEqual([{ type: 'pass-failed', server: 'acme/web01', failures: 1, retryInMs: expect.any(Number) }]);
    const retry = (failed[0] as { retryInMs: number }).retryInMs;
    expect(retry).toBeGreaterThanOrEqual(passBackoffMs(1, policy(), () => 0));
    expect(retry).toBeLessThanOrEqual(passBackoffMs(1, policy(), () => 0.999));
    expect(r.executor.runs).toHaveLength(1);
    await settle();
    const recs = await records(r.state);
    // The failed batch left nothing: one incident opened, attempt 1 started once and finished.
    expect(recs.filter((x) => x.type === 'incident-opened')).toHaveLength(1);
    expect(recs.filter((x) => x.type === 'started').map((x) => x.attempt)).toEqual([1]);
    expect(recs.filter((x) => x.type === 'finished')).toHaveLength(1);
    // The status says the pass failed while it did, and clears once a pass succeeds.
    const status = r.controller.status().servers[0];
    expect(status?.conditions.find((c) => c.type === 'Reconciled')).toMatchObject({ status: 'True' });
  });

  test('property: with journal writes failing at random, every server always has a next probe time, and no runbook runs without `started`', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.double({ min: 0.05, max: 0.9, noNaN: true }),
        fc.array(fc.integer({ min: 200, max: 20_000 }), { minLength: 10, maxLength: 40 }),
        async (seed, failRate, steps) => {
          const r = await rig(4);
          const random = seededRandom(seed);
          r.files.rule = () => (random() < failRate ? (random() < 0.5 ? 'ENOSPC' : 'EIO') : undefined);
          for (const ms of steps) {
            for (const n of r.names) r.prober.set(n, 'http', random() < 0.6 ? false : true);
            await r.clock.advance(ms, settle);
            for (const n of r.names) expect(r.controller.watching(`acme/${n}`), `${n} has no next probe time`).toBe(true);
          }
          // The disk heals: every attempt that started ends, and nothing is left unfinished.
          r.files.rule = () => undefined;
          for (const n of r.names) r.prober.set(n, 'http', true);
          for (let i = 0; i < 10; i++) await r.clock.advance(30_000, settle);
          const recs = await records(r.state);
          // Each run has its `started` record (a run without one would make runs outnumber them).
          const started = recs.filter((x) => x.type === 'started').length;
          expect(r.executor.runs.length).toBe(started);
          expect(replayJournal(recs).unfinished).toEqual([]);
          for (const n of r.names) {
            const incident = r.controller.historyOf(`acme/${n}`)?.services.http?.incident;
            expect(incident?.attempts.filter((a) => a.finishedAt === undefined) ?? []).toEqual([]);
          }
          await r.controller.stop({ deadlineMs: 200 });
        },
      ),
      { numRuns: 8, seed: 1414 },
    );
  }, 120_000);
});
