/**
 * The server pass: one server's probes as one batch under the probe semaphore, then decide and
 * commit with no await in between, then the actuator (journal first, act second). Each pass has an
 * id (`pass` in its log lines) and is reported as it ends (`onPass`); a failed one is counted and
 * its server re-queued with backoff — never left without a next probe time.
 */
import { MamoriError } from '../errors.ts';
import type { ServiceName } from '../manifest/types.ts';
import type { ProbeResult } from '../probe/types.ts';
import { recordsOf } from './action-records.ts';
import type { Actuator } from './actuator.ts';
import { decideServer, isFailingState, serverFailing, type ServerContext } from './decide.ts';
import type { ServerEntry } from './fleet-state.ts';
import type { LagMonitor } from './lag-monitor.ts';
import type { LoopContext, ReconcileSummary } from './loop-types.ts';
import type { PassFailures } from './pass-retry.ts';
import type { Grantee, Semaphore } from './semaphore.ts';
import type { Action, ObservedServer, ServerHistory } from './types.ts';
import type { WorkQueue } from './work-queue.ts';

const noop = (): void => undefined;
const NO_ACTIONS: Action[] = [];
const NO_RUNS: Array<Promise<ReconcileSummary['runbooks'][number]>> = [];

/** What one server pass decided (and, when awaiting, the runbooks it started). */
export interface ServerPassResult {
  actions: readonly Action[];
  probes: number;
  unknown: number;
  failing: boolean;
  runs: Array<Promise<ReconcileSummary['runbooks'][number]>>;
  /**
   * stillFailing as seen at the pass's end, with the entry and history it was computed from: the
   * summary reuses it while both are still the current ones (histories are replaced, never
   * changed in place), instead of walking 10,000 servers' services again from cold memory.
   */
  seenEntry?: ServerEntry;
  seenHistory?: ServerHistory;
  seenFailing?: boolean;
}

const EMPTY_PASS: ServerPassResult = { actions: [], probes: 0, unknown: 0, failing: false, runs: NO_RUNS };

/**
 * One server's probes in one pass. The probes start together as far as permits allow; the rest
 * wait in the semaphore's FIFO as this one object (no promise or closure per waiting probe), and
 * each grant starts the next service. Counts what settled; the last one settles the pass.
 */
export class ProbeBatch implements Grantee {
  readonly services: readonly ServiceName[];
  /** Services started so far (in manifest order). */
  next = 0;
  settled = 0;
  results = 0;
  unknown = 0;
  /** When the last probe settled (the pass's decide). */
  settledAt = 0;

  constructor(
    readonly name: string,
    /** The pass id: its log lines carry it (`pass`). */
    readonly pass: number,
    readonly entry: ServerEntry,
    readonly observed: ObservedServer,
    readonly start: number,
    readonly dryRun: boolean,
    readonly awaitRemediation: boolean,
    readonly resolve: (pass: ServerPassResult) => void,
    readonly reject: (err: unknown) => void,
    private readonly onGrant: (b: ProbeBatch) => void,
  ) {
    this.services = entry.desired.services;
  }

  grant(): void {
    this.onGrant(this);
  }
}

export interface ServerPassDeps {
  /** Probe permits (probeConcurrency), shared with the canaries. */
  readonly probes: Semaphore;
  readonly queue: WorkQueue;
  readonly actuator: Actuator;
  /** Servers whose last pass failed (shown in their status). */
  readonly passFailures: PassFailures;
  /** The server's next probe time (jittered unless `fast`); arms the timer. */
  reschedule(name: string, at: number, fast: boolean): void;
  armTimer(): void;
  writeStatus(name: string): Promise<void>;
  /** A server's pass ended well (or another replica owns it): the first round's progress. */
  looked?(name: string): void;
}

export class ServerPasses {
  /** The event loop's lag monitor: a failed probe taken while the loop lagged is `unknown`. */
  lag: LagMonitor | undefined;
  /** Server passes started (each one's id). */
  private passSeq = 0;
  private readonly o: LoopContext['o'];
  private readonly probes: Semaphore;

  constructor(
    private readonly ctx: LoopContext,
    private readonly deps: ServerPassDeps,
  ) {
    this.o = ctx.o;
    this.probes = deps.probes;
    this.lag = ctx.o.lagMonitor;
  }

