/**
 * decide: desired state + observed state + history + policy + now → actions + the next history.
 *
 * Pure: no clock (now is an input), no I/O, no randomness, no node: module. The controller commits
 * the returned history before it carries out a single action, so that an attempt recorded here is
 * never started twice (see README, "The reconcile loop", for the definitions implemented here).
 */
import type { ServiceName } from '../manifest/types.ts';
import { budgetSpent, HOUR_MS, pruneWindow, SIX_HOURS_MS } from './budgets.ts';
import { escalationClass, isServerWide } from './fault-side.ts';
import { diffEpisodes, type TrippedScope } from './mass-failure.ts';
import { isInMaintenance, isSuspended } from './maintenance.ts';
import { ballotOf, classify, judgeHost, judgeRestart, missingNetworks, type Ballot, type BmcPower, type VantageObservation, type VantagePolicy, type Vote } from './quorum.ts';
import type {
  Action,
  DesiredServer,
  EscalationReason,
  FleetHistory,
  HoldReason,
  Incident,
  MassFailureEpisode,
  NotifyKind,
  Observation,
  ObservedServer,
  Policy,
  QuorumNote,
  RemediationTarget,
  ServerHistory,
  ServiceHistory,
  ServiceState,
} from './types.ts';

const NO_POWER: number[] = [];

/** How many closed incidents a server's history (and status file) keeps. */
export const RECENT_INCIDENTS = 10;

export function emptyServerHistory(): ServerHistory {
  return { services: {}, powerActions: [], recent: [] };
}

export function emptyFleetHistory(): FleetHistory {
  return { servers: new Map(), fleetPowerActions: [], massFailure: new Map() };
}

export function initialServiceHistory(now: number): ServiceHistory {
  return cloneService({ state: 'Unknown', since: now, consecutiveFailures: 0, lastProbeAt: 0, flips: [], restarts: [] });
}

/**
 * A copy with every field present in one fixed order: the objects decide makes share one hidden
 * class, which keeps a pass over 60,000 services fast (spreads of varying shapes were 10× slower).
 */
export function cloneService(h: ServiceHistory): ServiceHistory {
  return {
    state: h.state,
    since: h.since,
    consecutiveFailures: h.consecutiveFailures,
    lastProbeAt: h.lastProbeAt,
    lastUnknownAt: h.lastUnknownAt,
    lastUp: h.lastUp,
    lastLatencyMs: h.lastLatencyMs,
    lastFailureKind: h.lastFailureKind,
    failingSince: h.failingSince,
    flips: h.flips,
    restarts: h.restarts,
    incident: h.incident,
    escalation: h.escalation,
    hold: h.hold,
    flapHeld: h.flapHeld,
    quorum: h.quorum,
  };
}

/** `web01.http.20261125T222200.000Z`: readable, sortable, unique per (server, target, ms). */
export function incidentId(server: string, target: RemediationTarget, now: number): string {
  return `${server}.${target}.${new Date(now).toISOString().replace(/[-:]/g, '')}`;
}

/** A failing state: the service's newest trusted probe failed, or a repair is under way or held. */
export function isFailingState(state: ServiceState): boolean {
  return state === 'Suspect' || state === 'Down' || state === 'Remediating' || state === 'Escalated';
}

/**
 * Remediation order inside one server: ping first (a host down covers its services), then ssh (the
 * way in for every other runbook), then the rest.
 */
function rankOf(s: ServiceName): number {
  return s === 'ping' ? 0 : s === 'ssh' ? 1 : 2;
}

function inServiceOrder(services: readonly ServiceName[]): boolean {
  for (let i = 1; i < services.length; i++) if (rankOf(services[i - 1] as ServiceName) > rankOf(services[i] as ServiceName)) return false;
  return true;
}

export function serviceOrder(services: readonly ServiceName[]): ServiceName[] {
  const rank = (s: ServiceName): number => (s === 'ping' ? 0 : s === 'ssh' ? 1 : 2);
  return [...services].sort((a, b) => rank(a) - rank(b));
}

