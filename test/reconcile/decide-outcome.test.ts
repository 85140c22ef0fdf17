import { describe, expect, test } from 'vitest';
import { decideServer } from '../../src/reconcile/decide.ts';
import { applyOutcome } from '../../src/reconcile/decide-outcome.ts';
import { replayJournal } from '../../src/reconcile/replay.ts';
import type { Incident, ObservedServer, ServerHistory } from '../../src/reconcile/types.ts';
import type { JournalRecord } from '../../src/status/journal.ts';
import { policy, server, T0 } from './scenario.ts';

const desired = server('web01', { services: ['http'] });
const pol = policy();
const s = (n: number): number => T0 + n * 1000;
const obs = (up: boolean, at: number): ObservedServer => ({ http: { up, at, latencyMs: 1 } });

/** Three failing probes (N=3): Down, incident opened, attempt 1 started at 10 s. */
function remediating(): { history: ServerHistory; incidentId: string } {
  let history: ServerHistory | undefined;
  let incidentId = '';
  for (const t of [0, 5, 10]) {
    const d = decideServer(desired, obs(false, s(t)), history, { policy: pol, now: s(t) + 100, fleetPowerActions: [] });
    history = d.history;
    for (const a of d.actions) if (a.type === 'run-runbook') incidentId = a.incidentId;
  }
  expect(incidentId).not.toBe('');
  expect(history?.services.http?.state).toBe('Remediating');
  return { history: history as ServerHistory, incidentId };
}

describe('a Recovered verdict and the probes that were already running', () => {
  test('a failing probe that started before the verdict, folded after it, does not move Recovered to Suspect', () => {
    const { history, incidentId } = remediating();
    // The runbook's verify passed; its verdict lands at 14 s.
    const rec = applyOutcome('web01', history, { target: 'http', incidentId, attempt: 1, verdict: 'Recovered', acted: true, powerActions: 0, at: s(14) });
    expect(rec.history.services.http?.state).toBe('Recovered');
    // A scheduled probe started at 12 s (mid-restart, so it failed) and is folded at 15 s.
    const stale = decideServer(desired, obs(false, s(12)), rec.history, { policy: pol, now: s(15), fleetPowerActions: [] });
    expect(stale.history.services.http?.state).toBe('Recovered');
    expect(stale.history.services.http?.consecutiveFailures).toBe(0);
    expect(stale.actions.filter((a) => a.type === 'transition')).toEqual([]);
    // A probe started after the verdict still counts: failing, it is Suspect; passing, Healthy.
    const fresh = decideServer(desired, obs(false, s(16)), stale.history, { policy: pol, now: s(17), fleetPowerActions: [] });
    expect(fresh.history.services.http?.state).toBe('Suspect');
    const ok = decideServer(desired, obs(true, s(16)), stale.history, { policy: pol, now: s(17), fleetPowerActions: [] });
    expect(ok.history.services.http?.state).toBe('Healthy');
  });

  test('a failed attempt still needs a probe started after it (re-probe rule intact)', () => {
    const { history, incidentId } = remediating();
    const failed = applyOutcome('web01', history, { target: 'http', incidentId, attempt: 1, verdict: 'VerifyFailed', acted: true, powerActions: 0, at: s(14) });
    expect(failed.history.services.http?.state).toBe('Down');
    const stale = decideServer(desired, obs(false, s(12)), failed.history, { policy: pol, now: s(15), fleetPowerActions: [] });
    expect(stale.actions.some((a) => a.type === 'run-runbook')).toBe(false);
    expect(stale.history.services.http?.hold).toBe('AwaitingProbe');
    const next = decideServer(desired, obs(false, s(16)), stale.history, { policy: pol, now: s(17), fleetPowerActions: [] });
    expect(next.actions.filter((a) => a.type === 'run-runbook')).toMatchObject([{ attempt: 2 }]);
  });
});