  /**
   * Probe, decide, commit, act. Returns what was decided (and, when awaiting, what ran). The
   * server's probes are one batch (see ProbeBatch): per probe only the prober's own promise and
   * one reaction; decide and commit run synchronously when the last probe settles. The caller
   * took the server's key from the queue; it is handed back when the pass ends.
   */
  run(name: string, dryRun: boolean, awaitRemediation = false): Promise<ServerPassResult> {
    return new Promise<ServerPassResult>((resolve, reject) => this.launch(name, dryRun, awaitRemediation, resolve, reject));
  }

  /**
   * The scheduler's pass (the controller's timer): nobody awaits it (a failed one is logged,
   * counted and retried by passFailed), so it makes no promise — per server and interval the
   * promise, its executor and resolvers, a catch and a finally were as many objects as the
   * pass's own. Counted until it ends: idle() resolves when none runs.
   */
  start(name: string): void {
    this.detached++;
    this.launch(name, false, false, this.detachedEnded, this.detachedEnded);
  }

  /** Scheduler passes running now. */
  get running(): number {
    return this.detached;
  }

  /** Resolves when no scheduler pass runs (stop and whenIdle wait for it). */
  idle(): Promise<void> {
    return this.detached === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private detached = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly detachedEnded = (): void => {
    if (--this.detached > 0 || this.idleWaiters.length === 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  };

  private launch(name: string, dryRun: boolean, awaitRemediation: boolean, resolve: (pass: ServerPassResult) => void, reject: (err: unknown) => void): void {
    const entry = this.ctx.fleet.servers.get(name);
    if (entry === undefined) {
      this.serverDone(name);
      resolve(EMPTY_PASS);
      return;
    }
    if (this.o.coordinator !== undefined && !this.o.coordinator.owns(name, entry.doc.metadata.customer)) {
      // Another replica's shard: looked at again an interval on (or at once when membership changes).
      this.deps.queue.done(name);
      this.deps.reschedule(name, this.ctx.clock.now() + this.o.policy.intervalMs, false);
      this.deps.looked?.(name);
      resolve(EMPTY_PASS);
      return;
    }
    // The server's observation objects are reused pass after pass (updated in place): at 60,000
    // probes a pass, fresh ones would all live a whole interval and churn the old generation.
    const target = (entry.observed ??= {});
    // One clock read for the server's probes (they start together); a probe that waits for a
    // permit reads it again when it starts (the lag check and the observation's time).
    const b = new ProbeBatch(name, ++this.passSeq, entry, target, this.ctx.clock.now(), dryRun, awaitRemediation, resolve, reject, this.startQueuedProbe);
    const n = b.services.length;
    if (n === 0) {
      void Promise.resolve().then(() => this.probesSettled(b));
      return;
    }
    for (let i = 0; i < n; i++) {
      // Once the semaphore is full it stays full in this loop (permits come back in reactions).
      if (this.probes.tryAcquire()) this.startProbe(b, b.start);
      else this.probes.enqueue(b);
    }
  }

  /**
   * One pass over the named servers (reconcileOnce). Servers are admitted while their probes find
   * free permits (or when none of the pass's is in flight), up to half the permits in servers:
   * every permit busy, few probes waiting in the semaphore (a fixed 256 servers x 6 services asked
   * 1,536 probes of 512 permits and kept two in three waiting: a quarter more CPU a pass), and
   * permits freed by a server's fast probes are taken by the next server while it waits for its
   * slowest. The first server pass that fails fails the whole; the others finish on their own.
   */
  async runAll(names: readonly string[], dryRun: boolean, awaitRunbooks: boolean, servicesPerServer: number): Promise<ServerPassResult[]> {
    const results: ServerPassResult[] = new Array(names.length);
    const maxServers = Math.max(1, Math.min(names.length, Math.ceil(this.probes.limit / 2)));
    // The fleet's services a server (no lookup of each next server's manifest: that was the first,
    // cold touch of its data); the semaphore keeps the count exact whatever a server really has.
    const need = Math.max(1, Math.min(this.probes.limit, Math.round(servicesPerServer)));
    let unsubscribe = (): void => undefined;
    try {
      await this.ctx.track(
        new Promise<void>((resolve, reject) => {
          let next = 0;
          let active = 0;
          let failed = false;
          const fill = (): void => {
            while (next < names.length && active < maxServers) {
              if (active > 0 && this.probes.limit - this.probes.inUse < need) return;
              const i = next++;
              const name = names[i] as string;
              active++;
              void (this.deps.queue.begin(name) ? this.run(name, dryRun, awaitRunbooks) : this.afterBusy(name, dryRun, awaitRunbooks)).then(
                (pass) => {
                  results[i] = pass;
                  active--;
                  fill();
                },
                (err: unknown) => {
                  // Like a worker that throws: the pass fails; servers already started finish on their own.
                  active--;
                  if (!failed) reject(err);
                  failed = true;
                  fill();
                },
              );
            }
            if (next >= names.length && active === 0 && !failed) resolve();
          };
          unsubscribe = this.probes.onReturn(fill);
          fill();
        }),
      );
    } finally {
      unsubscribe();
    }
    return results;
  }

  /** Some subscribed service still fails after the pass (and its runbooks). */
  stillFailing(name: string, r: ServerPassResult): boolean {
    const h = this.ctx.fleet.historyOf(name);
    const entry = this.ctx.fleet.servers.get(name);
    if (r.seenFailing !== undefined && r.seenHistory === h && r.seenEntry === entry) return r.seenFailing;
    return failingIn(entry, h);
  }

  /**
   * The fleet's step (fleetStep over the counts as they stand): episodes opened or cleared now.
   * Servers of a cleared scope may be waiting on it: they are looked at again soon.
   */
  fleetStep(now: number): { actions: Action[]; undo: () => void } {
    const step = this.ctx.fleet.step(this.o.policy, now);
    if (step.cleared.length > 0) for (const n of this.ctx.fleet.servers.keys()) if (this.hasHold(n, 'MassFailurePaused')) this.deps.queue.addSooner(n, now);
    return { actions: step.actions, undo: step.undo };
  }

  private hasHold(name: string, hold: string): boolean {
    const h = this.ctx.fleet.historyOf(name);
    return h !== undefined && Object.values(h.services).some((s) => s?.hold === hold);
  }

  private async afterBusy(name: string, dryRun: boolean, awaitRunbooks: boolean): Promise<ServerPassResult> {
    while (!this.deps.queue.begin(name)) await new Promise((r) => setTimeout(r, 10));
    return this.ctx.track(this.run(name, dryRun, awaitRunbooks));
  }

  /** A permit for a batch's next probe came free (called inside Semaphore#release). */
  private readonly startQueuedProbe = (b: ProbeBatch): void => this.startProbe(b, this.ctx.clock.now());

  /** Starts the batch's next probe under a permit the caller holds (released when it settles). */
  private startProbe(b: ProbeBatch, start: number): void {
    const service = b.services[b.next++] as ServiceName;
    let p: Promise<ProbeResult>;
    try {
      p = this.o.probe(b.entry.doc, service, this.ctx.abort.signal);
    } catch (err) {
      p = Promise.reject(err);
    }
    // Neither handler throws (emit and afterProbe are guarded), so the derived promise is dropped.
    void p.then(
      (result) => this.probeSettled(b, service, start, result),
      (err: unknown) => this.probeThrew(b, service, start, err),
    );
  }

  private probeSettled(b: ProbeBatch, service: ServiceName, start: number, result: ProbeResult): void {
    this.probes.release();
    const lag = this.lag !== undefined && !result.up ? this.lag.maxLagBetween(start, this.ctx.clock.now()) : 0;
    const isUnknown = !result.up && lag > this.o.policy.timeoutMs / 2;
    if (isUnknown) b.unknown++;
    b.results++;
    const up = isUnknown ? 'unknown' : result.up;
    const observed = b.observed;
    const obs = observed[service];
    if (obs === undefined) {
      observed[service] = { up, at: start, latencyMs: result.latencyMs, failureKind: result.failure?.kind, message: result.failure?.message, ...(result.tls !== undefined ? { tls: result.tls, tlsAt: start } : {}) };
    } else {
      obs.up = up;
      obs.at = start;
      obs.latencyMs = result.latencyMs;
      obs.failureKind = result.failure?.kind;
      obs.message = result.failure?.message;
      // The last certificate seen stays while probes fail before TLS; a passing probe without TLS clears it.
      if (result.tls !== undefined) {
        obs.tls = result.tls;
        obs.tlsAt = start;
      } else if (result.up && obs.tls !== undefined) {
        obs.tls = undefined;
        obs.tlsAt = undefined;
      }
    }
    if (this.o.onEvent !== undefined) this.deps.actuator.emit({ type: 'probe', server: b.entry.desired.name, result, unknown: isUnknown, at: start });
    if (++b.settled === b.services.length) this.probesSettled(b);
  }

  private probeThrew(b: ProbeBatch, service: ServiceName, start: number, err: unknown): void {
    this.probes.release();
    // A probe never throws by contract; if one does, it is mamori's fault, not the server's.
    this.o.logger.error({ err, server: b.entry.desired.name, service, pass: b.pass }, 'probe threw');
    b.observed[service] = { up: 'unknown', at: start, latencyMs: 0 };
    b.unknown++;
    b.results++;
    if (++b.settled === b.services.length) this.probesSettled(b);
  }

  /** The batch's last probe settled: decide and commit now, then settle the server's pass. */
  private probesSettled(b: ProbeBatch): void {
    b.settledAt = this.ctx.clock.now();
    b.entry.observedSeq = (b.entry.observedSeq ?? 0) + 1;
    let pass: ServerPassResult | Promise<ServerPassResult>;
    try {
      pass = this.afterProbe(b.name, b.entry, b, b.dryRun, b.awaitRemediation);
    } catch (err) {
      this.passEnded(b, err);
      return;
    }
    if (!(pass instanceof Promise)) {
      this.passEnded(b, undefined, pass);
      return;
    }
    void pass.then(
      (p) => this.passEnded(b, undefined, p),
      (err: unknown) => this.passEnded(b, err),
    );
  }

  /** A server pass ended (`err` set: it failed): counted, reported, the key handed back to the queue. */
  private passEnded(b: ProbeBatch, err: unknown, pass?: ServerPassResult): void {
    if (this.o.onPass !== undefined) this.o.onPass({ server: b.name, pass: b.pass, durationMs: this.ctx.clock.now() - b.start, failed: pass === undefined });
    if (pass === undefined) {
      this.passFailed(b.name, err, b.pass);
      this.serverDone(b.name);
      b.reject(err);
      return;
    }
    if (pass.failing && this.o.logger.isLevelEnabled('debug')) this.logFailingPass(b, pass);
    if (this.deps.passFailures.size > 0 && !b.dryRun) this.passSucceeded(b.name);
    if (!b.dryRun) this.deps.looked?.(b.name);
    this.serverDone(b.name);
    b.resolve(pass);
  }

  /**
   * A pass of a failing server, timed (debug): how long its probes took, each service's, and the
   * act after them — what stands between a fault and its confirmation when that is slow.
   */
  private logFailingPass(b: ProbeBatch, pass: ServerPassResult): void {
    const now = this.ctx.clock.now();
    const probes: Record<string, string> = {};
    for (const s of b.services) {
      const o = b.observed[s];
      if (o !== undefined) probes[s] = `${String(o.up)} ${Math.round(o.latencyMs)} ms, started +${o.at - b.start} ms`;
    }
    const next = this.deps.queue.dueAt(b.name);
    this.o.logger.debug(
      { server: b.name, pass: b.pass, probesMs: b.settledAt - b.start, actMs: now - b.settledAt, unknown: b.unknown, probes, actions: pass.actions.map((a) => a.type), nextInMs: next === undefined ? undefined : next - now },
      'failing server pass',
    );
  }

  /**
   * A pass failed (a journal append, a bug): counted, logged, shown in the server's status, and
   * the server probed again after a backoff — never left without a next probe time.
   */
  private passFailed(name: string, err: unknown, pass?: number): void {
    if (this.ctx.stopping() || !this.ctx.fleet.servers.has(name)) return;
    const now = this.ctx.clock.now();
    const f = this.deps.passFailures.failed(name, now, err);
    // Re-queued with backoff by the work queue (sooner only): never left without a next probe time.
    const { retryInMs } = this.deps.queue.failed(name, now);
    this.o.logger.error({ err, server: name, failures: f.failures, retryInMs, pass }, 'server pass failed');
    this.deps.actuator.emit({ type: 'pass-failed', server: name, failures: f.failures, retryInMs });
    this.deps.armTimer();
    if (f.failures === 1) void this.deps.writeStatus(name);
  }

  private passSucceeded(name: string): void {
    this.deps.queue.succeeded(name);
    if (!this.deps.passFailures.succeeded(name)) return;
    this.o.logger.info({ server: name }, 'server pass succeeded again');
    void this.deps.writeStatus(name);
  }

  private serverDone(name: string): void {
    if (this.deps.queue.done(name)) this.deps.reschedule(name, this.ctx.clock.now(), true);
  }

  /** Decide and commit with no await in between; act only when there is more than the next probe time. */
  private afterProbe(
    name: string,
    entry: ServerEntry,
    probed: { observed: ObservedServer; results: number; unknown: number; pass: number; start: number },
    dryRun: boolean,
    awaitRemediation: boolean,
  ): ServerPassResult | Promise<ServerPassResult> {
    const { observed, results, unknown } = probed;
    const lanes = this.ctx.lanes;
    // A journal write and commit for this server is in progress (a runbook's outcome): decide after it.
    const lane = lanes.size > 0 ? lanes.get(name) : undefined;
    if (lane !== undefined) return lane.then(noop, noop).then(() => this.afterProbe(name, entry, probed, dryRun, awaitRemediation));
    const now = this.ctx.clock.now();
    const fleet = this.ctx.fleet;
    const prevHistory = fleet.historyOf(name);
    const failing = serverFailing(entry.desired, observed, prevHistory);
    const policy = this.o.policy;
    let fleetActions: Action[] = NO_ACTIONS;
    let undoFleet = noop;
    // Only a change of this server's failing flag, a canary, or (shared counts) another replica's
    // servers can open or clear an episode.
    const coordinator = this.o.coordinator;
    if (!dryRun && coordinator !== undefined) {
      coordinator.serverFailing(name, entry.doc.metadata.customer, entry.groupKeys, failing);
      if (coordinator.serviceAnswered !== undefined) {
        for (const s of entry.desired.services) {
          const o = observed[s];
          if (o !== undefined && o.up === true) coordinator.serviceAnswered(name, entry.doc.metadata.customer, s, o.at);
        }
      }
    }
    if (!dryRun && (fleet.counts.set(name, entry.groupKeys, failing) || fleet.canariesChanged || fleet.stepStale || fleet.countsMoved())) {
      fleet.canariesChanged = false;
      fleet.stepStale = false;
      const step = this.fleetStep(now);
      fleetActions = step.actions;
      undoFleet = step.undo;
    }
    // Episodes mirror the counts exactly (fleetStep runs on every change): none open, none tripped.
    const pausedBy = fleet.history.massFailure.size === 0 && !dryRun ? undefined : fleet.counts.pausedBy(name, policy);
    const board = this.o.vantages;
    const vantage = board !== undefined ? board.contextFor(entry.desired, observed, prevHistory, now, fleet.servers.size, policy) : undefined;
    const ctx: ServerContext = { policy, now, fleetPowerActions: fleet.power.recent(now), pausedBy, probedAt: probed.start, ...(vantage !== undefined ? { vantage } : {}) };
    const decision = decideServer(entry.desired, observed, prevHistory, ctx);
    if (dryRun) return { actions: [...fleetActions, ...decision.actions], probes: results, unknown, failing, runs: NO_RUNS };
    const actuator = this.deps.actuator;
    // The fleet's power runbooks are reserved at once (a decision made before this one's records
    // are in the journal must count them), and given back if the records never get there.
    fleet.power.add(decision.powerStarted);
    // Certificates are judged once the pass is committed: the status file their change writes
    // shows this pass (written before its commit, a first pass's file had no services yet).
    const commit = (): void => {
      fleet.commit(name, decision.history);
      actuator.certificates(name, entry, now);
    };

    const actions = fleetActions.length > 0 ? [...fleetActions, ...decision.actions] : decision.actions;
    // The steady state has one action (probe-again-at): nothing to journal, nothing to await.
    if (actions.length <= 1) {
      commit();
      // A hold is shown in the status file: a pass that only changed why a Down service waits
      // (DestructiveWait → MassFailurePaused) has no transition to journal, but the file must follow.
      if (decision.history !== prevHistory && holdsDiffer(prevHistory, decision.history)) void this.ctx.track(this.deps.writeStatus(name));
      if (this.o.onActions !== undefined) this.o.onActions(name, actions);
      this.deps.reschedule(name, decision.nextProbeAt, decision.fast);
      const h = fleet.historyOf(name);
      return { actions, probes: results, unknown, failing, runs: NO_RUNS, seenEntry: entry, seenHistory: h, seenFailing: failingIn(entry, h) };
    }
    // Journal first, commit second: records that did not reach the journal leave the history as it
    // was (the next pass decides again), never an attempt that no `started` record will ever end.
    const records = recordsOf(actions, (s) => (s === name ? decision.history : fleet.historyOf(s)), now);
    // No runbook starts while the state folder cannot take its `started` record: this pass fails
    // whole (nothing committed, no attempt spent) and is retried with backoff; probing goes on.
    const runs = actions.some((a) => a.type === 'run-runbook');
    const blocked = this.o.stateWritable !== undefined && !this.o.stateWritable() && runs;
    // Likewise while the replica holds no fresh lease (etcd unreachable): probing goes on.
    const fenced = runs && this.o.coordinator !== undefined && !this.o.coordinator.canRemediate();
    const write = blocked ? Promise.reject(new MamoriError('MAMORI_STATE_UNWRITABLE')) : fenced ? Promise.reject(new MamoriError('MAMORI_CLUSTER_UNAVAILABLE')) : lanes.run(name, () => actuator.journalBatch(records));
    const journaled = write.then(commit, (err: unknown) => {
      if (fleetActions.length > 0) {
        undoFleet();
        fleet.stepStale = true;
      }
      for (const at of decision.powerStarted) fleet.power.refund(at);
      throw err;
    });
    return journaled
      .then(() => actuator.perform(name, actions, now, { awaitRemediation, journaled: true, pass: probed.pass }))
      .then(async (runs) => {
        // A hold that changed beside records that are not themselves shown (a notification:
        // DestructiveWait → VantageLost with the operator's mail) must reach the status file too.
        if (holdsDiffer(prevHistory, decision.history) && !actions.some(showsInStatus)) await this.ctx.track(this.deps.writeStatus(name));
        this.deps.reschedule(name, decision.nextProbeAt, decision.fast);
        const h = fleet.historyOf(name);
        return { actions, probes: results, unknown, failing, runs, seenEntry: entry, seenHistory: h, seenFailing: failingIn(entry, h) };
      });
  }
}

/** Some subscribed service is in a failing state (Suspect, Down, Remediating, Escalated). */
function failingIn(entry: ServerEntry | undefined, h: ServerHistory | undefined): boolean {
  if (h === undefined || entry === undefined) return false;
  const services = entry.desired.services;
  for (let i = 0; i < services.length; i++) {
    const x = h.services[services[i] as ServiceName];
    if (x !== undefined && isFailingState(x.state)) return true;
  }
  return false;
}

/** Whether the actuator rewrites the status file for this action itself. */
function showsInStatus(a: Action): boolean {
  return a.type === 'transition' || a.type === 'open-incident' || a.type === 'close-incident' || a.type === 'escalate' || a.type === 'hold-flapping' || a.type === 'quorum' || a.type === 'pause-for-mass-failure' || a.type === 'clear-mass-failure';
}

/** Whether any service's hold differs between two histories of one server. */
function holdsDiffer(prev: ServerHistory | undefined, next: ServerHistory): boolean {
  for (const key in next.services) {
    if (prev?.services[key as ServiceName]?.hold !== next.services[key as ServiceName]?.hold) return true;
  }
  if (prev !== undefined) for (const key in prev.services) if (!(key in next.services) && prev.services[key as ServiceName]?.hold !== undefined) return true;
  return false;
}