export interface ServerContext {
  policy: Policy;
  now: number;
  /** The tripped mass-failure scope covering this server (its key), if any. */
  pausedBy?: string | undefined;
  /** Power runbooks started fleet-wide in the last hour (for the fleet rate). */
  fleetPowerActions: readonly number[];
  /**
   * When this pass's probes started. The next probe is due an interval (or a retry) after it, not
   * after the decision: a round's own duration (ping's echoes, a silent port's timeout) does not
   * stretch the schedule. Absent: `now`.
   */
  probedAt?: number;
  /** Vantage points configured (quorum.ts). Absent: one vantage, today's rules. */
  vantage?: VantageContext | undefined;
}

export interface VantageContext {
  policy: VantagePolicy;
  /** The agents' newest reports on this server's services. */
  reports: Partial<Record<ServiceName, readonly VantageObservation[]>>;
  /** What the server's BMC said of its power (asked only for a failing host); absent = not asked. */
  bmc?: BmcPower | undefined;
  /** Servers disputed fleet-wide now (down from one vantage, up from another). */
  disputedServers: number;
  /** Vantages whose own mass-failure breaker tripped: no vote. */
  doubted?: readonly string[];
}

export interface ServerDecision {
  history: ServerHistory;
  actions: Action[];
  /** Times of power runbooks started by this decision (to add to the fleet's list). */
  powerStarted: number[];
  nextProbeAt: number;
  /** true when the next probe is a retry (Suspect, Down, Unknown…), false at the normal interval. */
  fast: boolean;
}

/** Whether a server counts as failing for mass-failure grouping (Escalated services are known breakage, not news). */
export function serverFailing(desired: DesiredServer, observed: ObservedServer | undefined, history: ServerHistory | undefined): boolean {
  for (const s of desired.services) {
    const h = history?.services[s];
    if (h?.state === 'Escalated') continue;
    const o = observed?.[s];
    const up = o !== undefined && o.up !== 'unknown' && o.at > (h?.lastProbeAt ?? 0) ? o.up : h?.lastUp;
    if (up === false) return true;
  }
  return false;
}

interface Fold {
  h: ServiceHistory;
  /** A trusted probe newer than the history was folded in this pass. */
  fresh: boolean;
  unknown: boolean;
}

function fold(prev: ServiceHistory, obs: Observation | undefined, policy: Policy, now: number): Fold {
  let h = prev;
  let fresh = false;
  let unknown = false;
  if (obs !== undefined && obs.at > prev.lastProbeAt && obs.at > (prev.lastUnknownAt ?? 0)) {
    // The steady state: a Healthy service answers again. Nothing changes, so nothing is copied
    // (lastProbeAt stays at the last change; the controller shows the newest probe from its own
    // observations). Folding the same passing probe twice changes nothing either.
    if (obs.up === true && prev.state === 'Healthy' && prev.lastUp === true && prev.flips.length === 0 && prev.restarts.length === 0) {
      return { h: prev, fresh: false, unknown: false };
    }
    h = cloneService(prev);
    if (obs.up === 'unknown') {
      unknown = true;
      h.lastUnknownAt = obs.at;
    } else {
      fresh = true;
      const up = obs.up;
      if (prev.lastUp !== undefined && prev.lastUp !== up) h.flips = [...pruneWindow(prev.flips, now, policy.flapWindowMs), obs.at];
      h.lastProbeAt = obs.at;
      h.lastUp = up;
      h.lastLatencyMs = obs.latencyMs;
      h.lastFailureKind = up ? undefined : obs.failureKind;
      h.consecutiveFailures = up ? 0 : prev.consecutiveFailures + 1;
      h.failingSince = up ? undefined : (prev.failingSince ?? obs.at);
    }
  }
  if (h.flips.length > 0 || h.restarts.length > 0) {
    const flips = pruneWindow(h.flips, now, policy.flapWindowMs);
    const restarts = pruneWindow(h.restarts, now, HOUR_MS);
    if (flips !== h.flips || restarts !== h.restarts) {
      if (h === prev) h = cloneService(prev);
      h.flips = flips;
      h.restarts = restarts;
    }
  }
  return { h, fresh, unknown };
}

