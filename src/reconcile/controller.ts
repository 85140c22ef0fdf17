/**
 * The controller: schedules probes per server (interval with seeded jitter, retries while
 * failing), runs decide, commits its history, and carries out the actions — journal first, act
 * second. controller-runtime's rules: a server is never reconciled twice at once; each pass
 * recomputes from desired + observed (level-triggered); runbooks run with bounded concurrency in
 * the background and feed their verdicts back through the pure `applyOutcome`.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import { MamoriError } from '../errors.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { ProbeResult } from '../probe/types.ts';
import type { ConditionInput } from '../status/conditions.ts';
import type { Condition, ServerStatus } from '../status/model.ts';
import { Actuator } from './actuator.ts';
import { Lanes } from './lanes.ts';
import type { ControllerOptions, LoopContext, ReconcileSummary } from './loop-types.ts';
import { Remediations } from './remediations.ts';
import { recordsOf } from './action-records.ts';
import { systemClock, type Clock } from './clock.ts';
import { applyOutcome, applyResume } from './decide-outcome.ts';
import { decideServer, fleetStep, isFailingState, serverFailing, type ServerContext } from './decide.ts';
import { desiredFromManifest } from './desired.ts';
import { FleetState, type ServerEntry } from './fleet-state.ts';
import { createLagMonitor, type LagMonitor } from './lag-monitor.ts';
import { groupKeysOf } from './mass-failure.ts';
import { certificateFindings, certificateNotifications, certificateSignature, DEFAULT_WARNING_DAYS } from './certificates.ts';
import { passBackoffMs, PassFailures } from './pass-retry.ts';
import { probeTargetOf } from './probe-target.ts';
import { TranscriptLog } from './transcripts.ts';
import { formatTarget } from '../probe/result.ts';
import { DEFAULT_PORTS, type TcpServiceName } from '../probe/types.ts';
import { replayJournal } from './replay.ts';
import { Semaphore, type Grantee } from './semaphore.ts';
import { WorkQueue } from './work-queue.ts';
import { serverStatusOf } from './status-view.ts';
import { UNMONITORED_RETENTION_MS, unmonitoredOf, unmonitoredStatus, type Unmonitored, type UnmonitoredReason } from './unmonitored.ts';
import type { Action, DesiredServer, MassFailureEpisode, ObservedServer, ServerHistory } from './types.ts';

import { serverKey } from './coordinator.ts';

export type { CanaryProbeFn, CanaryTarget, ControllerEvent, ControllerOptions, PassReport, ProbeFn, ReconcileSummary, RenderRunbookFn } from './loop-types.ts';

export interface ResumeResult {
  server: string;
  resumed: ServiceName[];
}

export interface ControllerSnapshot {
  revision: string;
  servers: ServerStatus[];
  /** Servers nobody probes (removed, outside the target networks, no valid manifest), and why. */
  unmonitored?: Unmonitored[];
  massFailure: MassFailureEpisode[];
  inFlight: { probes: number; remediations: number; queued: number };
}

const MIN_STOP_MS = 0;
const noop = (): void => undefined;
const NO_ACTIONS: Action[] = [];
const NO_RUNS: Array<Promise<ReconcileSummary['runbooks'][number]>> = [];

interface ServerPass {
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

const EMPTY_PASS: ServerPass = { actions: [], probes: 0, unknown: 0, failing: false, runs: NO_RUNS };

/**
 * One server's probes in one pass. The probes start together as far as permits allow; the rest
 * wait in the semaphore's FIFO as this one object (no promise or closure per waiting probe), and
 * each grant starts the next service. Counts what settled; the last one settles the pass.
 */
class ProbeBatch implements Grantee {
  readonly services: readonly ServiceName[];
  /** Services started so far (in manifest order). */
  next = 0;
  settled = 0;
  results = 0;
  unknown = 0;

  constructor(
    readonly name: string,
    /** The pass id: its log lines carry it (`pass`). */
    readonly pass: number,
    readonly entry: ServerEntry,
    readonly observed: ObservedServer,
    readonly start: number,
    readonly dryRun: boolean,
    readonly awaitRemediation: boolean,
    readonly resolve: (pass: ServerPass) => void,
    readonly reject: (err: unknown) => void,
    private readonly onGrant: (b: ProbeBatch) => void,
  ) {
    this.services = entry.desired.services;
  }

  grant(): void {
    this.onGrant(this);
  }
}

export class Controller {
  private readonly o: ControllerOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly probes: Semaphore;
  /** Runbook attempts under permits, outcomes by callback (remediations.ts). */
  private readonly remediations: Remediations;
  /** Journal first, act second (actuator.ts). */
  private readonly actuator: Actuator;
  private readonly ctx: LoopContext;
  private readonly queue: WorkQueue;
  /** Server entries, histories, the mass-failure counts and the fleet power ledger (fleet-state.ts). */
  private readonly fleet = new FleetState();
  private readonly servers = this.fleet.servers;
  /** The runbook transcripts, kept once: the status page reads them here (transcripts.ts). */
  readonly transcripts = new TranscriptLog();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Servers whose last pass failed: retried with backoff (pass-retry.ts), shown in status. */
  private readonly passFailures = new PassFailures();
  /** Servers with a status file that nobody probes any more: their status says so (unmonitored.ts). */
  private readonly unmonitored = new Map<string, Unmonitored>();
  /** Per server, the journal write and commit in progress: the next decision for it waits (lanes.ts). */
  private readonly lanes = new Lanes();
  /** A pass that changed the mass-failure episodes failed to journal them: look again next pass. */
  private massFailureStale = false;
  /** Services of all servers (reconcileOnce sizes its pool by the services per server). */
  private serviceCount = 0;
  /** Server passes started (each one's id). */
  private passSeq = 0;
  private revision = '';
  private timer: unknown;
  private timerAt = Infinity;
  private started = false;
  private stopping = false;
  private canariesChanged = false;
  private readonly abort = new AbortController();
  private lag: LagMonitor | undefined;
  private canaryTimer: unknown;

