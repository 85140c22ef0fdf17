/**
 * A step left at intent without an outcome, found by a new owner, is in doubt: the old owner may
 * have run it, may be running it, or never began. It is never issued again. Pure.
 *
 *  - A power step waits a quarantine (the old lease's TTL + the step's deadline from its intent):
 *    a paused replica's command may still reach the BMC until then, and the BMC checks no token.
 *  - Then: the service answers from outside → the incident recovered (the step evidently did it).
 *  - The host says the step happened (a new boot id, a process started after the intent, the BMC
 *    reports power on after a cycle) but the service is still down → the step is spent; escalate.
 *  - Nothing can be known → escalate to a person.
 */
import type { StepRecord } from './claims.ts';

export interface InDoubtEvidence {
  /** The outside re-probe of the service now. */
  serviceUp: boolean;
  /** What the host shows about the step, when it can be checked. */
  host: 'acted' | 'not-acted' | 'unknown';
}

export type InDoubtVerdict =
  | { kind: 'wait'; until: number }
  | { kind: 'recovered' }
  | { kind: 'escalate'; reason: string };

export function quarantineUntil(record: StepRecord, ttlMs: number): number {
  return record.kind === 'power' ? record.intentAt + ttlMs + record.deadlineMs : record.intentAt + record.deadlineMs;
}

export function judgeInDoubt(record: StepRecord, evidence: InDoubtEvidence, now: number, ttlMs: number): InDoubtVerdict {
  const until = quarantineUntil(record, ttlMs);
  if (now < until) return { kind: 'wait', until };
  if (evidence.serviceUp) return { kind: 'recovered' };
  if (evidence.host === 'acted') return { kind: 'escalate', reason: `step ${record.step} ran under the previous owner and the service is still down` };
  return { kind: 'escalate', reason: `step ${record.step} is in doubt (the previous owner ${record.replica} stopped mid-step); not repeated` };
}