function transition(h: ServiceHistory, to: ServiceState, now: number, server: string, service: ServiceName, reason: string, actions: Action[]): ServiceHistory {
  if (h.state === to) return h;
  actions.push({ type: 'transition', server, service, from: h.state, to, reason, at: now });
  return { ...h, state: to, since: now };
}

export function closeIncident(incident: Incident, reason: Incident['closeReason'], now: number): Incident {
  return { ...incident, closedAt: now, closeReason: reason };
}

function pushRecent(recent: Incident[], incident: Incident): Incident[] {
  const next = [...recent, incident];
  return next.length > RECENT_INCIDENTS ? next.slice(next.length - RECENT_INCIDENTS) : next;
}

interface ServiceStep {
  h: ServiceHistory;
  server: ServerHistory;
  powerStarted?: number;
  fast: boolean;
  at?: number;
}

/**
 * Escalate: held until the service recovers on its own or an operator resumes it; told once. A
 * provider-side cause (a secret missing, the console broken) is the operator's at once, and the
 * customer hears only that we are on it (fault-side.ts); any other goes to the customer.
 */
export function escalate(
  h: ServiceHistory,
  incident: Incident,
  reason: EscalationReason,
  now: number,
  serverName: string,
  service: ServiceName,
  actions: Action[],
  missing?: readonly string[],
): ServiceHistory {
  const next = transition(h, 'Escalated', now, serverName, service, reason, actions);
  actions.push({ type: 'escalate', server: serverName, target: incident.target, incidentId: incident.id, reason });
  const kinds: NotifyKind[] = escalationClass(reason)?.side === 'provider' ? ['provider-fault', 'provider-working'] : [reason === 'AccessBlocked' ? 'access-blocked' : 'could-not-recover'];
  let inc = incident;
  for (const kind of kinds) {
    if (inc.notified.includes(kind)) continue;
    actions.push({ type: 'notify', kind, id: `${incident.id}:${kind}`, server: serverName, target: incident.target, incidentId: incident.id, reason, ...(missing !== undefined && missing.length > 0 ? { missingNetworks: [...missing] } : {}) });
    inc = { ...inc, notified: [...inc.notified, kind] };
  }
  return { ...next, escalation: reason, hold: undefined, incident: inc };
}

