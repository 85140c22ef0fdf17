/**
 * The executor reads time from the clock it is given, never from the wall: the runbook's
 * deadline, a verify step's time limit, the pauses between verify attempts and every time in
 * the transcript. A manual clock moves 30 s in a few milliseconds of real time; had the executor
 * read the wall clock, it would still be waiting when the test looks.
 */
import { describe, expect, it } from 'vitest';
import type { ServiceName } from '../../src/manifest/types.ts';
import type { Transcript } from '../../src/runbook/execution.ts';
import { createExecutor } from '../../src/runbook/executor.ts';
import type { RenderedRunbook } from '../../src/runbook/types.ts';
import { flush, ManualClock, serverDoc } from '../reconcile/harness.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const server = serverDoc('web01', '10.231.31.10', ['http', 'ping']);

/** A runbook of one verify step that waits for ping (no SSH: the outside probe alone decides). */
function waitForPing(o: { withinMs: number; deadlineMs: number }): RenderedRunbook {
  return {
    runbook: 'wait-for-ping',
    origin: 'custom',
    server: 'web01',
    service: 'http',
    address: '10.231.31.10',
    deadlineMs: o.deadlineMs,
    steps: [{ kind: 'verify', id: 'verify-ping', waitFor: ['ping'], probe: false, withinMs: o.withinMs, deadlineMs: o.withinMs }],
  };
}

function start(clock: ManualClock, runbook: RenderedRunbook): { done: () => Transcript | undefined; probes: ServiceName[] } {
  const probes: ServiceName[] = [];
  let transcript: Transcript | undefined;
  const executor = createExecutor({ targets: LAB_TARGETS, resolveSecret: async () => 'not-used', verifyIntervalMs: 1_000, clock });
  void executor
    .execute({
      server,
      runbook,
      probe: async (service) => {
        probes.push(service);
        return { up: false, message: 'no reply' };
      },
    })
    .then((t) => {
      transcript = t;
    });
  return { done: () => transcript, probes };
}

describe('executor on an injected clock', () => {
  it("judges a verify step's time limit by the clock it is given", async () => {
    const clock = new ManualClock(T0);
    const run = start(clock, waitForPing({ withinMs: 30_000, deadlineMs: 600_000 }));
    await flush();
    await clock.advance(29_000);
    // 29 s on the clock: still within the step's 30 s, still trying once a second.
    expect(run.done()).toBeUndefined();
    expect(run.probes).toHaveLength(30);
    await clock.advance(2_000);
    const t = run.done();
    expect(t, 'the verify step ended when the injected clock passed 30 s').toBeDefined();
    if (t === undefined) return;
    expect(t.verdict).toBe('VerifyFailed');
    expect(t.message).toBe('not verified within 30 s: ping does not answer from mamori: no reply');
    expect(t.evidence.verifyAttempts).toBe(31);
    expect(t.startedAt).toBe('2030-01-01T00:00:00.000Z');
    expect(t.finishedAt).toBe('2030-01-01T00:00:30.000Z');
    expect(t.steps).toEqual([
      { id: 'verify-ping', kind: 'verify', startedAt: '2030-01-01T00:00:00.000Z', finishedAt: '2030-01-01T00:00:30.000Z', outcome: 'failed', note: 'ping does not answer from mamori: no reply' },
    ]);
  });

  it("judges the runbook's deadline by the clock it is given", async () => {
    const clock = new ManualClock(T0);
    const run = start(clock, waitForPing({ withinMs: 60_000, deadlineMs: 10_000 }));
    await flush();
    await clock.advance(9_500);
    expect(run.done()).toBeUndefined();
    await clock.advance(1_000);
    const t = run.done();
    expect(t, 'the runbook ended when the injected clock passed its 10 s deadline').toBeDefined();
    if (t === undefined) return;
    expect(t.verdict).toBe('DeadlineExceeded');
    expect(t.message).toBe('the runbook ran past its deadline of 10 s; the running step was stopped');
    expect(t.finishedAt).toBe('2030-01-01T00:00:10.000Z');
    expect(t.steps.map((s) => [s.id, s.outcome, s.finishedAt])).toEqual([['verify-ping', 'failed', '2030-01-01T00:00:10.000Z']]);
  });
});