  constructor(options: ControllerOptions) {
    this.o = options;
    this.lag = options.lagMonitor;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.probes = new Semaphore(options.probeConcurrency ?? 512);
    this.ctx = {
      o: options,
      clock: this.clock,
      random: this.random,
      fleet: this.fleet,
      lanes: this.lanes,
      abort: this.abort,
      stopping: () => this.stopping,
      track: (p) => this.track(p),
    };
    this.remediations = new Remediations(this.ctx, { reschedule: (name, at, fast) => this.reschedule(name, at, fast), transcripts: this.transcripts, fleetGroups: () => this.fleetGroups() }, options.remediationConcurrency ?? 4);
    this.actuator = new Actuator(this.ctx, {
      writeStatus: (name) => this.writeStatus(name),
      launch: (a, pass) => this.remediations.launch(a, pass),
      transcript: (id) => this.remediations.transcript(id),
    });
    this.remediations.wire(this.actuator);
    this.queue = new WorkQueue({ backoffMs: (failures) => passBackoffMs(failures, options.policy, this.random) });
  }

  // ---- inputs -----------------------------------------------------------------------------

  /** A new desired state (a manifests revision). New servers are probed soon; removed ones forgotten. */
  setDesired(
    revision: string,
    docs: readonly ServerDocument[],
    extras: {
      manifestInvalid?: ReadonlyMap<string, string>;
      /** Servers the caller does not hand over, and why (outside the target networks). */
      notMonitored?: ReadonlyMap<string, { reason: UnmonitoredReason; message: string; customer?: string }>;
    } = {},
  ): void {
    this.revision = revision;
    const now = this.clock.now();
    const wanted = new Set<string>();
    let services = 0;
    for (const doc of docs) {
      const name = serverIdOf(doc);
      wanted.add(name);
      this.unmonitored.delete(name);
      const prev = this.servers.get(name);
      const desired = desiredFromManifest(doc);
      services += desired.services.length;
      const groupKeys = prev !== undefined && prev.desired.address === desired.address && sameLocation(prev.desired, desired) ? prev.groupKeys : (desired.groupKeys ?? groupKeysOf(desired));
      const manifestInvalid = extras.manifestInvalid?.get(name);
      this.fleet.setEntry(name, { ...(prev ?? { loaded: false }), doc, desired, groupKeys, manifestInvalid });
      // A refused manifest changes no probe result, so no transition would write the status file.
      if (prev !== undefined && this.started && prev.manifestInvalid !== manifestInvalid) void this.writeStatus(name);
      if (!this.started) continue;
      const policy = this.o.policy;
      if (prev === undefined) this.queue.add(name, now + this.random() * policy.retryMs);
      else if (desiredKey(prev.desired) !== desiredKey(desired)) this.queue.addSooner(name, now);
      else {
        // Unchanged: keep its phase, unless it is due later than one (maybe new, shorter) interval
        // from now; then spread it over that interval (no thundering herd on a revision or reload).
        const due = this.queue.dueAt(name);
        if (due === undefined || due > now + policy.intervalMs * (1 + policy.jitter)) this.queue.add(name, now + this.random() * policy.intervalMs);
      }
    }
    this.serviceCount = services;
    for (const [name, why] of extras.notMonitored ?? []) {
      if (wanted.has(name) || this.servers.has(name) || this.unmonitored.get(name)?.reason === why.reason) continue;
      this.markUnmonitored({ name, ...(why.customer !== undefined ? { customer: why.customer } : {}), reason: why.reason, message: why.message, since: now });
    }
    const removed: Array<{ name: string; history: ServerHistory | undefined }> = [];
    for (const name of [...this.servers.keys()]) {
      if (wanted.has(name)) continue;
      this.queue.forget(name);
      this.passFailures.forget(name);
      const gone = this.fleet.removeServer(name);
      const why = extras.notMonitored?.get(name) ?? { reason: 'Removed' as const, message: `removed from the manifests at revision ${revision.slice(0, 19)}` };
      this.markUnmonitored({ name, ...(gone.entry?.doc.metadata.customer !== undefined ? { customer: gone.entry.doc.metadata.customer } : {}), reason: why.reason, message: why.message, since: now });
      removed.push({ name, history: gone.history });
    }
    if (removed.some((r) => r.history !== undefined)) this.removedStep(removed, now);
    if (removed.length > 0) this.o.vantages?.retain((n) => this.servers.has(n));
    this.armTimer();
  }