function stepService(
  desired: DesiredServer,
  service: ServiceName,
  obs: Observation | undefined,
  prevH: ServiceHistory,
  server: ServerHistory,
  ctx: ServerContext,
  fleetPower: readonly number[],
  coveredBy: HoldReason | undefined,
  actions: Action[],
): ServiceStep {
  const { policy, now } = ctx;
  const name = desired.name;
  const f = fold(prevH, obs, policy, now);
  let h = f.h;
  let srv = server;

  // A Remediating service whose attempt has ended (a verdict journaled just before a crash) is Down.
  if (h.state === 'Remediating') {
    const lastAttempt = h.incident?.attempts[h.incident.attempts.length - 1];
    if (lastAttempt === undefined || lastAttempt.finishedAt !== undefined) h = transition(h, 'Down', now, name, service, 'RemediationEnded', actions);
  }
  // The state machine proper: only a fresh trusted probe moves a service between states.
  if (f.fresh) {
    const up = h.lastUp === true;
    switch (h.state) {
      case 'Unknown':
      case 'Healthy':
      case 'Recovered':
      case 'Suspect':
        if (up) h = transition(h, 'Healthy', now, name, service, 'ProbeSucceeded', actions);
        else if (h.consecutiveFailures >= policy.failuresToDown) h = transition(h, 'Down', now, name, service, 'ConsecutiveFailures', actions);
        else h = transition(h, 'Suspect', now, name, service, 'ProbeFailed', actions);
        break;
      case 'Down':
      case 'Escalated':
        if (up) {
          if (h.incident !== undefined) {
            const closed = closeIncident(h.incident, 'recovered-by-itself', now);
            actions.push({ type: 'close-incident', server: name, incidentId: closed.id, target: closed.target, reason: 'recovered-by-itself' });
            srv = { ...srv, recent: pushRecent(srv.recent, closed) };
          }
          h = transition(h, 'Healthy', now, name, service, 'ProbeSucceeded', actions);
          h = { ...h, incident: undefined, escalation: undefined, hold: undefined };
        }
        break;
      case 'Remediating':
        // The runbook's verdict decides; a probe seen meanwhile is only recorded.
        break;
    }
  }
  if (!f.fresh && h.state === 'Recovered' && h.lastUp === true && h.lastProbeAt > h.since) {
    h = transition(h, 'Healthy', now, name, service, 'ProbeSucceeded', actions);
  }

  const flapping = h.flips.length >= policy.flapTransitions;
  if (!flapping && h.flapHeld) h = { ...h, flapHeld: false };

  if (h.state !== 'Down') {
    if (h.hold !== undefined && h.state !== 'Remediating') h = { ...h, hold: undefined };
    if (h.quorum !== undefined && (h.state === 'Healthy' || h.state === 'Recovered')) h = { ...h, quorum: undefined };
    // Not Remediating: its runbook's verdict decides, and the runbook's end looks at the server again
    // at once (Remediations.launch). Re-probed every retry meanwhile, a burst of incidents waiting for
    // the runbook permits (4 by default) multiplied the fleet's probes: 100 servers × 6 services a second.
    const fast = f.unknown || h.state === 'Suspect' || h.state === 'Unknown' || h.state === 'Recovered';
    return { h, server: srv, fast };
  }

  // Down: repair, unless something says not to. The first reason that applies is shown in status.
  const target: RemediationTarget = service === 'ping' ? 'host' : service;
  const maintenance = isInMaintenance(desired, now);
  const hold: HoldReason | undefined =
    coveredBy ??
    (isSuspended(desired, now) ? 'Suspended' : undefined) ??
    (maintenance !== undefined ? 'Maintenance' : undefined) ??
    (ctx.pausedBy !== undefined ? 'MassFailurePaused' : undefined) ??
    (flapping ? 'Flapping' : undefined);
  if (hold !== undefined) {
    if (hold === 'Flapping' && !h.flapHeld) {
      actions.push({ type: 'hold-flapping', server: name, service, flips: h.flips.length });
      h = { ...h, flapHeld: true };
    }
    if (h.hold !== hold) h = { ...h, hold };
    const fast = hold === 'MassFailurePaused' || hold === 'HostDown' || hold === 'SSHDown' || hold === 'ServerBusy' || hold === 'AwaitingProbe';
    return { h, server: srv, fast };
  }

  let incident = h.incident;
  if (incident === undefined) {
    incident = {
      id: incidentId(name, target, now),
      server: name,
      target,
      openedAt: now,
      detectedAt: h.failingSince ?? now,
      attempts: [],
      notified: [],
      ...(target === 'host' && policy.destructiveWaitMs > 0 ? { notBefore: now + policy.destructiveWaitMs } : {}),
    };
    actions.push({ type: 'open-incident', server: name, incident });
    h = { ...h, incident };
  }
  const last = incident.attempts[incident.attempts.length - 1];
  if (last !== undefined && last.finishedAt === undefined) {
    // Started and not finished: only its verdict (or the journal replay's `interrupted`) moves on.
    return { h: { ...h, hold: 'AwaitingProbe' }, server: srv, fast: true };
  }
  // Re-probe first: after any attempt (finished, failed or interrupted) only a probe taken after it counts.
  if (last?.finishedAt !== undefined && h.lastProbeAt <= last.finishedAt) {
    return { h: h.hold === 'AwaitingProbe' ? h : { ...h, hold: 'AwaitingProbe' }, server: srv, fast: true };
  }
  const vantage = ctx.vantage;
  const ballot = vantage !== undefined && h.lastUp === false ? ballotOf(vantage.policy, { up: false, at: h.lastProbeAt }, vantage.reports[service], now, vantage.doubted) : undefined;
  const since = h.failingSince ?? h.lastProbeAt;
  if (vantage !== undefined && ballot !== undefined && target !== 'host') {
    // A restart keeps today's rule, and is held while another vantage sees the service up.
    const j = judgeRestart(ballot, since);
    if (j.kind === 'disputed') return disagreement(h, incident, j.up, j.down, ballot, vantage, srv, now, name, service, actions);
    if (j.kind === 'pending') {
      h = noteQuorum(h, { judgement: 'pending', votes: ballot.votes, lost: ballot.lost, at: now }, name, service, actions);
      return { h: h.hold === 'AwaitingVotes' ? h : { ...h, hold: 'AwaitingVotes' }, server: srv, fast: true };
    }
  }
  if (incident.attempts.length >= policy.attemptsPerIncident) {
    return { h: escalate(h, incident, 'AttemptsExhausted', now, name, service, actions), server: srv, fast: false };
  }
  const bmcOff = vantage !== undefined && vantage.bmc === 'off';
  if (target === 'host') {
    const notBefore = incident.notBefore;
    // A host its BMC reports off is powered on at once: the BMC's word does not depend on the network path.
    if (!bmcOff && notBefore !== undefined && (now < notBefore || h.lastProbeAt < notBefore)) {
      // A destructive action waits one probe interval, then needs a probe taken after the wait.
      return { h: h.hold === 'DestructiveWait' ? h : { ...h, hold: 'DestructiveWait' }, server: srv, fast: true, at: notBefore };
    }
    if (budgetSpent(srv.powerActions, now, SIX_HOURS_MS, policy.powerCyclesPerServerPer6h)) {
      return { h: escalate(h, incident, 'PowerBudgetExhausted', now, name, service, actions), server: srv, fast: false };
    }
    if (budgetSpent(fleetPower, now, HOUR_MS, policy.powerActionsPerHour)) {
      return { h: h.hold === 'PowerRateLimited' ? h : { ...h, hold: 'PowerRateLimited' }, server: srv, fast: true };
    }
    if (vantage !== undefined && ballot !== undefined) {
      const j = judgeHost(vantage.policy, ballot, vantage.bmc, notBefore ?? incident.openedAt, since);
      if (j.kind === 'disputed') return disagreement(h, incident, j.up, j.down, ballot, vantage, srv, now, name, service, actions);
      if (j.kind === 'pending') {
        h = noteQuorum(h, { judgement: 'pending', votes: ballot.votes, lost: ballot.lost, at: now }, name, service, actions);
        return { h: h.hold === 'AwaitingVotes' ? h : { ...h, hold: 'AwaitingVotes' }, server: srv, fast: true };
      }
      if (j.kind === 'lost') {
        // No power cycle on one network's word: held until enough vantages report again, the operator told once.
        h = noteQuorum(h, { judgement: 'lost', votes: ballot.votes, lost: ballot.lost, at: now }, name, service, actions);
        if (!incident.notified.includes('vantage-lost')) {
          actions.push({ type: 'notify', kind: 'vantage-lost', id: `${incident.id}:vantage-lost`, server: name, target, incidentId: incident.id, reason: ballot.lost.join(',') });
          incident = { ...incident, notified: [...incident.notified, 'vantage-lost'] };
          h = { ...h, incident };
        }
        return { h: h.hold === 'VantageLost' ? h : { ...h, hold: 'VantageLost' }, server: srv, fast: true };
      }
      h = noteQuorum(h, { judgement: j.kind, votes: j.kind === 'power-cycle' ? j.votes : ballot.votes, lost: ballot.lost, at: now }, name, service, actions);
    }
  } else if (budgetSpent(h.restarts, now, HOUR_MS, policy.restartsPerServicePerHour)) {
    return { h: escalate(h, incident, 'BudgetExhausted', now, name, service, actions), server: srv, fast: false };
  }

  const attempt = incident.attempts.length + 1;
  incident = { ...incident, attempts: [...incident.attempts, { n: attempt, startedAt: now }] };
  h = transition({ ...h, incident, hold: undefined }, 'Remediating', now, name, service, 'RunbookStarted', actions);
  actions.push({ type: 'run-runbook', server: name, target, incidentId: incident.id, attempt, destructive: target === 'host' });
  if (target === 'host') {
    srv = { ...srv, powerActions: [...pruneWindow(srv.powerActions, now, SIX_HOURS_MS), now] };
    return { h, server: srv, fast: true, powerStarted: now };
  }
  h = { ...h, restarts: [...h.restarts, now] };
  // The normal interval, as while it is Remediating (above): the runbook's end looks at the server again at once.
  return { h, server: srv, fast: false };
}

