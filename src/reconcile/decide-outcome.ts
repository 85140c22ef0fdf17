/**
 * The other inputs of the state machine, pure like decide: a runbook's verdict (or an interruption
 * found in the journal after a crash) and an operator's `mamori resume`.
 */
import type { ServiceName } from '../manifest/types.ts';
import type { Verdict } from '../runbook/execution.ts';
import { refund } from './budgets.ts';
import { closeIncident, escalate, RECENT_INCIDENTS } from './decide.ts';
import type { Action, AttemptStep, EscalationReason, Incident, RemediationTarget, ServerHistory, ServiceHistory } from './types.ts';

export interface Outcome {
  target: RemediationTarget;
  incidentId: string;
  attempt: number;
  verdict: Verdict;
  /** Whether the runbook changed anything (a restart, a power action). Unknown after a crash: true. */
  acted: boolean;
  /** Power actions taken. Unknown after a crash: counted as one for a host runbook. */
  powerActions: number;
  at: number;
  /**
   * Refused by the replicas' coordination before it began (another replica holds the claim, a step
   * in doubt waits out its quarantine, the fleet-wide limits): not counted — taken back from the
   * incident with its budgets, so a wait in etcd never turns into "attempts exhausted".
   */
  notStarted?: boolean;
  /** The runbook's steps with their times (its transcript), kept on the attempt for the incident's phases. */
  steps?: AttemptStep[];
  /** When the outside probe that confirmed the recovery answered. */
  confirmedAt?: number;
}

/** Verdicts after which another attempt cannot help: escalate at once, with this reason. */
const TERMINAL: Partial<Record<Verdict, EscalationReason>> = {
  RemoteAccessBlocked: 'AccessBlocked',
  HostUnreachable: 'HostUnreachable',
  OSMismatch: 'OSMismatch',
  HostKeyMismatch: 'HostKeyChanged',
  ManagementAccessDenied: 'ManagementAccessDenied',
  PassphraseRequired: 'PassphraseRequired',
  SecretMissing: 'SecretMissing',
  ConsoleUnavailable: 'ConsoleUnavailable',
  Escalated: 'RunbookEscalated',
};

export function serviceOfTarget(target: RemediationTarget): ServiceName {
  return target === 'host' ? 'ping' : target;
}

export interface OutcomeResult {
  history: ServerHistory;
  actions: Action[];
  /** A fleet power action to give back (the host runbook did not use power after all). */
  refundFleetPowerAt?: number;
}

function pushRecent(recent: Incident[], incident: Incident): Incident[] {
  const next = [...recent, incident];
  return next.length > RECENT_INCIDENTS ? next.slice(next.length - RECENT_INCIDENTS) : next;
}