  /** Removed servers' open incidents close as removed (fleetStep); their records say the server went. */
  private removedStep(removed: ReadonlyArray<{ name: string; history: ServerHistory | undefined }>, now: number): void {
    const step = fleetStep({ massFailure: this.fleet.episodes(), tripped: [], removed, now });
    const closes = step.actions.filter((a) => a.type === 'close-incident');
    if (closes.length === 0) return;
    const records = recordsOf(closes, () => undefined, now).map((r) => (r.type === 'incident-closed' ? { ...r, serverRemoved: true } : r));
    void this.track(
      this.actuator
        .journalBatch(records)
        .catch(noop)
        .then(() => this.actuator.perform('', closes, now, { journaled: true })),
    );
  }

  /** The replicas changed: every server is looked at soon (ownership moved for ~1/N of them). */
  ownershipChanged(): void {
    if (!this.started || this.stopping) return;
    const now = this.clock.now();
    for (const name of this.servers.keys()) this.queue.addSooner(name, now + this.random() * this.o.policy.retryMs);
    this.armTimer();
  }

  /** Every server's group keys (the totals the fleet-wide mass-failure counts are fractions of). */
  private fleetGroups(): Map<string, readonly string[]> {
    const out = new Map<string, readonly string[]>();
    for (const [name, e] of this.servers) out.set(serverKey(name, e.doc.metadata.customer), e.groupKeys);
    return out;
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /**
   * Replays the journal, marks every attempt that was started and never finished as interrupted
   * (it is never run again: the service is re-probed first), then starts scheduling.
   */
  async start(records?: Parameters<typeof replayJournal>[0], options: { schedule?: boolean } = {}): Promise<{ replayed: number; interrupted: number }> {
    let interrupted = 0;
    let replayed = 0;
    if (records !== undefined) {
      const r = replayJournal(records);
      replayed = r.records;
      this.fleet.replaceHistory(r.history);
      for (const k of r.startedKeys) this.remediations.startedKeys.add(k);
      const now = this.clock.now();
      for (const u of r.unfinished) {
        await this.actuator.journal({ type: 'interrupted', server: u.server, target: u.target, incidentId: u.incidentId, attempt: u.attempt, reason: 'daemon-restarted', at: now });
        interrupted++;
        const h = this.fleet.historyOf(u.server);
        if (h === undefined) continue;
        // Unknown what it did before the crash: count it as spent and as having acted.
        const res = applyOutcome(u.server, h, { target: u.target, incidentId: u.incidentId, attempt: u.attempt, verdict: 'Interrupted', acted: true, powerActions: 1, at: now });
        await this.actuator.journalBatch(recordsOf(res.actions, (s) => (s === u.server ? res.history : this.fleet.historyOf(s)), now));
        this.fleet.commit(u.server, res.history, { recount: false });
        await this.actuator.perform(u.server, res.actions, now, { journaled: true });
      }
      this.fleet.recount();
    }
    // The event loop's own lag decides whether a failed probe can be trusted (a timer drift check;
    // tests inject theirs). Only on the real clock: a fake clock's timers do not drift.
    if (this.lag === undefined && this.o.clock === undefined) this.lag = createLagMonitor(systemClock);
    // `mamori reconcile --once` and `resume` in-process: the journal is replayed, nothing is scheduled.
    if (options.schedule === false) return { replayed, interrupted };
    // Canaries first: a monitor whose own network is broken must know it before it repairs anything.
    this.scheduleCanaries(true);
    this.started = true;
    const now = this.clock.now();
    for (const [name] of this.servers) {
      const h = this.fleet.historyOf(name);
      const urgent = h !== undefined && Object.values(h.services).some((s) => s !== undefined && s.state !== 'Healthy');
      // Spread the first round over one interval (no thundering herd); servers with trouble go first.
      this.queue.add(name, now + (urgent ? 0 : this.random() * this.o.policy.intervalMs));
    }
    this.armTimer();
    this.o.logger.info({ servers: this.servers.size, replayed, interrupted }, 'reconciler started');
    return { replayed, interrupted };
  }

  /**
   * Stops scheduling; in-flight runbooks get the abort signal and have until the deadline to
   * reach a safe point. Any still running then is journaled `interrupted`.
   */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    const deadlineMs = Math.max(MIN_STOP_MS, options.deadlineMs ?? 10_000);
    const all = Promise.allSettled([...this.inFlight, ...this.remediations.promises()]);
    let timedOut = false;
    await Promise.race([
      all,
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timedOut = true;
          resolve();
        }, deadlineMs);
        t.unref?.();
      }),
    ]);
    if (timedOut) await this.remediations.interruptRunning();
    this.lag?.stop();
    if (this.canaryTimer !== undefined) this.clock.clearTimeout(this.canaryTimer);
    this.o.logger.info({ timedOut }, 'reconciler stopped');
  }

  // ---- scheduling -------------------------------------------------------------------------

  private armTimer(): void {
    if (!this.started || this.stopping) return;
    const next = this.queue.peekTime();
    if (next === undefined) return;
    if (this.timer !== undefined && next >= this.timerAt) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.tick();
    }, next - this.clock.now());
  }

  private tick(): void {
    if (this.stopping) return;
    const now = this.clock.now();
    // Never twice at once: a server due while its pass runs is handed back when that pass ends.
    for (const name of this.queue.take(now, this.o.onLate === undefined ? undefined : this.late)) {
      if (!this.servers.has(name)) {
        this.queue.done(name);
        continue;
      }
      // A failed pass is logged, counted and retried by passFailed (probesSettled): nothing to add here.
      this.track(this.reconcileServer(name, false).catch(() => undefined));
    }
    this.armTimer();
  }

  private readonly late = (_key: string, lateMs: number): void => this.o.onLate?.(lateMs);

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private reschedule(name: string, at: number, fast: boolean): void {
    if (this.stopping || !this.servers.has(name)) return;
    const policy = this.o.policy;
    // Jitter spreads healthy servers over the interval; retries are kept on time.
    const jitter = fast ? 0 : policy.intervalMs * policy.jitter * (2 * this.random() - 1);
    this.queue.add(name, Math.max(this.clock.now(), at + jitter));
    this.armTimer();
  }

  // ---- one server -------------------------------------------------------------------------

  /**
   * Probe, decide, commit, act. Returns what was decided (and, when awaiting, what ran). The
   * server's probes are one batch (see ProbeBatch): per probe only the prober's own promise and
   * one reaction; decide and commit run synchronously when the last probe settles.
   */
  private reconcileServer(name: string, dryRun: boolean, awaitRemediation = false): Promise<ServerPass> {
    const entry = this.servers.get(name);
    if (entry === undefined) {
      this.serverDone(name);
      return Promise.resolve(EMPTY_PASS);
    }
    if (this.o.coordinator !== undefined && !this.o.coordinator.owns(name, entry.doc.metadata.customer)) {
      // Another replica's shard: looked at again an interval on (or at once when membership changes).
      this.queue.done(name);
      this.reschedule(name, this.clock.now() + this.o.policy.intervalMs, false);
      return Promise.resolve(EMPTY_PASS);
    }
    // The server's observation objects are reused pass after pass (updated in place): at 60,000
    // probes a pass, fresh ones would all live a whole interval and churn the old generation.
    const target = (entry.observed ??= {});
    return new Promise<ServerPass>((resolve, reject) => {
      // One clock read for the server's probes (they start together); a probe that waits for a
      // permit reads it again when it starts (the lag check and the observation's time).
      const b = new ProbeBatch(name, ++this.passSeq, entry, target, this.clock.now(), dryRun, awaitRemediation, resolve, reject, this.startQueuedProbe);
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
    });
  }

  /** A permit for a batch's next probe came free (called inside Semaphore#release). */
  private readonly startQueuedProbe = (b: ProbeBatch): void => this.startProbe(b, this.clock.now());

  /** Starts the batch's next probe under a permit the caller holds (released when it settles). */
  private startProbe(b: ProbeBatch, start: number): void {
    const service = b.services[b.next++] as ServiceName;
    let p: Promise<ProbeResult>;
    try {
      p = this.o.probe(b.entry.doc, service, this.abort.signal);
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
    const lag = this.lag !== undefined && !result.up ? this.lag.maxLagBetween(start, this.clock.now()) : 0;
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
    if (this.o.onEvent !== undefined) this.actuator.emit({ type: 'probe', server: b.entry.desired.name, result, unknown: isUnknown });
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
    let pass: ServerPass | Promise<ServerPass>;
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
  private passEnded(b: ProbeBatch, err: unknown, pass?: ServerPass): void {
    if (this.o.onPass !== undefined) this.o.onPass({ server: b.name, pass: b.pass, durationMs: this.clock.now() - b.start, failed: pass === undefined });
    if (pass === undefined) {
      this.passFailed(b.name, err, b.pass);
      this.serverDone(b.name);
      b.reject(err);
      return;
    }
    if (this.passFailures.size > 0 && !b.dryRun) this.passSucceeded(b.name);
    this.serverDone(b.name);
    b.resolve(pass);
  }


  /**
   * A pass failed (a journal append, a bug): counted, logged, shown in the server's status, and
   * the server probed again after a backoff — never left without a next probe time.
   */
  private passFailed(name: string, err: unknown, pass?: number): void {
    if (this.stopping || !this.servers.has(name)) return;
    const now = this.clock.now();
    const f = this.passFailures.failed(name, now, err);
    // Re-queued with backoff by the work queue (sooner only): never left without a next probe time.
    const { retryInMs } = this.queue.failed(name, now);
    this.o.logger.error({ err, server: name, failures: f.failures, retryInMs, pass }, 'server pass failed');
    this.actuator.emit({ type: 'pass-failed', server: name, failures: f.failures, retryInMs });
    this.armTimer();
    if (f.failures === 1) void this.writeStatus(name);
  }

  private passSucceeded(name: string): void {
    this.queue.succeeded(name);
    if (!this.passFailures.succeeded(name)) return;
    this.o.logger.info({ server: name }, 'server pass succeeded again');
    void this.writeStatus(name);
  }

  private serverDone(name: string): void {
    if (this.queue.done(name)) this.reschedule(name, this.clock.now(), true);
  }

  /** Decide and commit with no await in between; act only when there is more than the next probe time. */
  private afterProbe(
    name: string,
    entry: ServerEntry,
    probed: { observed: ObservedServer; results: number; unknown: number; pass: number },
    dryRun: boolean,
    awaitRemediation: boolean,
  ): ServerPass | Promise<ServerPass> {
    const { observed, results, unknown } = probed;
    // A journal write and commit for this server is in progress (a runbook's outcome): decide after it.
    const lane = this.lanes.size > 0 ? this.lanes.get(name) : undefined;
    if (lane !== undefined) return lane.then(noop, noop).then(() => this.afterProbe(name, entry, probed, dryRun, awaitRemediation));
    const now = this.clock.now();
    const fleet = this.fleet;
    const prevHistory = fleet.historyOf(name);
    const failing = serverFailing(entry.desired, observed, prevHistory);
    const policy = this.o.policy;
    let fleetActions: Action[] = NO_ACTIONS;
    let undoFleet = noop;
    // Only a change of this server's failing flag (or a canary) can open or clear an episode.
    if (!dryRun && this.o.coordinator !== undefined) this.o.coordinator.serverFailing(name, entry.doc.metadata.customer, entry.groupKeys, failing);
    if (!dryRun && (fleet.counts.set(name, entry.groupKeys, failing) || this.canariesChanged || this.massFailureStale)) {
      this.canariesChanged = false;
      this.massFailureStale = false;
      const step = this.fleetStepNow(now);
      fleetActions = step.actions;
      undoFleet = step.undo;
    }
    // Episodes mirror the counts exactly (fleetStep runs on every change): none open, none tripped.
    const pausedBy = fleet.history.massFailure.size === 0 && !dryRun ? undefined : fleet.counts.pausedBy(name, policy);
    const board = this.o.vantages;
    const vantage = board !== undefined ? board.contextFor(entry.desired, observed, prevHistory, now, this.servers.size, policy) : undefined;
    const ctx: ServerContext = { policy, now, fleetPowerActions: fleet.power.recent(now), pausedBy, ...(vantage !== undefined ? { vantage } : {}) };
    const decision = decideServer(entry.desired, observed, prevHistory, ctx);
    if (dryRun) return { actions: [...fleetActions, ...decision.actions], probes: results, unknown, failing, runs: NO_RUNS };
    this.certificateStep(name, entry, now);
    // The fleet's power runbooks are reserved at once (a decision made before this one's records
    // are in the journal must count them), and given back if the records never get there.
    fleet.power.add(decision.powerStarted);
    const commit = (): void => fleet.commit(name, decision.history);

    const actions = fleetActions.length > 0 ? [...fleetActions, ...decision.actions] : decision.actions;
    // The steady state has one action (probe-again-at): nothing to journal, nothing to await.
    if (actions.length <= 1) {
      commit();
      // A hold is shown in the status file: a pass that only changed why a Down service waits
      // (DestructiveWait → MassFailurePaused) has no transition to journal, but the file must follow.
      if (decision.history !== prevHistory && holdsDiffer(prevHistory, decision.history)) void this.track(this.writeStatus(name));
      if (this.o.onActions !== undefined) this.o.onActions(name, actions);
      this.reschedule(name, decision.nextProbeAt, decision.fast);
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
    const write = blocked ? Promise.reject(new MamoriError('MAMORI_STATE_UNWRITABLE')) : fenced ? Promise.reject(new MamoriError('MAMORI_CLUSTER_UNAVAILABLE')) : this.lanes.run(name, () => this.actuator.journalBatch(records));
    const journaled = write.then(commit, (err: unknown) => {
      if (fleetActions.length > 0) {
        undoFleet();
        this.massFailureStale = true;
      }
      for (const at of decision.powerStarted) fleet.power.refund(at);
      throw err;
    });
    return journaled
      .then(() => this.actuator.perform(name, actions, now, { awaitRemediation, journaled: true, pass: probed.pass }))
      .then((runs) => {
        this.reschedule(name, decision.nextProbeAt, decision.fast);
        const h = fleet.historyOf(name);
        return { actions, probes: results, unknown, failing, runs, seenEntry: entry, seenHistory: h, seenFailing: failingIn(entry, h) };
      });
  }

  /**
   * Certificates are judged apart from the service's state (never a Down, never a runbook): a new
   * certificate, a crossed warning threshold or a new problem rewrites the status file (the
   * conditions) and hands the outbox its mail, whose ids make each once-only across restarts.
   */
  private certificateStep(name: string, entry: ServerEntry, now: number): void {
    const observed = entry.observed;
    if (entry.certificates === undefined && (observed === undefined || !Object.values(observed).some((o) => o?.tls !== undefined))) return;
    const findings = certificateFindings(entry.desired.services, observed, this.o.certificates ?? { warningDays: DEFAULT_WARNING_DAYS }, now);
    const signature = certificateSignature(findings);
    if (signature === entry.certificates) return;
    entry.certificates = signature;
    const doc = entry.doc;
    const target = (service: ServiceName): string => {
      const t = probeTargetOf(doc, service, 0);
      return formatTarget(t.address, t.port ?? DEFAULT_PORTS[service as TcpServiceName]);
    };
    const mail = certificateNotifications(doc, findings, target, now);
    void this.track(
      (async () => {
        await this.writeStatus(name);
        for (const n of mail) {
          try {
            await this.o.notifier.notify(n);
          } catch (err) {
            this.o.logger.error({ err, id: n.id, kind: n.kind, server: name }, 'notification not queued');
          }
        }
      })(),
    );
  }

  /** The certificates the newest TLS probes saw: notAfter per server and service (the metrics read it at scrape time). */
  *certificateExpiries(): Generator<{ server: string; service: ServiceName; notAfterMs: number }> {
    for (const [server, entry] of this.servers) {
      if (entry.certificates === undefined || entry.observed === undefined) continue;
      for (const service of entry.desired.services) {
        const notAfter = entry.observed[service]?.tls?.notAfter;
        const ms = notAfter !== undefined ? Date.parse(notAfter) : Number.NaN;
        if (Number.isFinite(ms)) yield { server, service, notAfterMs: ms };
      }
    }
  }

  /**
   * The fleet's step (fleetStep over the counts as they stand): episodes opened or cleared now.
   * Servers of a cleared scope may be waiting on it: they are looked at again soon.
   */
  private fleetStepNow(now: number): { actions: Action[]; undo: () => void } {
    const step = this.fleet.step(this.o.policy, now);
    if (step.cleared.length > 0) for (const n of this.servers.keys()) if (this.hasHold(n, 'MassFailurePaused')) this.queue.addSooner(n, now);
    return { actions: step.actions, undo: step.undo };
  }

  private hasHold(name: string, hold: string): boolean {
    const h = this.fleet.historyOf(name);
    return h !== undefined && Object.values(h.services).some((s) => s?.hold === hold);
  }

  // ---- actions ----------------------------------------------------------------------------

  // ---- status -----------------------------------------------------------------------------

  private statusOf(name: string): ServerStatus | undefined {
    const entry = this.servers.get(name);
    if (entry === undefined) return undefined;
    const pausedBy = this.fleet.pausedBy(name, this.o.policy);
    const customer = entry.doc.metadata.customer;
    const observed = entry.observed;
    return serverStatusOf({
      ...(observed !== undefined ? { observed } : {}),
      desired: entry.desired,
      history: this.fleet.historyOf(name),
      revision: this.revision,
      now: this.clock.now(),
      ...(customer !== undefined ? { customer } : {}),
      ...(pausedBy !== undefined ? { pausedBy } : {}),
      ...(entry.conditions !== undefined ? { previous: entry.conditions } : {}),
      ...(entry.lastTransition !== undefined ? { lastTransition: entry.lastTransition } : {}),
      ...(entry.manifestInvalid !== undefined ? { manifestInvalid: entry.manifestInvalid } : {}),
      ...(this.passFailures.size > 0 && this.passFailures.get(name) !== undefined ? { passFailing: this.passFailures.get(name) } : {}),
      ...(this.o.certificates !== undefined ? { certificates: this.o.certificates } : {}),
      ...(entry.readiness !== undefined ? { readiness: entry.readiness } : {}),
    });
  }

  private async writeStatus(name: string): Promise<void> {
    const entry = this.servers.get(name);
    if (entry === undefined) return;
    if (!entry.loaded) {
      entry.loaded = true;
      try {
        const old = await this.o.store.read(name);
        if (old !== undefined) {
          entry.conditions ??= old.conditions;
          entry.lastTransition ??= old.lastTransition;
        }
      } catch (err) {
        this.o.logger.warn({ err, server: name }, 'old status file unreadable');
      }
    }
    const status = this.statusOf(name);
    if (status === undefined) return;
    entry.conditions = status.conditions;
    try {
      await this.o.store.write(status);
      this.actuator.emit({ type: 'status-written', server: name });
    } catch (err) {
      this.o.logger.error({ err, server: name }, 'status file not written');
    }
  }

  /** Writes every server's status file (at start, and after a new revision). */
  async writeAllStatus(options: { sweep?: boolean } = {}): Promise<void> {
    for (const name of this.servers.keys()) await this.writeStatus(name);
    if (options.sweep !== false) await this.sweepUnmonitored();
    for (const name of this.unmonitored.keys()) await this.writeUnmonitored(name);
  }

  private markUnmonitored(u: Unmonitored): void {
    this.unmonitored.set(u.name, u);
    this.o.logger.warn({ server: u.name, reason: u.reason }, 'server not monitored');
    if (this.started) void this.writeUnmonitored(u.name);
  }

  private async writeUnmonitored(name: string): Promise<void> {
    const u = this.unmonitored.get(name);
    if (u === undefined || this.servers.has(name)) return;
    try {
      const prev = await this.o.store.read(name).catch(() => undefined);
      await this.o.store.write(unmonitoredStatus(u, this.revision, this.clock.now(), prev));
    } catch (err) {
      this.o.logger.error({ err, server: name }, 'status file not written');
    }
  }

  /**
   * Status files of servers that are not in the desired state (after a restart: removed while the
   * daemon was down, or invalid with no last good manifest) say so; a removed server's file is
   * archived after UNMONITORED_RETENTION_MS.
   */
  private async sweepUnmonitored(): Promise<void> {
    let files: ServerStatus[];
    try {
      files = await this.o.store.list();
    } catch (err) {
      this.o.logger.warn({ err }, 'status folder unreadable');
      return;
    }
    const now = this.clock.now();
    for (const s of files) {
      const name = serverIdOf(s);
      if (this.servers.has(name) || this.unmonitored.has(name)) continue;
      const was = unmonitoredOf(s);
      if (was !== undefined && now - was.since > UNMONITORED_RETENTION_MS) {
        await this.o.store.archive(name).catch((err: unknown) => this.o.logger.warn({ err, server: name }, 'status file not archived'));
        continue;
      }
      const customer = s.metadata.customer;
      this.unmonitored.set(name, {
        name,
        ...(customer !== undefined ? { customer } : {}),
        ...(was ?? { reason: 'NotInDesiredState' as const, message: 'not in the applied manifests (removed, or invalid with no last good manifest)', since: now }),
      });
      if (was === undefined) this.o.logger.warn({ server: name, reason: 'NotInDesiredState' }, 'server not monitored');
    }
  }

  // ---- the local API ----------------------------------------------------------------------

  /** One pass over every server: probe all, decide, act (unless dry-run) and wait for the runbooks. */
  async reconcileOnce(options: { dryRun?: boolean; /** false: the runbooks started go on in the background (not in the summary). */ awaitRunbooks?: boolean } = {}): Promise<ReconcileSummary> {
    const dryRun = options.dryRun === true;
    const awaitRunbooks = !dryRun && options.awaitRunbooks !== false;
    const summary: ReconcileSummary = { dryRun, servers: 0, probes: 0, unknownProbes: 0, failing: [], actions: {}, runbooks: [], paused: [] };
    await this.probeCanaries();
    const names = [...this.servers.keys()];
    const results: ServerPass[] = new Array(names.length);
    // Servers are admitted while their probes find free permits (or when none of the pass's is in
    // flight), up to half the permits in servers: every permit busy, few probes waiting in the
    // semaphore (a fixed 256 servers x 6 services asked 1,536 probes of 512 permits and kept two in
    // three waiting: a quarter more CPU a pass), and permits freed by a server's fast probes are
    // taken by the next server while it waits for its slowest. The pass is one promise, for stop().
    const maxServers = Math.max(1, Math.min(names.length, Math.ceil(this.probes.limit / 2)));
    // The fleet's services a server (no lookup of each next server's manifest: that was the first,
    // cold touch of its data); the semaphore keeps the count exact whatever a server really has.
    const need = Math.max(1, Math.min(this.probes.limit, Math.round(this.servers.size > 0 ? this.serviceCount / this.servers.size : 1)));
    let unsubscribe = (): void => undefined;
    try {
      await this.track(
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
              void (this.queue.begin(name) ? this.reconcileServer(name, dryRun, awaitRunbooks) : this.afterBusy(name, dryRun, awaitRunbooks)).then(
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
    for (const [i, r] of results.entries()) {
      const name = names[i] as string;
      summary.servers++;
      summary.probes += r.probes;
      summary.unknownProbes += r.unknown;
      if (awaitRunbooks && r.runs.length > 0) for (const p of await Promise.allSettled(r.runs)) if (p.status === 'fulfilled') summary.runbooks.push(p.value);
      // After the runbooks: what still fails (a dry run reports what its probes saw).
      if (dryRun ? r.failing : this.stillFailing(name, r)) summary.failing.push(name);
      for (const a of r.actions) {
        summary.actions[a.type] = (summary.actions[a.type] ?? 0) + 1;
        if (dryRun && a.type === 'run-runbook') summary.runbooks.push({ server: a.server, target: a.target, incidentId: a.incidentId, attempt: a.attempt });
      }
      if (this.fleet.episodes().size > 0 && this.fleet.counts.pausedBy(name, this.o.policy) !== undefined) summary.paused.push(name);
    }
    return summary;
  }

  private stillFailing(name: string, r: ServerPass): boolean {
    const h = this.fleet.historyOf(name);
    const entry = this.servers.get(name);
    if (r.seenFailing !== undefined && r.seenHistory === h && r.seenEntry === entry) return r.seenFailing;
    return failingIn(entry, h);
  }

  private async afterBusy(name: string, dryRun: boolean, awaitRunbooks: boolean): Promise<ServerPass> {
    while (!this.queue.begin(name)) await new Promise((r) => setTimeout(r, 10));
    return this.track(this.reconcileServer(name, dryRun, awaitRunbooks));
  }

  /** Canaries are probed every interval on their own timer; a change may open or clear an episode. */
  private scheduleCanaries(first = false): void {
    if ((this.o.canaries ?? []).length === 0 || this.o.probeCanary === undefined || this.stopping) return;
    this.canaryTimer = this.clock.setTimeout(() => {
      this.canaryTimer = undefined;
      void this.track(
        this.probeCanaries()
          .then(async () => {
            if (!this.canariesChanged) return;
            this.canariesChanged = false;
            const now = this.clock.now();
            const step = this.fleetStepNow(now);
            try {
              await this.actuator.perform('', step.actions, now);
            } catch (err) {
              step.undo();
              this.massFailureStale = true;
              throw err;
            }
          })
          .catch((err: unknown) => this.o.logger.error({ err }, 'canary probe failed'))
          .finally(() => this.scheduleCanaries()),
      );
    }, first ? 0 : this.o.policy.intervalMs);
  }

  private async probeCanaries(): Promise<void> {
    const canaries = this.o.canaries ?? [];
    const probe = this.o.probeCanary;
    if (canaries.length === 0 || probe === undefined) return;
    await Promise.all(
      canaries.map(async (c) => {
        const r = await this.probes.run(() => probe(c, this.abort.signal));
        if (this.fleet.counts.setCanary(c.address, !r.up)) this.canariesChanged = true;
      }),
    );
  }

  /** Canaries are probed on their own timer by the daemon (or each reconcileOnce); this records one. */
  setCanaryResult(address: string, up: boolean): void {
    if (this.fleet.counts.setCanary(address, !up)) this.canariesChanged = true;
  }

  /** `mamori resume SERVER [SERVICE]`: releases Escalated/held services and reconciles the server now. */
  async resume(server: string, service?: ServiceName): Promise<ResumeResult> {
    const h = this.fleet.historyOf(server);
    if (!this.servers.has(server) || h === undefined) return { server, resumed: [] };
    const now = this.clock.now();
    const res = await this.lanes.run(server, async () => {
      const cur = this.fleet.historyOf(server) ?? h;
      const out = applyResume(server, cur, service, now);
      await this.actuator.journalBatch([
        { type: 'resume', server, ...(service !== undefined ? { service } : {}), resumed: out.resumed, at: now },
        ...recordsOf(out.actions, (s) => (s === server ? out.history : this.fleet.historyOf(s)), now),
      ]);
      this.fleet.commit(server, out.history, { recount: false });
      return out;
    });
    await this.actuator.perform(server, res.actions, now, { journaled: true });
    await this.writeStatus(server);
    if (this.started && !this.stopping) {
      this.queue.add(server, now);
      this.armTimer();
    }
    return { server, resumed: res.resumed };
  }

  status(): ControllerSnapshot {
    const servers: ServerStatus[] = [];
    for (const name of this.servers.keys()) {
      const s = this.statusOf(name);
      if (s !== undefined) servers.push(s);
    }
    return {
      revision: this.revision,
      servers,
      unmonitored: [...this.unmonitored.values()],
      massFailure: [...this.fleet.episodes().values()],
      inFlight: { probes: this.probes.inUse, remediations: this.remediations.permits.inUse, queued: this.queue.size },
    };
  }

  /** Counts for the metrics, read from the history itself at each scrape. */
  readonly gauges = {
    incidentsOpen: (): number => {
      let n = 0;
      for (const h of this.fleet.history.servers.values()) for (const k in h.services) if (h.services[k as ServiceName]?.incident !== undefined) n++;
      return n;
    },
    massFailureEpisodes: (): number => this.fleet.episodes().size,
    passesFailing: (): number => this.passFailures.size,
    unmonitored: (): Unmonitored[] => [...this.unmonitored.values()],
  };

  /** Resolves when no server pass and no runbook is in flight. Tests and the bench use it. */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0 || this.remediations.size > 0) await Promise.allSettled([...this.inFlight, ...this.remediations.promises()]);
  }

  /** For tests and the bench: the history as it stands. */
  historyOf(server: string): ServerHistory | undefined {
    return this.fleet.historyOf(server);
  }

  /** The server has a next probe time, or its pass is running now (the invariant tests check). */
  watching(server: string): boolean {
    return this.servers.has(server) && (this.queue.dueAt(server) !== undefined || this.queue.isProcessing(server));
  }

  /** What the readiness check (readiness-loop.ts) reads of a server, and where it writes its condition. */
  readonly readiness = {
    condition: (server: string): Condition | undefined => this.servers.get(server)?.conditions?.find((c) => c.type === 'RecoveryReady'),
    hostAnswers: (server: string): boolean | undefined => {
      const h = this.fleet.historyOf(server);
      const ups = Object.values(h?.services ?? {}).map((s) => s?.lastUp);
      return ups.includes(true) ? true : ups.includes(false) ? false : undefined;
    },
    monitorSuspect: (server: string): boolean => this.fleet.pausedBy(server, this.o.policy) !== undefined,
    setCondition: async (server: string, c: ConditionInput): Promise<void> => {
      const entry = this.servers.get(server);
      if (entry === undefined) return;
      entry.readiness = c;
      await this.writeStatus(server);
    },
  };

  /** When a server is next due (tests). */
  dueAt(server: string): number | undefined {
    return this.queue.dueAt(server);
  }
}

/** What of a manifest changes probing or repair: a change is reconciled at once. */
function desiredKey(d: DesiredServer): string {
  return JSON.stringify([d.address, d.services, d.suspend, d.suspendUntilMs, d.maintenance, d.location]);
}

function sameLocation(a: DesiredServer, b: DesiredServer): boolean {
  return a.location?.site === b.location?.site && a.location?.rack === b.location?.rack && a.location?.switch === b.location?.switch;
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


/** Whether any service's hold differs between two histories of one server. */
function holdsDiffer(prev: ServerHistory | undefined, next: ServerHistory): boolean {
  for (const key in next.services) {
    if (prev?.services[key as ServiceName]?.hold !== next.services[key as ServiceName]?.hold) return true;
  }
  if (prev !== undefined) for (const key in prev.services) if (!(key in next.services) && prev.services[key as ServiceName]?.hold !== undefined) return true;
  return false;
}