/** The judgement is journaled when it changes (and with every runbook it allows), and kept for the status file. */
function noteQuorum(h: ServiceHistory, note: QuorumNote, server: string, service: ServiceName, actions: Action[]): ServiceHistory {
  const prev = h.quorum;
  if (prev !== undefined && prev.judgement === note.judgement && note.judgement !== 'power-cycle' && note.judgement !== 'power-on' && sameVantages(prev.votes, note.votes)) return h;
  actions.push({ type: 'quorum', server, service, note });
  return { ...h, quorum: note };
}

function sameVantages(a: readonly Vote[], b: readonly Vote[]): boolean {
  return a.length === b.length && a.every((v, i) => v.vantage === b[i]?.vantage && v.up === b[i]?.up);
}

/**
 * Down from one vantage, up from another. One server among healthy neighbours: the customer allows
 * only some management networks — an access-blocked mail naming the missing ones, nothing run,
 * held until the probe passes. Many at once: mamori's own network — held, the operator told.
 */
function disagreement(
  h: ServiceHistory,
  incident: Incident,
  up: readonly Vote[],
  down: readonly Vote[],
  ballot: Ballot,
  vantage: VantageContext,
  srv: ServerHistory,
  now: number,
  name: string,
  service: ServiceName,
  actions: Action[],
): ServiceStep {
  const missing = missingNetworks(down);
  const note: QuorumNote = { judgement: 'disputed', votes: ballot.votes, lost: ballot.lost, missingNetworks: missing, at: now };
  let next = noteQuorum(h, note, name, service, actions);
  if (classify(vantage.disputedServers, vantage.policy) === 'many') {
    let inc = next.incident ?? incident;
    if (!inc.notified.includes('vantage-disagreement')) {
      actions.push({ type: 'notify', kind: 'vantage-disagreement', id: `${inc.id}:vantage-disagreement`, server: name, target: inc.target, incidentId: inc.id, reason: up.map((v) => v.vantage).join(','), missingNetworks: missing });
      inc = { ...inc, notified: [...inc.notified, 'vantage-disagreement'] };
      next = { ...next, incident: inc };
    }
    return { h: next.hold === 'VantageDisagreement' ? next : { ...next, hold: 'VantageDisagreement' }, server: srv, fast: true };
  }
  return { h: escalate(next, next.incident ?? incident, 'AccessBlocked', now, name, service, actions, missing), server: srv, fast: false };
}

