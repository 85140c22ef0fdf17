/**
 * The fleet-wide limits judged on what etcd holds (pure): the server's budgets rebuilt from its
 * step records, the fleet power rate from the shared ledger, the mass-failure pause from every
 * replica's failing marks. The claim's transaction then checks that none of it changed.
 */
import { HOUR_MS, SIX_HOURS_MS } from '../reconcile/budgets.ts';
import { MassFailureIndex } from '../reconcile/mass-failure.ts';
import type { Policy } from '../reconcile/types.ts';
import type { FleetView, LimitCheck, StepKind } from './claims.ts';
import { RESUMED_RESULT } from './keys.ts';

export interface LimitInput {
  policy: Pick<Policy, 'restartsPerServicePerHour' | 'powerCyclesPerServerPer6h' | 'powerActionsPerHour' | 'massMinServers' | 'massFraction' | 'fleetFraction'>;
  server: string;
  service: string;
  kind: StepKind;
  /** Every server of the desired state with its group keys (the totals of the fractions). */
  fleet: ReadonlyMap<string, readonly string[]>;
  now: number;
}

/**
 * Uses within the window before `now` — and any stamped after it: another replica's clock or a
 * retry's later read must never hide a use from the count.
 */
function usedSince(times: readonly number[], now: number, windowMs: number): number {
  let n = 0;
  for (const t of times) if (t > now - windowMs) n++;
  return n;
}

/** When an operator last resumed the target (`mamori resume`): its budgets count from then. */
function resumedAt(view: FleetView, target: string): number {
  let at = Number.NEGATIVE_INFINITY;
  for (const s of view.steps) if (s.step === 'closed' && s.service === target && s.outcome?.result === RESUMED_RESULT && s.intentAt > at) at = s.intentAt;
  return at;
}

export function judgeLimits(input: LimitInput, view: FleetView): string | undefined {
  const { policy, kind, now } = input;
  // Not counted: a refusal before the step, and a step in doubt the host showed never ran (issued again once).
  const mine = view.steps.filter((s) => s.step !== 'closed' && s.outcome?.result !== 'not-started' && s.outcome?.result !== 'in-doubt-not-run');
  if (kind === 'restart') {
    const from = resumedAt(view, input.service);
    const times = mine.filter((s) => s.kind === 'restart' && s.service === input.service && s.intentAt > from).map((s) => s.intentAt);
    if (usedSince(times, now, HOUR_MS) >= policy.restartsPerServicePerHour) return `restart budget spent (${policy.restartsPerServicePerHour} per service per hour)`;
  }
  if (kind === 'power') {
    const from = resumedAt(view, 'host');
    const times = mine.filter((s) => s.kind === 'power' && s.intentAt > from).map((s) => s.intentAt);
    if (usedSince(times, now, SIX_HOURS_MS) >= policy.powerCyclesPerServerPer6h) return `power budget spent (${policy.powerCyclesPerServerPer6h} per server per 6 h)`;
    if (usedSince(view.powerTimes, now, HOUR_MS) >= policy.powerActionsPerHour) return `fleet power limit reached (${policy.powerActionsPerHour} per hour)`;
  }
  if (kind !== 'other') {
    const index = new MassFailureIndex();
    for (const [name, groups] of input.fleet) index.set(name, groups, view.failing.has(name));
    for (const [name, groups] of view.failing) if (!input.fleet.has(name)) index.set(name, groups, true);
    const covering = index.tripped(policy as Policy).find((t) => t.key === 'fleet' || (input.fleet.get(input.server) ?? []).includes(t.key));
    if (covering !== undefined) return `mass failure: ${covering.key} (${covering.down} of ${covering.total} failing)`;
  }
  return undefined;
}

export function limitCheck(input: LimitInput): LimitCheck {
  return (view) => judgeLimits(input, view);
}
