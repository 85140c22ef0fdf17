/**
 * Rebuilds the reconciler's history from the journal after a restart: service states, open
 * incidents with their attempts, budgets spent (restarts, power actions, the fleet's power rate)
 * and open mass-failure episodes. An attempt `started` without `finished` or `interrupted` is
 * returned as unfinished: the controller journals it `interrupted` and never runs it again.
 */
import type { ServiceName } from '../manifest/types.ts';
import type { JournalRecord } from '../status/journal.ts';
import { refund } from './budgets.ts';
import { emptyFleetHistory, emptyServerHistory, initialServiceHistory, RECENT_INCIDENTS } from './decide.ts';
import { scopeKey } from './mass-failure.ts';
import type { Attempt, AttemptStep, EscalationReason, FleetHistory, Incident, MassFailureEpisode, MassFailureScope, RemediationTarget, ServerHistory, ServiceHistory, ServiceState } from './types.ts';
import type { Verdict } from '../runbook/execution.ts';

export interface UnfinishedAttempt {
  server: string;
  target: RemediationTarget;
  incidentId: string;
  attempt: number;
  startedAt: number;
}

export interface ReplayResult {
  history: FleetHistory;
  unfinished: UnfinishedAttempt[];
  /** `started` keys (`incidentId#attempt`) ever journaled: never started twice. */
  startedKeys: Set<string>;
  records: number;
}

const svcOf = (t: RemediationTarget): ServiceName => (t === 'host' ? 'ping' : t);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** A `finished` record's steps with their times (records written before steps had times: none). */
function stepsOf(v: unknown): AttemptStep[] {
  if (!Array.isArray(v)) return [];
  const out: AttemptStep[] = [];
  for (const x of v as Array<Record<string, unknown>>) {
    const startedAt = typeof x.startedAt === 'string' ? Date.parse(x.startedAt) : NaN;
    const finishedAt = typeof x.finishedAt === 'string' ? Date.parse(x.finishedAt) : NaN;
    if (typeof x.id === 'string' && Number.isFinite(startedAt) && Number.isFinite(finishedAt)) out.push({ id: x.id, startedAt, finishedAt, ...(typeof x.outcome === 'string' ? { outcome: x.outcome } : {}) });
  }
  return out;
}