/** Folds a finished (or interrupted) attempt into the server's history. Stale outcomes change nothing. */
export function applyOutcome(server: string, history: ServerHistory, outcome: Outcome): OutcomeResult {
  const service = serviceOfTarget(outcome.target);
  const h0 = history.services[service];
  const incident0 = h0?.incident;
  if (h0 === undefined || incident0 === undefined || incident0.id !== outcome.incidentId) return { history, actions: [] };
  const attemptRec = incident0.attempts.find((a) => a.n === outcome.attempt);
  if (attemptRec === undefined || attemptRec.finishedAt !== undefined) return { history, actions: [] };

  const actions: Action[] = [];
  const now = outcome.at;
  if (outcome.notStarted === true) {
    const back: Incident = { ...incident0, attempts: incident0.attempts.filter((a) => a.n !== outcome.attempt) };
    let h: ServiceHistory = { ...h0, incident: back };
    let srv = history;
    if (outcome.target === 'host') srv = { ...srv, powerActions: refund(srv.powerActions, attemptRec.startedAt) };
    else h = { ...h, restarts: refund(h.restarts, attemptRec.startedAt) };
    if (h.state !== 'Down') actions.push({ type: 'transition', server, service, from: h.state, to: 'Down', reason: 'RunbookNotStarted', at: now });
    h = { ...h, state: 'Down', since: h.state === 'Down' ? h.since : now };
    srv = { ...srv, services: { ...srv.services, [service]: h } };
    return outcome.target === 'host' ? { history: srv, actions, refundFleetPowerAt: attemptRec.startedAt } : { history: srv, actions };
  }
  const incident: Incident = {
    ...incident0,
    attempts: incident0.attempts.map((a) =>
      a.n === outcome.attempt
        ? {
            ...a,
            finishedAt: now,
            verdict: outcome.verdict,
            ...(outcome.steps !== undefined && outcome.steps.length > 0 ? { steps: outcome.steps } : {}),
            ...(outcome.confirmedAt !== undefined ? { confirmedAt: outcome.confirmedAt } : {}),
          }
        : a,
    ),
  };
  let srv = history;
  let h: ServiceHistory = { ...h0, incident };
  let refundFleetPowerAt: number | undefined;
  // Budgets are charged when a runbook starts (at most once, even across a crash) and given back
  // when the transcript says nothing was changed.
  if (outcome.target === 'host') {
    if (outcome.powerActions === 0) {
      srv = { ...srv, powerActions: refund(srv.powerActions, attemptRec.startedAt) };
      refundFleetPowerAt = attemptRec.startedAt;
    }
  } else if (!outcome.acted) {
    h = { ...h, restarts: refund(h.restarts, attemptRec.startedAt) };
  }

  const to = (state: ServiceHistory['state'], reason: string): void => {
    if (h.state !== state) actions.push({ type: 'transition', server, service, from: h.state, to: state, reason, at: now });
    h = { ...h, state, since: now };
  };

  if (outcome.verdict === 'Recovered') {
    to('Recovered', 'RunbookRecovered');
    const closed = closeIncident(incident, 'recovered', now);
    actions.push({ type: 'close-incident', server, incidentId: closed.id, target: closed.target, reason: 'recovered' });
    actions.push({ type: 'notify', kind: 'recovered', id: `${closed.id}:recovered`, server, target: closed.target, incidentId: closed.id });
    // Probes are stamped when they start: one that began before this verdict (mid-restart, say) and
    // is folded after it describes the service before the repair, so it must not count against it.
    h = { ...h, incident: undefined, hold: undefined, escalation: undefined, consecutiveFailures: 0, failingSince: undefined, lastProbeAt: Math.max(h.lastProbeAt, now) };
    srv = { ...srv, recent: pushRecent(srv.recent, closed) };
  } else {
    const reason = TERMINAL[outcome.verdict];
    if (reason !== undefined) {
      h = escalate(h, incident, reason, now, server, service, actions);
    } else {
      // StepFailed, VerifyFailed, DeadlineExceeded, Interrupted: the attempt is spent; decide
      // re-probes first, then tries again within the incident's and the service's budgets.
      to('Down', `Runbook${outcome.verdict}`);
    }
  }
  srv = { ...srv, services: { ...srv.services, [service]: h } };
  return refundFleetPowerAt === undefined ? { history: srv, actions } : { history: srv, actions, refundFleetPowerAt };
}

/**
 * `mamori resume SERVER [SERVICE]`: an Escalated (or flapping-held) service gets a fresh start —
 * its incident closes as resumed, its budgets are forgiven, and the next pass re-probes and, if
 * it still fails, opens a new incident.
 */
export function applyResume(server: string, history: ServerHistory, service: ServiceName | undefined, now: number): { history: ServerHistory; actions: Action[]; resumed: ServiceName[] } {
  const actions: Action[] = [];
  const resumed: ServiceName[] = [];
  let srv = history;
  for (const [key, h] of Object.entries(history.services) as Array<[ServiceName, ServiceHistory | undefined]>) {
    if (h === undefined || (service !== undefined && key !== service)) continue;
    if (h.state !== 'Escalated' && !h.flapHeld && h.hold === undefined) continue;
    let next: ServiceHistory = { ...h, restarts: [], flips: [], flapHeld: false, escalation: undefined, hold: undefined };
    if (h.incident !== undefined && h.state !== 'Remediating') {
      const closed = closeIncident(h.incident, 'resumed', now);
      actions.push({ type: 'close-incident', server, incidentId: closed.id, target: closed.target, reason: 'resumed' });
      srv = { ...srv, recent: pushRecent(srv.recent, closed) };
      next = { ...next, incident: undefined };
    }
    if (h.state === 'Escalated') {
      const to = h.lastUp === true ? 'Healthy' : 'Down';
      actions.push({ type: 'transition', server, service: key, from: h.state, to, reason: 'OperatorResumed', at: now });
      next = { ...next, state: to, since: now };
    }
    if (key === 'ping') srv = { ...srv, powerActions: [] };
    srv = { ...srv, services: { ...srv.services, [key]: next } };
    resumed.push(key);
  }
  return { history: srv, actions, resumed };
}