/** Whether a service could reach the repair branch this pass (cheap: most services are plainly Healthy). */
function mayNeedRepair(h: ServiceHistory | undefined, obs: Observation | undefined): boolean {
  return h?.incident !== undefined || obs?.up === false || isFailingState(h?.state ?? 'Unknown');
}

/**
 * One runbook at a time per server: another service with an attempt started and not finished.
 * Two services often share a daemon (httpd serves http and https); two restarts of it at once
 * fight each other, and the second is usually not needed once the first has verified.
 */
function remediatingOther(services: Partial<Record<ServiceName, ServiceHistory>>, service: ServiceName): boolean {
  for (const key in services) {
    if (key === service) continue;
    const attempts = services[key as ServiceName]?.incident?.attempts;
    const last = attempts?.[attempts.length - 1];
    if (last !== undefined && last.finishedAt === undefined) return true;
  }
  return false;
}

/**
 * Whether another service of this server is Escalated after a runbook that ended while this one was
 * already failing (one fault, one escalation) — or, whenever this one failed, for a server-wide
 * cause (no login, no secret, another host key): no runbook of this server could run either.
 */
function escalatedOther(services: Partial<Record<ServiceName, ServiceHistory>>, service: ServiceName, failingSince: number | undefined): boolean {
  if (failingSince === undefined) return false;
  for (const key in services) {
    if (key === service || key === 'ping' || key === 'ssh') continue;
    const h = services[key as ServiceName];
    if (h?.state !== 'Escalated') continue;
    if (isServerWide(h.escalation)) return true;
    const last = h.incident?.attempts[h.incident.attempts.length - 1];
    if (last?.finishedAt !== undefined && last.finishedAt >= failingSince) return true;
  }
  return false;
}

