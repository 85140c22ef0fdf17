/**
 * A driver for decide's tables that runs the REAL controller: a fleet, a policy, and a list of
 * passes (probe outcomes at a time, runbook verdicts, operator resumes, canaries, a new desired
 * state). Each pass is one `reconcileOnce` of a Controller on a manual clock with a stub prober
 * and an executor whose runs wait until the table gives their verdict; the scenario records every
 * action the controller carried out (onActions) and every record it journaled.
 *
 * A service not named in a pass's probes answers Unknown (the probe ran while the monitor lagged:
 * the controller's own lag check, fed by the stub), which moves no state — the table's "no probe".
 */
import type { BmcPower } from '../../src/reconcile/quorum.ts';
import type { VantageBoard } from '../../src/reconcile/vantage-board.ts';
import { splitServerId } from '../../src/manifest/server-id.ts';
import type { ConfigDocument, ServerDocument, ServiceName } from '../../src/manifest/types.ts';
import { silentLogger } from '../../src/log.ts';
import type { ProbeResult } from '../../src/probe/types.ts';
import { seededRandom } from '../../src/reconcile/clock.ts';
import { Controller } from '../../src/reconcile/controller.ts';
import type { LagMonitor } from '../../src/reconcile/lag-monitor.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import type { Action, DesiredServer, FleetHistory, Policy, RemediationTarget, ServerHistory } from '../../src/reconcile/types.ts';
import type { Executor, Transcript, Verdict } from '../../src/runbook/execution.ts';
import type { Journal, JournalEntry, JournalRecord } from '../../src/status/journal.ts';
import type { StatusStore } from '../../src/status/store.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { ManualClock, RecordingNotifier, renderStub } from './harness.ts';

export const T0 = Date.parse('2026-11-25T00:00:00Z');

export type ProbeMap = Record<string, Partial<Record<ServiceName, boolean | 'unknown'>>>;

export interface Pass {
  /** Seconds after T0. */
  t: number;
  probes?: ProbeMap;
  /** Verdicts for the newest run-runbook of server/target (given 1 ms before the probes of this pass). */
  outcomes?: Array<{ server: string; target: RemediationTarget; verdict: Verdict; acted?: boolean; power?: number }>;
  resume?: { server: string; service?: ServiceName };
  canaries?: Array<{ address: string; up: boolean | 'unknown' }>;
  /** Replace the desired fleet from this pass on. */
  desired?: DesiredServer[];
  /** Agents' reports received just before this pass's probes (options.vantages), `at` in seconds after T0. */
  reports?: Array<{ vantage: string; server: string; service: ServiceName; up: boolean | 'unknown'; at: number }>;
  /** What each server's BMC says of its power this pass (options.vantages). */
  bmc?: Record<string, BmcPower>;
}

export interface ScenarioResult {
  actions: Action[];
  perPass: Action[][];
  history: FleetHistory;
  /** Every record the controller journaled, in order. */
  journal: JournalRecord[];
}

export interface ScenarioOptions {
  /** Drop an outcome for a target that never ran (instead of failing the scenario): for generated passes. */
  dropUnrun?: boolean;
  /** Vantage points: the board the controller reads, fed by each pass's `reports` and `bmc`. */
  vantages?: VantageBoard;
}

export function server(name: string, over: Partial<DesiredServer> = {}): DesiredServer {
  return { name, address: '10.0.0.10', services: ['ping', 'http', 'ssh', 'smtp'], suspend: false, maintenance: [], ...over };
}

export function policy(config: ConfigDocument = {}): Policy {
  return policyFromConfig(config);
}

