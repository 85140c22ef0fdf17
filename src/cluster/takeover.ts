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

/**
 * The latest quarantine end among a server's steps written under other claims that may still be
 * under way: no outcome yet, or an outcome written by another replica than the one that wrote the
 * intent (a judge: the step's own replica may still be paused between its check and its command).
 * A new step on the server waits until then, whatever its incident: a previous owner's late
 * command and a new one must not both reach the host.
 */
export function inFlightUntil(steps: readonly StepRecord[], token: number, now: number, ttlMs: number): { until: number; record: StepRecord } | undefined {
  let latest: { until: number; record: StepRecord } | undefined;
  for (const s of steps) {
    if (s.token === token || s.kind === 'other') continue;
    if (s.outcome !== undefined && (s.outcome.token !== undefined ? s.outcome.token === s.token : s.outcome.by === s.replica)) continue;
    const until = quarantineUntil(s, ttlMs);
    if (until > now && (latest === undefined || until > latest.until)) latest = { until, record: s };
  }
  return latest;
}