/** When the newest runbook attempt of another service of this server (open or recently closed incident) ended; 0 if none. */
function otherRunbookEndedAt(server: ServerHistory, services: Partial<Record<ServiceName, ServiceHistory>>, service: ServiceName): number {
  let ended = 0;
  const consider = (incident: Incident | undefined): void => {
    if (incident === undefined || incident.target === service) return;
    const last = incident.attempts[incident.attempts.length - 1];
    if (last?.finishedAt !== undefined && last.finishedAt > ended) ended = last.finishedAt;
  };
  for (const key in services) consider(services[key as ServiceName]?.incident);
  for (const incident of server.recent) consider(incident);
  return ended;
}

/** One server's decision. `history` undefined = a server seen for the first time. */
export function decideServer(
  desired: DesiredServer,
  observed: ObservedServer | undefined,
  history: ServerHistory | undefined,
  ctx: ServerContext,
): ServerDecision {
  const { policy, now } = ctx;
  const actions: Action[] = [];
  let srv = history ?? emptyServerHistory();
  const pruned = pruneWindow(srv.powerActions, now, SIX_HOURS_MS);
  if (pruned !== srv.powerActions) srv = { ...srv, powerActions: pruned };
  const prevServices = srv.services;
  // Copied on the first change only: a server whose services all stayed put costs no allocation.
  let services: Partial<Record<ServiceName, ServiceHistory>> | undefined;
  let changed = false;
  let fast = false;
  let at: number | undefined;
  let powerStarted: number[] = NO_POWER;
  let fleetPower = ctx.fleetPowerActions;

  const order = inServiceOrder(desired.services) ? desired.services : serviceOrder(desired.services);
  const hasPing = order[0] === 'ping';
  const hasSsh = order.includes('ssh');
  for (const service of order) {
    let coveredBy: HoldReason | undefined;
    const cur = services ?? prevServices;
    if (service !== 'ping' && hasPing && isFailingState(cur.ping?.state ?? 'Unknown')) coveredBy = 'HostDown';
    else if (service !== 'ping' && service !== 'ssh' && hasSsh && isFailingState(cur.ssh?.state ?? 'Unknown')) coveredBy = 'SSHDown';
    else if (mayNeedRepair(prevServices[service], observed?.[service])) {
      if (remediatingOther(cur, service)) coveredBy = 'ServerBusy';
      else if (service !== 'ping' && service !== 'ssh' && escalatedOther(cur, service, prevServices[service]?.failingSince)) coveredBy = 'ServerEscalated';
      // Re-probe first, server-wide: a runbook that just ended on this server (httpd restarted for
      // http) may have repaired this service too; only a probe taken after it may start another.
      else {
        const ended = otherRunbookEndedAt(srv, cur, service);
        // An Unknown probe (the monitor lagged) is no re-probe: only a trusted one counts.
        const o = observed?.[service];
        if (ended > 0 && ended >= (o !== undefined && o.up !== 'unknown' ? o.at : (prevServices[service]?.lastProbeAt ?? 0))) coveredBy = 'AwaitingProbe';
      }
    }
    const old = prevServices[service];
    const step = stepService(desired, service, observed?.[service], old ?? initialServiceHistory(now), srv, ctx, fleetPower, coveredBy, actions);
    if (step.h !== old) {
      if (services === undefined) {
        services = {};
        for (const s2 of order) {
          const v = prevServices[s2];
          if (v !== undefined) services[s2] = v;
        }
      }
      services[service] = step.h;
      changed = true;
    }
    if (step.server !== srv) srv = step.server;
    if (step.powerStarted !== undefined) {
      powerStarted = [...powerStarted, step.powerStarted];
      fleetPower = [...fleetPower, step.powerStarted];
    }
    if (step.fast) fast = true;
    if (step.at !== undefined) at = at === undefined ? step.at : Math.min(at, step.at);
  }
  // Services no longer subscribed are forgotten (their open incidents close as removed).
  const subscribed = order;
  for (const key of Object.keys(prevServices) as ServiceName[]) {
    if (subscribed.includes(key)) continue;
    const h = prevServices[key];
    if (h?.incident !== undefined) {
      const closed = closeIncident(h.incident, 'removed', now);
      actions.push({ type: 'close-incident', server: desired.name, incidentId: closed.id, target: closed.target, reason: 'removed' });
      srv = { ...srv, recent: pushRecent(srv.recent, closed) };
    }
    if (services === undefined) {
      services = {};
      for (const s2 of order) {
        const v = prevServices[s2];
        if (v !== undefined) services[s2] = v;
      }
    }
    changed = true;
  }
  if (changed && services !== undefined) srv = { services, powerActions: srv.powerActions, recent: srv.recent };

  // Every interval (retry) from the start of one round to the start of the next; at once when the
  // round itself took longer.
  const roundStart = ctx.probedAt !== undefined && ctx.probedAt < now ? ctx.probedAt : now;
  let nextProbeAt = Math.max(now, roundStart + (fast ? policy.retryMs : policy.intervalMs));
  if (at !== undefined && at > now) nextProbeAt = Math.min(nextProbeAt, at);
  if (at !== undefined && at > now && !fast) nextProbeAt = at;
  actions.push({ type: 'probe-again-at', server: desired.name, at: nextProbeAt, fast });
  return { history: srv, actions, powerStarted, nextProbeAt, fast };
}