export function replayJournal(records: readonly JournalRecord[]): ReplayResult {
  const fleet = emptyFleetHistory();
  const startedKeys = new Set<string>();
  const open = new Map<string, { server: string; target: RemediationTarget; attempt: number; startedAt: number }>();

  const server = (name: string): ServerHistory => {
    let h = fleet.servers.get(name);
    if (h === undefined) {
      h = emptyServerHistory();
      fleet.servers.set(name, h);
    }
    return h;
  };
  const service = (name: string, svc: ServiceName, at: number): ServiceHistory => {
    const s = server(name);
    let h = s.services[svc];
    if (h === undefined) {
      h = initialServiceHistory(at);
      s.services[svc] = h;
    }
    return h;
  };
  const setService = (name: string, svc: ServiceName, h: ServiceHistory): void => {
    server(name).services[svc] = h;
  };
  const incidentOf = (name: string, target: RemediationTarget, id: string): Incident | undefined => {
    const inc = fleet.servers.get(name)?.services[svcOf(target)]?.incident;
    return inc?.id === id ? inc : undefined;
  };
  const updateIncident = (name: string, target: RemediationTarget, inc: Incident): void => {
    const svc = svcOf(target);
    const h = service(name, svc, inc.openedAt);
    setService(name, svc, { ...h, incident: inc });
  };

  for (const r of records) {
    const name = str(r.server);
    const at = typeof r.at === 'number' ? r.at : Date.parse(r.ts);
    switch (r.type) {
      case 'transition': {
        const svc = str(r.service) as ServiceName;
        const h = service(name, svc, at);
        const next: ServiceHistory = { ...h, state: str(r.to) as ServiceState, since: at, consecutiveFailures: num(r.consecutiveFailures) };
        if (r.to !== 'Escalated') delete next.escalation;
        else if (typeof r.escalation === 'string') next.escalation = r.escalation as EscalationReason;
        else if (typeof r.reason === 'string') next.escalation = r.reason as EscalationReason;
        setService(name, svc, next);
        break;
      }
      case 'incident-opened': {
        const inc = r.incident as Incident | undefined;
        if (inc !== undefined) updateIncident(name, inc.target, { ...inc, attempts: [], notified: [] });
        break;
      }
      case 'started': {
        const target = str(r.target) as RemediationTarget;
        const id = str(r.incidentId);
        const attempt = num(r.attempt);
        startedKeys.add(`${id}#${attempt}`);
        open.set(`${id}#${attempt}`, { server: name, target, attempt, startedAt: at });
        const inc = incidentOf(name, target, id);
        if (inc !== undefined && !inc.attempts.some((a) => a.n === attempt)) updateIncident(name, target, { ...inc, attempts: [...inc.attempts, { n: attempt, startedAt: at }] });
        const s = server(name);
        if (target === 'host') {
          s.powerActions = [...s.powerActions, at];
          fleet.fleetPowerActions = [...fleet.fleetPowerActions, at];
        } else {
          const h = service(name, target, at);
          setService(name, target, { ...h, restarts: [...h.restarts, at] });
        }
        break;
      }
      case 'finished':
      case 'interrupted': {
        const target = str(r.target) as RemediationTarget;
        const id = str(r.incidentId);
        const attempt = num(r.attempt);
        const key = `${id}#${attempt}`;
        const started = open.get(key);
        open.delete(key);
        const verdict = (r.type === 'interrupted' ? 'Interrupted' : str(r.verdict)) as Verdict;
        const inc = incidentOf(name, target, id);
        const steps = r.type === 'finished' ? stepsOf(r.steps) : [];
        const confirmedAt = typeof r.confirmedAt === 'number' ? r.confirmedAt : undefined;
        if (inc !== undefined) {
          const ended = (a: Attempt): Attempt => ({ ...a, finishedAt: at, verdict, ...(steps.length > 0 ? { steps } : {}), ...(confirmedAt !== undefined ? { confirmedAt } : {}) });
          updateIncident(name, target, { ...inc, attempts: inc.attempts.map((a) => (a.n === attempt ? ended(a) : a)) });
        }
        if (started !== undefined && r.type === 'finished') {
          // The same refunds as applyOutcome: nothing changed, nothing charged.
          const s = server(name);
          if (target === 'host' && num(r.powerActions) === 0) {
            s.powerActions = refund(s.powerActions, started.startedAt);
            fleet.fleetPowerActions = refund(fleet.fleetPowerActions, started.startedAt);
          } else if (target !== 'host' && r.acted === false) {
            const h = service(name, target, at);
            setService(name, target, { ...h, restarts: refund(h.restarts, started.startedAt) });
          }
        }
        break;
      }
      case 'notify': {
        const id = str(r.incidentId);
        const target = str(r.target) as RemediationTarget;
        const inc = id !== '' ? incidentOf(name, target, id) : undefined;
        if (inc !== undefined && !inc.notified.includes(str(r.kind))) updateIncident(name, target, { ...inc, notified: [...inc.notified, str(r.kind)] });
        break;
      }
      case 'escalated': {
        const target = str(r.target) as RemediationTarget;
        const h = service(name, svcOf(target), at);
        setService(name, svcOf(target), { ...h, escalation: str(r.reason) as EscalationReason });
        break;
      }
      case 'incident-closed': {
        const target = str(r.target) as RemediationTarget;
        const id = str(r.incidentId);
        const inc = incidentOf(name, target, id);
        if (inc !== undefined) {
          const s = server(name);
          const closed: Incident = { ...inc, closedAt: at, closeReason: str(r.reason) as Incident['closeReason'] };
          s.recent = [...s.recent, closed].slice(-RECENT_INCIDENTS);
          const h = service(name, svcOf(target), at);
          const { incident: _gone, ...rest } = h;
          setService(name, svcOf(target), rest);
        }
        if (r.reason === 'removed' && r.serverRemoved === true) fleet.servers.delete(name);
        break;
      }
      case 'resume': {
        const s = server(name);
        for (const svc of Object.keys(s.services) as ServiceName[]) {
          if (r.service !== undefined && r.service !== svc) continue;
          const h = s.services[svc];
          if (h !== undefined) s.services[svc] = { ...h, restarts: [], flips: [], flapHeld: false };
          if (svc === 'ping') s.powerActions = [];
        }
        break;
      }
      case 'mass-failure-paused': {
        const e = r.episode as MassFailureEpisode | undefined;
        if (e !== undefined) fleet.massFailure.set(scopeKey(e.scope), e);
        break;
      }
      case 'mass-failure-cleared': {
        const scope = r.scope as MassFailureScope | undefined;
        if (scope !== undefined) fleet.massFailure.delete(scopeKey(scope));
        break;
      }
      default:
        break;
    }
  }
  const unfinished: UnfinishedAttempt[] = [...open.entries()].map(([key, v]) => ({
    server: v.server,
    target: v.target,
    incidentId: key.slice(0, key.lastIndexOf('#')),
    attempt: v.attempt,
    startedAt: v.startedAt,
  }));
  return { history: fleet, unfinished, startedKeys, records: records.length };
}
