/**
 * One message per cause: what the readiness verdict means for mail, given the server's previous
 * `RecoveryReady` condition (which the status file keeps across restarts, so nothing is told twice).
 *
 * - a new cause: customer-side → one `not-ready` mail to the customer; provider-side → one
 *   `provider-fault` mail to the operator at once and one plain `provider-working` to the customer;
 * - the same cause again: nothing;
 * - ready again after a cause: one short `readiness-restored` to each that was told;
 * - not judged (the host is down): the condition and its cause stay as they were, nothing is told.
 *
 * Ids name the server, the cause and when the episode began: the outbox sends an id once, across
 * restarts too. Pure: no I/O.
 */
import type { ConditionInput } from '../status/conditions.ts';
import type { Condition } from '../status/model.ts';
import type { FaultSide } from './fault-side.ts';
import { isReadinessCause, readinessCauseClass, type ReadinessVerdict } from './readiness-verdict.ts';

export const READINESS_CONDITION = 'RecoveryReady' as const;

export type Audience = 'customer' | 'operator';

export interface ReadinessMail {
  kind: 'not-ready' | 'provider-fault' | 'provider-working' | 'readiness-restored';
  audience: Audience;
  id: string;
  /** The cause told (for restored: the cause that ended). */
  cause: string;
  side: FaultSide;
  /** When the episode began (ISO 8601). */
  since: string;
}

export interface ReadinessStep {
  /** The condition to set; undefined = leave the status as it is. */
  condition: ConditionInput | undefined;
  mails: ReadinessMail[];
}

export function audiencesOf(side: FaultSide): Audience[] {
  return side === 'customer' ? ['customer'] : ['operator', 'customer'];
}

export function readinessStep(server: string, prev: Condition | undefined, v: ReadinessVerdict, nowIso: string): ReadinessStep {
  const wasFalse = prev?.status === 'False' && isReadinessCause(prev.reason);
  if (v.status === 'Unknown') {
    if (wasFalse) return { condition: undefined, mails: [] };
    return { condition: { type: READINESS_CONDITION, status: 'Unknown', reason: v.reason, message: v.message }, mails: [] };
  }
  if (v.status === 'True') {
    const condition: ConditionInput = { type: READINESS_CONDITION, status: 'True', reason: 'Ready', message: v.message };
    if (!wasFalse || prev === undefined) return { condition, mails: [] };
    const side = readinessCauseClass(prev.reason as Parameters<typeof readinessCauseClass>[0]).side;
    const since = prev.lastTransitionTime;
    const mails = audiencesOf(side).map((audience): ReadinessMail => ({
      kind: 'readiness-restored',
      audience,
      id: `readiness:${server}:${prev.reason}:${since}:restored:${audience}`,
      cause: prev.reason,
      side,
      since,
    }));
    return { condition, mails };
  }
  const condition: ConditionInput = { type: READINESS_CONDITION, status: 'False', reason: v.cause, message: v.message };
  if (wasFalse && prev?.reason === v.cause) return { condition, mails: [] };
  // A cause that replaces another keeps the episode's start (the condition's lastTransitionTime does too).
  const since = wasFalse && prev !== undefined ? prev.lastTransitionTime : nowIso;
  const base = { cause: v.cause, side: v.side, since };
  const id = (kind: string): string => `readiness:${server}:${v.cause}:${since}:${kind}`;
  const mails: ReadinessMail[] =
    v.side === 'customer'
      ? [{ kind: 'not-ready', audience: 'customer', id: id('not-ready'), ...base }]
      : [
          { kind: 'provider-fault', audience: 'operator', id: id('provider-fault'), ...base },
          { kind: 'provider-working', audience: 'customer', id: id('provider-working'), ...base },
        ];
  return { condition, mails };
}