/** The manifest that desiredFromManifest turns back into `d`. */
export function docOf(d: DesiredServer): ServerDocument {
  const maintenance = d.maintenance.map((w) => {
    const reason = w.reason !== undefined ? { reason: w.reason } : {};
    if ('startMs' in w) return { start: new Date(w.startMs).toISOString(), end: new Date(w.endMs).toISOString(), ...reason };
    return { schedule: w.schedule, timeZone: w.timeZone, durationMinutes: w.durationMs / 60_000, ...reason };
  });
  return {
    apiVersion: 'mamori/v1',
    kind: 'Server',
    // The table's name is the server's id: customer/name, or a bare name (a server with no customer).
    metadata: splitServerId(d.name),
    spec: {
      address: d.address,
      os: { family: 'centos', version: '5.4' },
      plan: 'basic',
      contact: { email: 'ops@acme.example', locale: 'en' },
      allowedNetworks: ['10.0.0.0/8'],
      services: [...d.services],
      access: { user: 'mamori', hostKey: `SHA256:${'A'.repeat(43)}`, credentials: { secretRef: 'k' } },
      ...(d.suspend ? { suspend: d.suspendUntilMs !== undefined ? { until: new Date(d.suspendUntilMs).toISOString() } : true } : {}),
      ...(maintenance.length > 0 ? { maintenance } : {}),
      ...(d.location !== undefined ? { location: { ...d.location } } : {}),
    },
  } as ServerDocument;
}

class MemoryJournal implements Journal {
  readonly dir = 'memory';
  readonly records: JournalRecord[] = [];
  private seq = 0;
  async append(e: JournalEntry): Promise<JournalRecord> {
    const r = { ...e, seq: ++this.seq, ts: new Date(0).toISOString() } as JournalRecord;
    this.records.push(r);
    return r;
  }
  async appendBatch(entries: readonly JournalEntry[]): Promise<JournalRecord[]> {
    const out: JournalRecord[] = [];
    for (const e of entries) out.push(await this.append(e));
    return out;
  }
  async close(): Promise<void> {}
}

const memoryStore = (): StatusStore => {
  const files = new Map<string, ServerStatus>();
  return {
    dir: 'memory',
    write: async (s) => void files.set(s.metadata.name, s),
    read: async (name) => files.get(name),
    list: async () => [...files.values()],
    archive: async (name) => void files.delete(name),
  };
};

interface PendingRun {
  server: string;
  target: RemediationTarget;
  settle?: (t: Transcript) => void;
  settled: boolean;
}

/** Lets every promise chain that can move on without the clock move on. */
async function settle(until: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (until()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`scenario: the controller did not settle (${what})`);
}