export function massFailureNotify(e: MassFailureEpisode): Action {
  return { type: 'notify', kind: 'mass-failure-paused', id: `mass-failure:${e.scope.kind}:${e.scope.value}:${e.since}`, reason: e.scope.kind };
}

export interface FleetStepInput {
  /** The open mass-failure episodes, by scope key. */
  massFailure: ReadonlyMap<string, MassFailureEpisode>;
  /** What the fleet's mass-failure counts trip now (MassFailureCounts#tripped). */
  tripped: readonly TrippedScope[];
  /** Servers that left the desired state, with their histories (their open incidents close). */
  removed?: ReadonlyArray<{ name: string; history: ServerHistory | undefined }>;
  now: number;
}

export interface FleetStepOutput {
  actions: Action[];
  /** The open episodes after this step. */
  massFailure: Map<string, MassFailureEpisode>;
  opened: MassFailureEpisode[];
  cleared: MassFailureEpisode[];
}

/**
 * The fleet's own judgement, beside decideServer's: mass-failure episodes opened or cleared by
 * the counts, the operator told once per paused period, and the incidents of removed servers
 * closed. Pure; the fleet state commits its output after the actions are journaled.
 */
export function fleetStep(input: FleetStepInput): FleetStepOutput {
  const { massFailure, now } = input;
  const actions: Action[] = [];
  const d = diffEpisodes(massFailure, input.tripped, now);
  for (const e of d.opened) actions.push({ type: 'pause-for-mass-failure', episode: e });
  // The operator is told once per paused period, naming the broadest scope (canary, fleet, then
  // groups): one network fault often trips its /24, its rack and the fleet at once.
  const first = d.opened[0];
  if (first !== undefined && massFailure.size === 0) actions.push(massFailureNotify(first));
  for (const c of d.cleared) actions.push({ type: 'clear-mass-failure', scope: c.episode.scope, since: c.episode.since });
  for (const r of input.removed ?? []) {
    for (const s of Object.values(r.history?.services ?? {})) {
      if (s?.incident === undefined) continue;
      actions.push({ type: 'close-incident', server: r.name, incidentId: s.incident.id, target: s.incident.target, reason: 'removed' });
    }
  }
  return { actions, massFailure: d.next, opened: d.opened, cleared: d.cleared.map((c) => c.episode) };
}
