/**
 * Conditions as Kubernetes keeps them: setting a condition whose status did not change keeps its
 * lastTransitionTime (only reason and message follow), so that "since when" stays true.
 */
import type { Condition, ConditionStatus, ConditionType } from './model.ts';

export interface ConditionInput {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** The next list of conditions: in the order given, each with its lastTransitionTime kept or set to now. */
export function mergeConditions(prev: readonly Condition[] | undefined, next: readonly ConditionInput[], nowIso: string): Condition[] {
  const byType = new Map<ConditionType, Condition>();
  for (const c of prev ?? []) byType.set(c.type, c);
  return next.map((c) => {
    const old = byType.get(c.type);
    const lastTransitionTime = old !== undefined && old.status === c.status ? old.lastTransitionTime : nowIso;
    return { type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime };
  });
}

