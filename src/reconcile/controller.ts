/**
 * The controller: the facade that wires the loop's parts (see README.md) — the desired state in
 * (setDesired), start and stop, the queue's timer, and the local API (reconcileOnce, resume,
 * status). The judgement and the work are the parts': fleet-state.ts owns entries, histories and
 * the fleet-wide judgements; server-pass.ts probes, decides and commits one server; actuator.ts
 * journals first and acts second; remediations.ts runs the runbooks; status-files.ts writes the
 * status files; canaries.ts probes the canaries. controller-runtime's rules hold: a server is never
 * reconciled twice at once, and each pass recomputes from desired + observed (level-triggered).
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { ConditionInput } from '../status/conditions.ts';
import { ToldCauses } from './fault-side.ts';
import type { Condition, ServerStatus } from '../status/model.ts';
import { recordsOf } from './action-records.ts';
import { Actuator } from './actuator.ts';
import { Canaries } from './canaries.ts';
import { systemClock, type Clock } from './clock.ts';
import { fleetStep } from './decide.ts';
import { desiredFromManifest } from './desired.ts';
import { FleetState } from './fleet-state.ts';
import { createLagMonitor } from './lag-monitor.ts';
import { Lanes } from './lanes.ts';
import type { ControllerOptions, LoopContext, ReconcileSummary } from './loop-types.ts';
import { groupKeysOf } from './mass-failure.ts';
import { passBackoffMs, PassFailures } from './pass-retry.ts';
import { Remediations } from './remediations.ts';
import { replayJournal } from './replay.ts';
import { Semaphore } from './semaphore.ts';
import { ServerPasses } from './server-pass.ts';
import { StatusFiles } from './status-files.ts';
import { TranscriptLog } from './transcripts.ts';
import type { DesiredServer, MassFailureEpisode, ServerHistory } from './types.ts';
import type { Unmonitored, UnmonitoredReason } from './unmonitored.ts';
import { WorkQueue } from './work-queue.ts';

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
/** The shortest time between two of the scheduler's ticks on the real clock (servers due meanwhile start together, that much later at most). */
const TICK_GAP_MS = 10;
const noop = (): void => undefined;

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
  private readonly fleet: FleetState;
  private readonly servers: FleetState['servers'];
  /** The runbook transcripts, kept once: the status page reads them here (transcripts.ts). */
  readonly transcripts = new TranscriptLog();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Servers whose last pass failed: retried with backoff (pass-retry.ts), shown in status. */
  private readonly passFailures = new PassFailures();
  /** Per server, the journal write and commit in progress: the next decision for it waits (lanes.ts). */
  private readonly lanes = new Lanes();
  /** Services of all servers (reconcileOnce sizes its pool by the services per server). */
  private serviceCount = 0;
  private timer: unknown;
  private timerAt = Infinity;
  private started = false;
  private stopping = false;
  private readonly abort = new AbortController();
  /** Status files, and those of servers nobody probes (status-files.ts). */
  private readonly files: StatusFiles;
  /** One server's probes, decide and commit (server-pass.ts). */
  private readonly passes: ServerPasses;
  /** Probed on their own timer; any one down pauses everything (canaries.ts). */
  private readonly canaries: Canaries;
  /** The servers of the start not yet through one pass, and when scheduling started (the first round's end is logged). */
  private firstRound: { left: Set<string>; since: number } | undefined;

  constructor(options: ControllerOptions) {
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.probes = new Semaphore(options.probeConcurrency ?? 512);
    const shared = options.fleetJudgements;
    const power = shared?.power;
    this.fleet = new FleetState({ ...(shared?.counts !== undefined ? { counts: shared.counts } : {}), ...(power !== undefined ? { power: () => power } : {}) });
    this.servers = this.fleet.servers;
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
    this.files = new StatusFiles(this.ctx, { passFailures: this.passFailures, emit: (e) => this.actuator.emit(e) });
    this.remediations = new Remediations(this.ctx, { reschedule: (name, at, fast) => this.reschedule(name, at, fast), transcripts: this.transcripts, fleetGroups: () => this.fleet.groups() }, options.remediationConcurrency ?? 4);
    this.actuator = new Actuator(this.ctx, {
      writeStatus: (name) => this.files.write(name),
      launch: (a, pass) => this.remediations.launch(a, pass),
      transcript: (id) => this.remediations.transcript(id),
      claimCause: (server, reason, teller) => this.told.claim(server, reason, teller),
      releaseCauses: (server, teller) => this.told.release(server, teller),
    });
    this.remediations.wire(this.actuator);
    this.queue = new WorkQueue({ backoffMs: (failures) => passBackoffMs(failures, options.policy, this.random) });
    this.passes = new ServerPasses(this.ctx, {
      probes: this.probes,
      queue: this.queue,
      actuator: this.actuator,
      passFailures: this.passFailures,
      reschedule: (name, at, fast) => this.reschedule(name, at, fast),
      armTimer: () => this.armTimer(),
      writeStatus: (name) => this.files.write(name),
      looked: (name) => this.passLooked(name),
    });
    this.canaries = new Canaries(this.ctx, { probes: this.probes, actuator: this.actuator, fleetStep: (now) => this.passes.fleetStep(now) });
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
    this.files.revision = revision;
    const now = this.clock.now();
    const wanted = new Set<string>();
    let services = 0;
    for (const doc of docs) {
      const name = serverIdOf(doc);
      wanted.add(name);
      this.files.unmonitored.delete(name);
      const prev = this.servers.get(name);
      // The very same document (the loader reused an unchanged file's): what is derived from it stands.
      const same = prev !== undefined && prev.doc === doc;
      const desired = same ? prev.desired : desiredFromManifest(doc);
      services += desired.services.length;
      const groupKeys = prev !== undefined && (same || (prev.desired.address === desired.address && sameLocation(prev.desired, desired))) ? prev.groupKeys : (desired.groupKeys ?? groupKeysOf(desired));
      const manifestInvalid = extras.manifestInvalid?.get(name);
      this.fleet.setEntry(name, { ...(prev ?? { loaded: false }), doc, desired, groupKeys, manifestInvalid });
      // A refused manifest changes no probe result, so no transition would write the status file.
      if (prev !== undefined && this.started && prev.manifestInvalid !== manifestInvalid) void this.files.write(name);
      if (!this.started) continue;
      const policy = this.o.policy;
      if (prev === undefined) this.queue.add(name, now + this.random() * policy.retryMs);
      else if (!same && desiredKey(prev.desired) !== desiredKey(desired)) this.queue.addSooner(name, now);
      else {
        // Unchanged: keep its phase, unless it is due later than one (maybe new, shorter) interval
        // from now; then spread it over that interval (no thundering herd on a revision or reload).
        const due = this.queue.dueAt(name);
        if (due === undefined || due > now + policy.intervalMs * (1 + policy.jitter)) this.queue.add(name, now + this.random() * policy.intervalMs);
      }
    }
    this.serviceCount = services;
    for (const [name, why] of extras.notMonitored ?? []) {
      if (wanted.has(name) || this.servers.has(name) || this.files.unmonitored.get(name)?.reason === why.reason) continue;
      this.files.markUnmonitored({ name, ...(why.customer !== undefined ? { customer: why.customer } : {}), reason: why.reason, message: why.message, since: now }, this.started);
    }
    const removed: Array<{ name: string; history: ServerHistory | undefined }> = [];
    for (const name of [...this.servers.keys()]) {
      if (wanted.has(name)) continue;
      this.queue.forget(name);
      this.passFailures.forget(name);
      const gone = this.fleet.removeServer(name);
      const why = extras.notMonitored?.get(name) ?? { reason: 'Removed' as const, message: `removed from the manifests at revision ${revision.slice(0, 19)}` };
      this.files.markUnmonitored({ name, ...(gone.entry?.doc.metadata.customer !== undefined ? { customer: gone.entry.doc.metadata.customer } : {}), reason: why.reason, message: why.message, since: now }, this.started);
      removed.push({ name, history: gone.history });
      this.firstRoundPassed(name);
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
      interrupted = await this.remediations.recoverUnfinished(r.unfinished);
      this.fleet.recount();
    }
    // The event loop's own lag decides whether a failed probe can be trusted (a timer drift check;
    // tests inject theirs). Only on the real clock: a fake clock's timers do not drift.
    if (this.passes.lag === undefined && this.o.clock === undefined) this.passes.lag = createLagMonitor(systemClock);
    // `mamori reconcile --once` and `resume` in-process: the journal is replayed, nothing is scheduled.
    if (options.schedule === false) return { replayed, interrupted };
    // Canaries first: a monitor whose own network is broken must know it before it repairs anything.
    this.canaries.schedule(true);
    this.started = true;
    const now = this.clock.now();
    for (const [name] of this.servers) {
      const h = this.fleet.historyOf(name);
      const urgent = h !== undefined && Object.values(h.services).some((s) => s !== undefined && s.state !== 'Healthy');
      // Spread the first round over one interval (no thundering herd); servers with trouble go first.
      this.queue.add(name, now + (urgent ? 0 : this.random() * this.o.policy.intervalMs));
    }
    this.firstRound = { left: new Set(this.servers.keys()), since: now };
    this.armTimer();
    this.o.logger.info({ servers: this.servers.size, replayed, interrupted }, 'reconciler started');
    this.firstRoundPassed(undefined);
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
    const all = Promise.allSettled([...this.inFlight, ...this.remediations.promises(), this.passes.idle()]);
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
    this.passes.lag?.stop();
    this.canaries.stop();
    this.o.logger.info({ timedOut }, 'reconciler stopped');
  }

  // ---- scheduling -------------------------------------------------------------------------

  private armTimer(): void {
    if (!this.started || this.stopping) return;
    const due = this.queue.peekTime();
    if (due === undefined) return;
    // On the real clock, ticks at least TICK_GAP_MS apart: at 10,000 servers one is due every 3 ms
    // on average, and each tick is a wakeup of the event loop of its own.
    const next = this.o.clock === undefined ? Math.max(due, this.lastTick + TICK_GAP_MS) : due;
    if (this.timer !== undefined && next >= this.timerAt) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.tick();
    }, next - this.clock.now());
  }

  private lastTick = 0;

  private tick(): void {
    if (this.stopping) return;
    const now = this.clock.now();
    this.lastTick = now;
    // Never twice at once: a server due while its pass runs is handed back when that pass ends.
    for (const name of this.queue.take(now, this.o.onLate === undefined ? undefined : this.late)) {
      if (!this.servers.has(name)) {
        this.queue.done(name);
        continue;
      }
      // A failed pass is logged, counted and retried by passFailed (probesSettled): nothing to add here.
      this.passes.start(name);
    }
    this.armTimer();
  }

  /**
   * A server went through a pass. Its file is written by its first pass at the latest — a pass
   * that changed nothing (a restart, the history already Healthy) writes it then — so every file
   * names this run's revision and state by the end of the first round, without a whole-fleet
   * write at start that competes with the round for the same core. The round counts it once written.
   */
  private passLooked(name: string): void {
    const entry = this.servers.get(name);
    if (entry === undefined || entry.firstPassShown === true) {
      this.firstRoundPassed(name);
      return;
    }
    entry.firstPassShown = true;
    // Already written from this pass (its transitions, a certificate): not twice. A file written
    // before the pass's commit (a certificate seen first) still lacks it, and is written again.
    const w = entry.written;
    if (w !== undefined && w.observedSeq === entry.observedSeq && w.history === this.fleet.historyOf(name)) {
      this.firstRoundPassed(name);
      return;
    }
    void this.track(this.files.write(name).finally(() => this.firstRoundPassed(name)));
  }

  /**
   * A server went through its pass (or left): once every server of the start has, the first round
   * is logged with its duration — from the start, how long until the whole fleet was looked at.
   */
  private firstRoundPassed(name: string | undefined): void {
    const round = this.firstRound;
    if (round === undefined) return;
    if (name !== undefined) round.left.delete(name);
    if (round.left.size > 0) return;
    this.firstRound = undefined;
    this.o.logger.info({ servers: this.servers.size, durationMs: this.clock.now() - round.since }, 'first round complete');
  }

  /** Servers of the start not yet through one pass (undefined once every one has been). */
  get firstRoundLeft(): number | undefined {
    return this.firstRound?.left.size;
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

  /** Writes every server's status file (`mamori reconcile --once`, and at stop). */
  writeAllStatus(options: { sweep?: boolean } = {}): Promise<void> {
    return this.files.writeAll(options);
  }

  /**
   * At start: the files of servers nobody probes (removed while the daemon was down, outside the
   * target networks, no valid manifest) say so, and old ones are archived; the probed servers'
   * files are written by their first pass (passLooked). In the background, tracked: a stop waits for it.
   */
  writeStartStatus(): Promise<void> {
    return this.track(this.files.writeUnmonitoredAll());
  }

  // ---- the local API ----------------------------------------------------------------------

  /** One pass over every server: probe all, decide, act (unless dry-run) and wait for the runbooks. */
  async reconcileOnce(
    options: {
      dryRun?: boolean;
      /** false: the runbooks started go on in the background (not in the summary). */
      awaitRunbooks?: boolean;
      /** Replicas: the servers of this replica's shard only (the others are another's to report). */
      only?: (server: string) => boolean;
    } = {},
  ): Promise<ReconcileSummary> {
    const dryRun = options.dryRun === true;
    const awaitRunbooks = !dryRun && options.awaitRunbooks !== false;
    const summary: ReconcileSummary = { dryRun, servers: 0, probes: 0, unknownProbes: 0, failing: [], actions: {}, runbooks: [], paused: [] };
    await this.canaries.probe();
    const only = options.only;
    const names = only !== undefined ? [...this.servers.keys()].filter((n) => only(n)) : [...this.servers.keys()];
    const results = await this.passes.runAll(names, dryRun, awaitRunbooks, this.servers.size > 0 ? this.serviceCount / this.servers.size : 1);
    for (const [i, r] of results.entries()) {
      const name = names[i] as string;
      summary.servers++;
      summary.probes += r.probes;
      summary.unknownProbes += r.unknown;
      if (awaitRunbooks && r.runs.length > 0) for (const p of await Promise.allSettled(r.runs)) if (p.status === 'fulfilled') summary.runbooks.push(p.value);
      // After the runbooks: what still fails (a dry run reports what its probes saw).
      if (dryRun ? r.failing : this.passes.stillFailing(name, r)) summary.failing.push(name);
      for (const a of r.actions) {
        summary.actions[a.type] = (summary.actions[a.type] ?? 0) + 1;
        if (dryRun && a.type === 'run-runbook') summary.runbooks.push({ server: a.server, target: a.target, incidentId: a.incidentId, attempt: a.attempt });
      }
      if (this.fleet.episodes().size > 0 && this.fleet.counts.pausedBy(name, this.o.policy) !== undefined) summary.paused.push(name);
    }
    return summary;
  }

  /** Canaries are probed on their own timer by the daemon (or each reconcileOnce); this records one. */
  setCanaryResult(address: string, up: boolean): void {
    this.fleet.setCanary(address, up);
  }

  /** The certificates the newest TLS probes saw: notAfter per server and service (the metrics read it at scrape time). */
  certificateExpiries(): Generator<{ server: string; service: ServiceName; notAfterMs: number }> {
    return this.fleet.certificateExpiries();
  }

  /** `mamori resume SERVER [SERVICE]`: releases Escalated/held services and reconciles the server now. */
  async resume(server: string, service?: ServiceName): Promise<ResumeResult> {
    if (!this.servers.has(server) || this.fleet.historyOf(server) === undefined) return { server, resumed: [] };
    const now = this.clock.now();
    const resumed = await this.remediations.resume(server, service, now);
    await this.files.write(server);
    if (this.started && !this.stopping) {
      this.queue.add(server, now);
      this.armTimer();
    }
    return { server, resumed };
  }

  /** One server's status as its file would be written now (replicas publish it on change). */
  statusOf(server: string): ServerStatus | undefined {
    return this.files.statusOf(server);
  }

  status(): ControllerSnapshot {
    const servers: ServerStatus[] = [];
    for (const name of this.servers.keys()) {
      const s = this.files.viewOf(name);
      if (s !== undefined) servers.push(s);
    }
    this.files.pruneViews();
    return {
      revision: this.files.revision,
      servers,
      unmonitored: [...this.files.unmonitored.values()],
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
    unmonitored: (): Unmonitored[] => [...this.files.unmonitored.values()],
  };

  /** Resolves when no server pass and no runbook is in flight. Tests and the bench use it. */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0 || this.remediations.size > 0 || this.passes.running > 0) await Promise.allSettled([...this.inFlight, ...this.remediations.promises(), this.passes.idle()]);
  }

  /** The manifest a server is watched from (by its id), for a takeover's look at the host. */
  documentOf(server: string): ServerDocument | undefined {
    return this.servers.get(server)?.doc;
  }

  /** For tests and the bench: the history as it stands. */
  historyOf(server: string): ServerHistory | undefined {
    return this.fleet.historyOf(server);
  }

  /** The server has a next probe time, or its pass is running now (the invariant tests check). */
  watching(server: string): boolean {
    return this.servers.has(server) && (this.queue.dueAt(server) !== undefined || this.queue.isProcessing(server));
  }

  /** Who told which fault of which server (repairs and the readiness check): one message per cause. */
  private readonly told = new ToldCauses();

  /** What the readiness check (readiness-loop.ts) reads of a server, and where it writes its condition. */
  readonly readiness = {
    claimCause: (server: string, cause: string): boolean => this.told.claim(server, cause, 'readiness'),
    releaseCauses: (server: string): void => this.told.release(server),
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
      await this.files.write(server);
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