export async function runScenario(desired0: DesiredServer[], passes: Pass[], pol: Policy = policy(), options: ScenarioOptions = {}): Promise<ScenarioResult> {
  const clock = new ManualClock(Math.min(T0, ...passes.map((p) => T0 + p.t * 1000)) - 60_000);
  const journal = new MemoryJournal();
  let table: ProbeMap = {};
  // The probes' answers in the order they were given; the controller's lag check reads them in the
  // same order (each probe settles in the reaction right after its call).
  const lagged: boolean[] = [];
  const lag: LagMonitor = { maxLagBetween: () => (lagged.shift() === true ? 1e9 : 0), stop: () => undefined };
  const probe = async (doc: ServerDocument, service: ServiceName): Promise<ProbeResult> => {
    const want = table[doc.metadata.name]?.[service] ?? 'unknown';
    const up = want === true;
    if (!up) lagged.push(want === 'unknown');
    return {
      service,
      target: doc.spec.address,
      up,
      latencyMs: 3,
      startedAt: new Date(clock.now()).toISOString(),
      ...(up ? {} : { failure: { kind: 'refused' as const, phase: 'connect' as const, message: 'connection refused' } }),
    };
  };
  const runs: PendingRun[] = [];
  const executor: Executor = {
    execute: (req) =>
      new Promise<Transcript>((resolve) => {
        const target: RemediationTarget = req.runbook.service === 'ping' ? 'host' : req.runbook.service;
        const run: PendingRun = { server: req.server.metadata.name, target, settled: false };
        run.settle = (t) => {
          run.settled = true;
          resolve(t);
        };
        req.signal?.addEventListener('abort', () => run.settle?.(transcriptOf(req.server.metadata.name, req.runbook.service, 'Interrupted', false, 0)), { once: true });
        runs.push(run);
      }),
  };
  let perPassNow: Action[] = [];
  const controller = new Controller({
    policy: pol,
    probe,
    executor,
    renderRunbook: renderStub,
    notifier: new RecordingNotifier(),
    store: memoryStore(),
    journal,
    logger: silentLogger(),
    clock,
    lagMonitor: lag,
    random: seededRandom(1),
    remediationConcurrency: 1_000,
    operatorEmail: 'noc@provider.example',
    onActions: (_server, actions) => perPassNow.push(...actions),
    ...(options.vantages !== undefined ? { vantages: options.vantages } : {}),
  });
  const pending = (): number => runs.filter((r) => !r.settled).length;
  // Every runbook started has reached the executor (or ended): nothing moves until the table says.
  const quiet = async (what: string): Promise<void> => settle(() => controller.status().inFlight.remediations === pending(), what);

  let desired = desired0;
  let revision = 0;
  controller.setDesired(`rev${revision}`, desired.map(docOf));
  await controller.start(undefined, { schedule: false });
  const actions: Action[] = [];
  const perPass: Action[][] = [];
  let canariesSet = new Set<string>();
  try {
    for (const pass of passes) {
      const now = T0 + pass.t * 1000;
      perPassNow = [];
      if (now - 1 > clock.now()) await clock.advance(now - 1 - clock.now());
      if (pass.desired !== undefined) {
        desired = pass.desired;
        controller.setDesired(`rev${++revision}`, desired.map(docOf));
        await quiet('new desired state');
      }
      for (const o of pass.outcomes ?? []) {
        const run = runs.filter((r) => r.server === o.server && r.target === o.target).at(-1);
        if (run === undefined) {
          if (options.dropUnrun === true) continue;
          throw new Error(`no run for ${o.server}/${o.target}`);
        }
        if (run.settled) continue; // its attempt has ended already: a stale verdict changes nothing
        run.settle?.(transcriptOf(o.server, o.target === 'host' ? 'ping' : o.target, o.verdict, o.acted ?? true, o.power ?? (o.target === 'host' ? 1 : 0)));
        await quiet(`outcome ${o.server}/${o.target}`);
      }
      if (pass.resume !== undefined) await controller.resume(pass.resume.server, pass.resume.service);
      const named = new Set<string>();
      for (const c of pass.canaries ?? []) {
        if (c.up === 'unknown') continue;
        named.add(c.address);
        controller.setCanaryResult(c.address, c.up);
      }
      for (const a of canariesSet) if (!named.has(a)) controller.setCanaryResult(a, true);
      canariesSet = named;
      await clock.advance(now - clock.now());
      const board = options.vantages;
      if (board !== undefined) {
        for (const [name, power] of Object.entries(pass.bmc ?? {})) board.setBmc(name, power, now);
        for (const vantage of new Set((pass.reports ?? []).map((r) => r.vantage))) {
          const observations = (pass.reports ?? []).filter((r) => r.vantage === vantage).map((r) => ({ server: r.server, service: r.service, up: r.up, at: T0 + r.at * 1000 }));
          board.accept(vantage, { vantage, sentAt: now, observations }, now, () => true);
        }
      }
      table = pass.probes ?? {};
      await controller.reconcileOnce({ awaitRunbooks: false });
      await quiet('pass');
      actions.push(...perPassNow);
      perPass.push(perPassNow);
    }
    const servers = new Map<string, ServerHistory>();
    for (const d of desired) {
      const h = controller.historyOf(d.name);
      if (h !== undefined) servers.set(d.name, h);
    }
    const snapshot = controller.status();
    const history: FleetHistory = { servers, fleetPowerActions: [], massFailure: new Map(snapshot.massFailure.map((e) => [`${e.scope.kind}:${e.scope.value}`, e])) };
    return { actions, perPass, history, journal: [...journal.records] };
  } finally {
    // Runbooks still waiting for a verdict get the abort signal and end Interrupted.
    await controller.stop({ deadlineMs: 5_000 });
  }
}

function transcriptOf(server: string, service: ServiceName, verdict: Verdict, acted: boolean, power: number): Transcript {
  const at = new Date(T0).toISOString();
  return {
    runbook: `std-${service}`,
    origin: 'standard',
    server,
    service,
    startedAt: at,
    finishedAt: at,
    verdict,
    message: `scenario ${verdict}`,
    steps: [],
    evidence: {},
    acted,
    powerActions: Array.from({ length: power }, () => 'cycle' as const),
  };
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
