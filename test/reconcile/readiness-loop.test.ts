/**
 * The readiness loop's schedule in the daemon: a start lays each server at its slot of the interval
 * (a restarted daemon does not check its whole fleet when the start's grace ends); a server added or
 * changed later is checked at once.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import type { ServerDocument } from '../../src/manifest/types.ts';
import type { Notifier } from '../../src/notify/types.ts';
import { ReadinessLoop } from '../../src/reconcile/readiness-loop.ts';
import { nextSlot, startGraceMs } from '../../src/reconcile/readiness-schedule.ts';
import type { ReadinessReport } from '../../src/runbook/readiness.ts';

const DAY = 24 * 3_600_000;
const START = Date.UTC(2026, 11, 7, 0, 0, 0);

function doc(i: number, note = ''): ServerDocument {
  return {
    apiVersion: 'mamori/v1',
    kind: 'Server',
    metadata: { name: `s${i}`, customer: `c${i % 10}` },
    spec: { address: `10.0.${i >> 8}.${i & 255}`, access: { user: 'mamori', credentials: { secretRef: `c${i % 10}-login` } }, services: [{ name: 'ping' }], ...(note ? { description: note } : {}) },
  } as unknown as ServerDocument;
}

const READY: Pick<ReadinessReport, 'conditions' | 'problems' | 'checkedAt'> = {
  conditions: [
    { type: 'ManagementAccessDenied', status: 'False', reason: 'LoginAndSudoWork', message: 'ok' },
    { type: 'HostKeyChanged', status: 'False', reason: 'HostKeyMatches', message: 'ok' },
    { type: 'RecoveryNotReady', status: 'False', reason: 'Ready', message: '' },
  ],
  problems: [],
  checkedAt: new Date(START).toISOString(),
};

describe('the readiness loop', () => {
  let checked: string[];
  let loop: ReadinessLoop;

  beforeEach(() => {
    vi.useFakeTimers({ now: START });
    checked = [];
    loop = new ReadinessLoop({
      intervalMs: DAY,
      concurrency: 4,
      check: async (d) => {
        checked.push(`${d.metadata.customer}/${d.metadata.name}`);
        return READY as ReadinessReport;
      },
      host: {
        condition: () => undefined,
        setCondition: async () => undefined,
        hostAnswers: () => true,
        monitorSuspect: () => false,
        claimCause: () => true,
        releaseCauses: () => undefined,
        releasePreconditionHolds: async () => undefined,
      },
      notifier: { notify: async () => undefined } as unknown as Notifier,
      logger: silentLogger(),
      now: () => Date.now(),
    });
  });

  afterEach(async () => {
    await loop.stop();
    vi.useRealTimers();
  });

  const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `c${i % 10}/s${i}`);

  test('a start checks, when its grace ends, only the servers whose slot fell inside it; the rest at their slots', async () => {
    // As the daemon wires it: the loop started, then the fleet set.
    loop.start();
    loop.setServers(Array.from({ length: 400 }, (_, i) => doc(i)));
    const grace = START + startGraceMs(DAY);
    const dueByGrace = ids(400).filter((id) => nextSlot(id, DAY, START) <= grace + 60_000);
    await vi.advanceTimersByTimeAsync(startGraceMs(DAY) + 60_000);
    expect(dueByGrace.length).toBeLessThan(40);
    expect(checked.sort()).toEqual(dueByGrace.sort());
    // An hour later: the servers whose slots came up in that hour, no more.
    const dueByHour = ids(400).filter((id) => nextSlot(id, DAY, START) <= grace + 3_660_000);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(checked.sort()).toEqual(dueByHour.sort());
  });

  test('after the start, a new server and a changed manifest are checked at once (after the grace)', async () => {
    loop.start();
    loop.setServers(Array.from({ length: 50 }, (_, i) => doc(i)));
    await vi.advanceTimersByTimeAsync(startGraceMs(DAY) + 1_000);
    checked.length = 0;
    loop.setServers([...Array.from({ length: 50 }, (_, i) => doc(i, i === 7 ? 'changed' : '')), doc(50)]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(checked.sort()).toEqual(['c0/s50', 'c7/s7']);
  });
});
