/**
 * A small driver for decide tables: a fleet, a policy, and a list of passes (probe outcomes at a
 * time, runbook verdicts, operator resumes). Each pass runs the pure functions exactly as the
 * controller does and records every action.
 */
import type { ServiceName } from '../../src/manifest/types.ts';
import { applyOutcome, applyResume } from '../../src/reconcile/decide-outcome.ts';
import { decide, emptyFleetHistory } from '../../src/reconcile/decide.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import type { Action, DesiredServer, FleetHistory, ObservedServer, Policy, RemediationTarget } from '../../src/reconcile/types.ts';
import type { Verdict } from '../../src/runbook/execution.ts';
import type { ConfigDocument } from '../../src/manifest/types.ts';

export const T0 = Date.parse('2026-11-25T00:00:00Z');

export type ProbeMap = Record<string, Partial<Record<ServiceName, boolean | 'unknown'>>>;

export interface Pass {
  /** Seconds after T0. */
  t: number;
  probes?: ProbeMap;
  /** Verdicts for the newest run-runbook of server/target (applied before the probes of this pass). */
  outcomes?: Array<{ server: string; target: RemediationTarget; verdict: Verdict; acted?: boolean; power?: number }>;
  resume?: { server: string; service?: ServiceName };
  canaries?: Array<{ address: string; up: boolean | 'unknown' }>;
  /** Replace the desired fleet from this pass on. */
  desired?: DesiredServer[];
}

export interface ScenarioResult {
  actions: Action[];
  perPass: Action[][];
  history: FleetHistory;
}

export function server(name: string, over: Partial<DesiredServer> = {}): DesiredServer {
  return { name, address: '10.0.0.10', services: ['ping', 'http', 'ssh', 'smtp'], suspend: false, maintenance: [], ...over };
}

export function policy(config: ConfigDocument = {}): Policy {
  return policyFromConfig(config);
}

export function runScenario(desired0: DesiredServer[], passes: Pass[], pol: Policy = policy()): ScenarioResult {
  let desired = desired0;
  let history = emptyFleetHistory();
  const actions: Action[] = [];
  const perPass: Action[][] = [];
  const lastRun = new Map<string, Extract<Action, { type: 'run-runbook' }>>();
  for (const pass of passes) {
    const now = T0 + pass.t * 1000;
    const passActions: Action[] = [];
    if (pass.desired !== undefined) desired = pass.desired;
    for (const o of pass.outcomes ?? []) {
      const run = lastRun.get(`${o.server}/${o.target}`);
      if (run === undefined) throw new Error(`no run for ${o.server}/${o.target}`);
      const h = history.servers.get(o.server);
      if (h === undefined) throw new Error(`no history for ${o.server}`);
      const res = applyOutcome(o.server, h, {
        target: o.target,
        incidentId: run.incidentId,
        attempt: run.attempt,
        verdict: o.verdict,
        acted: o.acted ?? true,
        powerActions: o.power ?? (o.target === 'host' ? 1 : 0),
        at: now - 1,
      });
      history.servers.set(o.server, res.history);
      if (res.refundFleetPowerAt !== undefined) {
        const i = history.fleetPowerActions.lastIndexOf(res.refundFleetPowerAt);
        if (i >= 0) history.fleetPowerActions.splice(i, 1);
      }
      passActions.push(...res.actions);
    }
    if (pass.resume !== undefined) {
      const h = history.servers.get(pass.resume.server);
      if (h !== undefined) {
        const res = applyResume(pass.resume.server, h, pass.resume.service, now - 1);
        history.servers.set(pass.resume.server, res.history);
        passActions.push(...res.actions);
      }
    }
    const observed = new Map<string, ObservedServer>();
    for (const [name, probes] of Object.entries(pass.probes ?? {})) {
      const o: ObservedServer = {};
      for (const [svc, up] of Object.entries(probes) as Array<[ServiceName, boolean | 'unknown']>) {
        o[svc] = { up, at: now - 500, latencyMs: 3, ...(up === false ? { failureKind: 'refused' } : {}) };
      }
      observed.set(name, o);
    }
    const out = decide({ desired, observed, history, policy: pol, now, ...(pass.canaries ? { canaries: pass.canaries } : {}) });
    history = out.history;
    passActions.push(...out.actions);
    for (const a of out.actions) if (a.type === 'run-runbook') lastRun.set(`${a.server}/${a.target}`, a);
    actions.push(...passActions);
    perPass.push(passActions);
  }
  return { actions, perPass, history };
}

/** Every service of a server in one state of probes. */
export function all(services: readonly ServiceName[], up: boolean | 'unknown'): Partial<Record<ServiceName, boolean | 'unknown'>> {
  const out: Partial<Record<ServiceName, boolean | 'unknown'>> = {};
  for (const s of services) out[s] = up;
  return out;
}

export function runs(actions: Action[], server?: string, target?: RemediationTarget): Array<Extract<Action, { type: 'run-runbook' }>> {
  return actions.filter(
    (a): a is Extract<Action, { type: 'run-runbook' }> =>
      a.type === 'run-runbook' && (server === undefined || a.server === server) && (target === undefined || a.target === target),
  );
}

export function notifies(actions: Action[]): string[] {
  return actions.flatMap((a) => (a.type === 'notify' ? [a.kind] : []));
}

export function stateOf(r: ScenarioResult, serverName: string, service: ServiceName): string | undefined {
  return r.history.servers.get(serverName)?.services[service]?.state;
}

export function holdOf(r: ScenarioResult, serverName: string, service: ServiceName): string | undefined {
  return r.history.servers.get(serverName)?.services[service]?.hold;
}

export function escalationOf(r: ScenarioResult, serverName: string, service: ServiceName): string | undefined {
  return r.history.servers.get(serverName)?.services[service]?.escalation;
}
