/**
 * A step left at intent without an outcome, found by a new owner, is in doubt: the old owner may
 * have run it, may be running it, or never began. It is never issued again blindly. Pure.
 *
 *  - It waits a quarantine (the step's deadline from its intent; a power step the old lease's TTL
 *    more): a paused replica's command may still reach the host until then (mayAct bounds it), and
 *    a BMC checks no token.
 *  - Then: the service answers from outside → the incident recovered (the step evidently did it).
 *  - The host is asked (hostEvidence): the service's process started after the intent, or the host
 *    booted after it → the step ran: not repeated; the service gets a verify window to answer, then
 *    a person decides. The process runs since before the intent, the host has been up since before
 *    it, or the BMC reports it off → the step provably did not run (or left nothing running): the new
 *    owner issues it once, under its own claim and a new intent.
 *  - Nothing can be known (no process to date, no login, no BMC) → escalate to a person.
 */
import type { HostFact } from '../reconcile/coordinator.ts';
import type { StepRecord } from './claims.ts';

export type { HostFact };

/** Times read on a host are taken as elapsed times against this clock: this much either side is too close to call. */
export const HOST_MARGIN_MS = 2_000;

export interface HostEvidence {
  host: 'acted' | 'not-acted' | 'unknown';
  /** When the host shows the step happened (acted). */
  at?: number;
  detail: string;
}

/** What a host fact says about a step: ran after its intent, provably did not, or cannot tell. */
export function hostEvidence(record: StepRecord, fact: HostFact, marginMs = HOST_MARGIN_MS): HostEvidence {
  const after = (t: number): boolean => t > record.intentAt + marginMs;
  const before = (t: number): boolean => t < record.intentAt - marginMs;
  const ago = (t: number): string => `${Math.round((t - record.intentAt) / 1000)} s from the intent`;
  if (fact.kind === 'unknown') return { host: 'unknown', detail: fact.why };
  if (fact.kind === 'booted') {
    if (after(fact.at)) return { host: 'acted', at: fact.at, detail: `the host booted after the intent (${ago(fact.at)})` };
    if (record.kind === 'power' && before(fact.at)) return { host: 'not-acted', detail: `the host has been up since before the intent (${ago(fact.at)}): not power-cycled` };
    return { host: 'unknown', detail: `the host booted ${ago(fact.at)}` };
  }
  if (record.kind === 'power') {
    if (fact.kind === 'power' && fact.state === 'off') return { host: 'not-acted', detail: 'the BMC reports the host off: no power step left it running' };
    return { host: 'unknown', detail: fact.kind === 'power' ? 'the BMC reports the host on, and its boot time cannot be read' : 'no boot time or power state' };
  }
  if (fact.kind === 'process') {
    if (after(fact.startedAt)) return { host: 'acted', at: fact.startedAt, detail: `the service's process started after the intent (${ago(fact.startedAt)})` };
    if (before(fact.startedAt)) return { host: 'not-acted', detail: `the service's process runs since before the intent (${ago(fact.startedAt)}): not restarted` };
    return { host: 'unknown', detail: `the service's process started ${ago(fact.startedAt)}: too close to call` };
  }
  if (fact.kind === 'no-process') return { host: 'unknown', detail: 'no process of the service runs: a restart may have run and died' };
  return { host: 'unknown', detail: `the BMC reports the host ${fact.state}` };
}

export interface InDoubtEvidence {
  /** The outside re-probe of the service now. */
  serviceUp: boolean;
  /** What the host shows about the step, when it can be checked. */
  host: 'acted' | 'not-acted' | 'unknown';
  /** When the host shows the step happened (with `acted`). */
  hostAt?: number;
  /** Why (for the reason of an escalation). */
  detail?: string;
}

export type InDoubtVerdict =
  | { kind: 'wait'; until: number }
  | { kind: 'recovered' }
  /** The step ran (seen on the host): not repeated; the service has until then to answer. */
  | { kind: 'verify'; until: number }
  /** The step provably did not run and the service is down: the new owner issues it once. */
  | { kind: 'reissue' }
  | { kind: 'escalate'; reason: string };

export function quarantineUntil(record: StepRecord, ttlMs: number): number {
  return record.kind === 'power' ? record.intentAt + ttlMs + record.deadlineMs : record.intentAt + record.deadlineMs;
}

export function judgeInDoubt(record: StepRecord, evidence: InDoubtEvidence, now: number, ttlMs: number, verifyMs = 0): InDoubtVerdict {
  const until = quarantineUntil(record, ttlMs);
  if (now < until) return { kind: 'wait', until };
  if (evidence.serviceUp) return { kind: 'recovered' };
  const why = evidence.detail !== undefined ? ` (${evidence.detail})` : '';
  if (evidence.host === 'acted') {
    const by = (evidence.hostAt ?? 0) + verifyMs;
    if (now < by) return { kind: 'verify', until: by };
    return { kind: 'escalate', reason: `step ${record.step} ran under the previous owner ${record.replica}${why} and the service is still down; not repeated` };
  }
  if (evidence.host === 'not-acted') return { kind: 'reissue' };
  const host = evidence.detail !== undefined ? `; ${evidence.detail}` : '';
  return { kind: 'escalate', reason: `step ${record.step} is in doubt (the previous owner ${record.replica} stopped mid-step${host}); not repeated` };
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
