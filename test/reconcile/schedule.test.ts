/**
 * The probe schedule runs from the start of one round to the start of the next (#29): a round's own
 * duration (ping's echoes, a silent port's timeout) does not stretch the interval or the retry.
 */
import { expect, test } from 'vitest';
import { decideServer } from '../../src/reconcile/decide.ts';
import type { ObservedServer } from '../../src/reconcile/types.ts';
import { policy, server, T0 } from './scenario.ts';

const desired = server('web01', { services: ['http'] });
const pol = policy();
const obs = (up: boolean, at: number): ObservedServer => ({ http: { up, at, latencyMs: 1 } });

test('the next probe is due an interval, or a retry, after the round started, not after the decision', () => {
  const healthy = decideServer(desired, obs(true, T0), undefined, { policy: pol, now: T0 + 450, fleetPowerActions: [], probedAt: T0 });
  expect(healthy.fast).toBe(false);
  expect(healthy.nextProbeAt).toBe(T0 + pol.intervalMs);
  // The first failure: Suspect, re-probed a retry after this round's start.
  const suspect = decideServer(desired, obs(false, T0 + pol.intervalMs), healthy.history, { policy: pol, now: T0 + pol.intervalMs + 450, fleetPowerActions: [], probedAt: T0 + pol.intervalMs });
  expect(suspect.history.services.http?.state).toBe('Suspect');
  expect(suspect.nextProbeAt).toBe(T0 + pol.intervalMs + pol.retryMs);
  // A round that took longer than the retry: the next one at once.
  const slow = decideServer(desired, obs(false, T0 + 40_000), suspect.history, { policy: pol, now: T0 + 40_000 + pol.retryMs + 500, fleetPowerActions: [], probedAt: T0 + 40_000 });
  expect(slow.nextProbeAt).toBe(T0 + 40_000 + pol.retryMs + 500);
  // Without the round's start (a caller that does not know it): from the decision, as before.
  const plain = decideServer(desired, obs(true, T0), undefined, { policy: pol, now: T0 + 450, fleetPowerActions: [] });
  expect(plain.nextProbeAt).toBe(T0 + 450 + pol.intervalMs);
});