describe('an attempt the replicas refused before it began (src/cluster)', () => {
  test('is taken back: not counted against the incident or the restart budget, however often it is refused', () => {
    let { history, incidentId } = remediating();
    expect(history.services.http?.restarts).toHaveLength(1);
    // Refused again and again (a step of a dead replica in doubt): never "attempts exhausted".
    for (let k = 0; k < 5; k++) {
      const refused = applyOutcome('web01', history, { target: 'http', incidentId, attempt: 1, verdict: 'Interrupted', acted: false, powerActions: 0, at: s(11 + 2 * k), notStarted: true });
      expect(refused.history.services.http?.state).toBe('Down');
      expect(refused.history.services.http?.incident?.attempts).toEqual([]);
      expect(refused.history.services.http?.restarts).toEqual([]);
      const next = decideServer(desired, obs(false, s(12 + 2 * k)), refused.history, { policy: pol, now: s(12 + 2 * k) + 100, fleetPowerActions: [] });
      expect(next.actions.filter((a) => a.type === 'run-runbook')).toMatchObject([{ attempt: 1, incidentId }]);
      expect(next.history.services.http?.state).toBe('Remediating');
      ({ history } = next);
      incidentId = next.actions.find((a) => a.type === 'run-runbook')?.incidentId ?? incidentId;
    }
    expect(history.services.http?.escalation).toBeUndefined();
  });

  test('an attempt that began and was interrupted is still spent', () => {
    const { history, incidentId } = remediating();
    const spent = applyOutcome('web01', history, { target: 'http', incidentId, attempt: 1, verdict: 'Interrupted', acted: true, powerActions: 0, at: s(14) });
    expect(spent.history.services.http?.incident?.attempts).toHaveLength(1);
  });
});

describe('the attempt keeps its steps and the probe that confirmed it (time to recovery, phase by phase)', () => {
  test('applyOutcome keeps them on the closed incident; replaying the finished record gives them back', () => {
    const { history, incidentId } = remediating();
    const steps = [
      { id: 'login', startedAt: s(10.1), finishedAt: s(10.4), outcome: 'ok' },
      { id: 'restart-httpd', startedAt: s(10.4), finishedAt: s(11.5), outcome: 'ok' },
      { id: 'confirm', startedAt: s(11.5), finishedAt: s(12), outcome: 'ok' },
    ];
    const rec = applyOutcome('web01', history, { target: 'http', incidentId, attempt: 1, verdict: 'Recovered', acted: true, powerActions: 0, at: s(12.1), steps, confirmedAt: s(11.9) });
    const closed = rec.history.recent.find((i) => i.id === incidentId);
    expect(closed?.attempts).toEqual([{ n: 1, startedAt: s(10) + 100, finishedAt: s(12.1), verdict: 'Recovered', steps, confirmedAt: s(11.9) }]);

    const opened = { ...(history.services.http?.incident as Incident), attempts: [] };
    const iso = (ms: number): string => new Date(ms).toISOString();
    const records: JournalRecord[] = [
      { seq: 1, ts: iso(s(10)), type: 'incident-opened', server: 'web01', incident: opened, at: s(10) + 100 },
      { seq: 2, ts: iso(s(10)), type: 'started', server: 'web01', target: 'http', incidentId, attempt: 1, destructive: false, at: s(10) + 100 },
      {
        seq: 3,
        ts: iso(s(12.1)),
        type: 'finished',
        server: 'web01',
        target: 'http',
        incidentId,
        attempt: 1,
        verdict: 'Recovered',
        acted: true,
        powerActions: 0,
        steps: steps.map((x) => ({ id: x.id, kind: 'run', outcome: x.outcome, startedAt: iso(x.startedAt), finishedAt: iso(x.finishedAt) })),
        confirmedAt: s(11.9),
        at: s(12.1),
      },
    ];
    const replayed = replayJournal(records).history.servers.get('web01')?.services.http?.incident;
    expect(replayed?.attempts).toEqual([{ n: 1, startedAt: s(10) + 100, finishedAt: s(12.1), verdict: 'Recovered', steps, confirmedAt: s(11.9) }]);
  });
});
