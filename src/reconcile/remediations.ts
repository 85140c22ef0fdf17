/**
 * Remediations: runbook attempts under permits (remediation.concurrency), each run in the
 * background — journal `started`, execute, journal the end — and its outcome fed back by callback
 * through the pure `applyOutcome`, committed after its records are in the journal, then carried out
 * by the actuator. At most once: an attempt whose `started` was written is never run again.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { Transcript, Verdict } from '../runbook/execution.ts';
import type { RenderedRunbook } from '../runbook/types.ts';
import type { JournalEntry } from '../status/journal.ts';
import { recordsOf } from './action-records.ts';
import type { Actuator } from './actuator.ts';
import { applyOutcome, applyResume, serviceOfTarget } from './decide-outcome.ts';
import type { LoopContext, RunbookRun } from './loop-types.ts';
import { passBackoffMs } from './pass-retry.ts';
import type { UnfinishedAttempt } from './replay.ts';
import { Semaphore } from './semaphore.ts';
import type { TranscriptLog } from './transcripts.ts';
import type { Action, AttemptStep, RemediationTarget } from './types.ts';

/** A transcript's steps with their times in ms (a step whose times do not parse is left out). */
export function stepTimes(t: Transcript): AttemptStep[] {
  const out: AttemptStep[] = [];
  for (const s of t.steps) {
    const startedAt = Date.parse(s.startedAt);
    const finishedAt = Date.parse(s.finishedAt);
    if (Number.isFinite(startedAt) && Number.isFinite(finishedAt)) out.push({ id: s.id, startedAt, finishedAt, outcome: s.outcome });
  }
  return out;
}

interface RunningRemediation {
  key: string;
  promise: Promise<void>;
  /** Its `started` record is written. */
  started: boolean;
}

export interface RemediationsDeps {
  /** An attempt ended (or never began): its server is looked at again now. */
  reschedule(server: string, at: number, fast: boolean): void;
  transcripts: TranscriptLog;
  /** Every server's group keys by server key (the cluster's fleet-wide counts). */
  fleetGroups(): Map<string, readonly string[]>;
}

const noop = (): void => undefined;

export class Remediations {
  readonly permits: Semaphore;
  private readonly running = new Map<string, RunningRemediation>();
  /** The one transcript store (transcripts.ts): by incident for its mail, recent ones for the page. */
  private readonly transcripts: TranscriptLog;
  /** `incidentId#attempt` of every attempt started (from the journal at start, and since). */
  readonly startedKeys = new Set<string>();
  private readonly interruptedKeys = new Set<string>();
  private actuator!: Actuator;

  constructor(
    private readonly ctx: LoopContext,
    private readonly deps: RemediationsDeps,
    concurrency: number,
  ) {
    this.permits = new Semaphore(concurrency);
    this.transcripts = deps.transcripts;
  }

  /** The actuator that carries out outcomes' actions (the two call each other: set once, at wiring). */
  wire(actuator: Actuator): void {
    this.actuator = actuator;
  }

  get size(): number {
    return this.running.size;
  }

  /** The attempts in flight, settled (never rejected) when each ends. */
  promises(): Promise<void>[] {
    return [...this.running.values()].map((r) => r.promise);
  }

  transcript(incidentId: string): Transcript | undefined {
    return this.transcripts.get(incidentId);
  }

  /**
   * After a journal replay: every attempt `started` and never finished is journaled `interrupted`
   * and folded in as spent and as having acted (unknown what it did before the crash). It is never
   * run again: the service is re-probed first. Returns how many there were.
   */
  async recoverUnfinished(unfinished: readonly UnfinishedAttempt[]): Promise<number> {
    const { fleet, clock } = this.ctx;
    const now = clock.now();
    let interrupted = 0;
    for (const u of unfinished) {
      await this.actuator.journal({ type: 'interrupted', server: u.server, target: u.target, incidentId: u.incidentId, attempt: u.attempt, reason: 'daemon-restarted', at: now });
      interrupted++;
      const h = fleet.historyOf(u.server);
      if (h === undefined) continue;
      const res = applyOutcome(u.server, h, { target: u.target, incidentId: u.incidentId, attempt: u.attempt, verdict: 'Interrupted', acted: true, powerActions: 1, at: now });
      await this.actuator.journalBatch(recordsOf(res.actions, (s) => (s === u.server ? res.history : fleet.historyOf(s)), now));
      fleet.commit(u.server, res.history, { recount: false });
      await this.actuator.perform(u.server, res.actions, now, { journaled: true });
    }
    return interrupted;
  }

  /**
   * `mamori resume SERVER [SERVICE]`: an operator's release of Escalated/held services (the pure
   * `applyResume`), journaled and committed in the server's lane, then carried out.
   */
  async resume(server: string, service: ServiceName | undefined, now: number): Promise<ServiceName[]> {
    const fleet = this.ctx.fleet;
    const h = fleet.historyOf(server);
    if (h === undefined) return [];
    const res = await this.ctx.lanes.run(server, async () => {
      const cur = fleet.historyOf(server) ?? h;
      const out = applyResume(server, cur, service, now);
      await this.actuator.journalBatch([
        { type: 'resume', server, ...(service !== undefined ? { service } : {}), resumed: out.resumed, at: now },
        ...recordsOf(out.actions, (s) => (s === server ? out.history : fleet.historyOf(s)), now),
      ]);
      fleet.commit(server, out.history, { recount: false });
      return out;
    });
    await this.actuator.perform(server, res.actions, now, { journaled: true });
    return res.resumed;
  }

  /**
   * At stop's deadline: every attempt still running whose `started` is written is journaled
   * `interrupted` now (its own end, if it comes, is then not journaled again).
   */
  async interruptRunning(): Promise<void> {
    for (const r of this.running.values()) {
      if (!r.started) continue;
      this.interruptedKeys.add(r.key);
      const [server, target, incidentId, attempt] = r.key.split('|');
      // A failed append leaves `started` without an end: the next start journals it interrupted.
      await this.actuator.journal({ type: 'interrupted', server, target, incidentId, attempt: Number(attempt), reason: 'stop-deadline', at: this.ctx.clock.now() }).catch(noop);
    }
  }

  /** Waits `ms` on the controller's clock (tests run it by hand), or until the controller stops. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.ctx.abort.signal;
      if (signal.aborted) return resolve();
      const t = this.ctx.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        this.ctx.clock.clearTimeout(t);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Runs one attempt in the background: journal `started`, execute, journal `finished`, feed back. */
  launch(a: Extract<Action, { type: 'run-runbook' }>, pass?: number): Promise<RunbookRun> {
    const key = `${a.server}|${a.target}|${a.incidentId}|${a.attempt}`;
    const startedKey = `${a.incidentId}#${a.attempt}`;
    const base = { server: a.server, target: a.target, incidentId: a.incidentId, attempt: a.attempt };
    const promise = (async (): Promise<RunbookRun> => {
      await this.permits.acquire();
      try {
        if (this.ctx.stopping()) return base;
        if (this.startedKeys.has(startedKey)) {
          // Never started twice (a belt to decide's braces): the attempt counts as interrupted.
          const verdict: Verdict = 'Interrupted';
          await this.finish(a, { verdict, acted: false, powerActions: 0, transcript: undefined });
          return { ...base, verdict };
        }
        const entry = this.ctx.fleet.servers.get(a.server);
        if (entry === undefined) return base;
        this.startedKeys.add(startedKey);
        // Sharing the fleet: the fenced claim and intent in etcd come before the `started` record.
        const grant = await this.ctx.o.coordinator?.beginAttempt({ ...base, customer: entry.doc.metadata.customer, destructive: a.destructive, fleet: this.deps.fleetGroups(), now: this.ctx.clock.now() });
        if (grant !== undefined && !grant.ok && !grant.escalate) {
          this.ctx.o.logger.warn({ server: a.server, target: a.target, incident: a.incidentId, attempt: a.attempt, reason: grant.reason, pass }, 'runbook not started: refused by the cluster');
          const verdict: Verdict = 'Interrupted';
          // Not an attempt: it is taken back (decide tries again on a later pass, nothing spent).
          this.startedKeys.delete(startedKey);
          await this.finish(a, { verdict, acted: false, powerActions: 0, transcript: undefined, notStarted: true }, { type: 'interrupted', ...base, reason: 'not-started', at: this.ctx.clock.now() });
          return { ...base, verdict };
        }
        const startedAt = this.ctx.clock.now();
        try {
          await this.actuator.journal({ type: 'started', ...base, destructive: a.destructive, at: startedAt });
        } catch {
          // Not one step runs without its `started` record. The attempt never began: it ends here,
          // charged nothing, so that decide re-probes and the next attempt can run.
          this.ctx.o.logger.error({ server: a.server, target: a.target, incident: a.incidentId, attempt: a.attempt, pass }, 'runbook not started: its started record was not journaled');
          if (grant?.ok === true) await grant.end('not-started').catch(noop);
          const verdict: Verdict = 'Interrupted';
          await this.finish(a, { verdict, acted: false, powerActions: 0, transcript: undefined }, { type: 'interrupted', ...base, reason: 'not-started', at: this.ctx.clock.now() });
          return { ...base, verdict };
        }
        const run = this.running.get(key);
        if (run !== undefined) run.started = true;
        this.actuator.emit({ type: 'remediation-started', ...base });
        this.ctx.o.logger.info({ server: a.server, target: a.target, incident: a.incidentId, attempt: a.attempt, pass }, 'runbook started');
        const seen: { confirmedAt?: number } = {};
        const transcript = await this.execute(entry.doc, a.target, grant !== undefined && !grant.ok ? grant.reason : undefined, seen, grant?.ok === true ? grant.mayAct : undefined);
        const at = this.ctx.clock.now();
        // The incident's phases: each step's times, and the outside probe that confirmed the recovery.
        const steps = stepTimes(transcript);
        const confirmedAt = transcript.verdict === 'Recovered' ? seen.confirmedAt : undefined;
        const verdict = transcript.verdict;
        if (grant?.ok === true) await grant.end(verdict).catch(noop);
        // stop() may already have journaled it interrupted at its deadline: one end per start.
        let end: JournalEntry | undefined;
        if (verdict === 'Interrupted') {
          end = { type: 'interrupted', ...base, reason: 'stopping', at };
        } else {
          end = {
            type: 'finished',
            ...base,
            verdict,
            acted: transcript.acted,
            powerActions: transcript.powerActions.length,
            message: transcript.message,
            runbook: transcript.runbook,
            steps: transcript.steps.map((s) => ({
              id: s.id,
              kind: s.kind,
              outcome: s.outcome,
              ...(s.command !== undefined ? { command: s.command } : {}),
              ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
              startedAt: s.startedAt,
              finishedAt: s.finishedAt,
            })),
            ...(confirmedAt !== undefined ? { confirmedAt } : {}),
            at,
          };
        }
        this.actuator.emit({ type: 'remediation-finished', ...base, verdict, durationMs: at - startedAt });
        this.ctx.o.logger.info({ server: a.server, target: a.target, incident: a.incidentId, attempt: a.attempt, verdict, pass }, 'runbook finished');
        // Also while stopping: a runbook that recovered the service during shutdown still closes its
        // incident and tells the customer (the daemon stops the outbox after the controller).
        if (!this.interruptedKeys.has(key)) await this.finish(a, { verdict, acted: transcript.acted, powerActions: transcript.powerActions.length, transcript, steps, ...(confirmedAt !== undefined ? { confirmedAt } : {}) }, end);
        return { ...base, verdict };
      } finally {
        this.permits.release();
        this.running.delete(key);
        if (!this.ctx.stopping() && this.ctx.fleet.servers.has(a.server)) this.deps.reschedule(a.server, this.ctx.clock.now(), true);
      }
    })();
    this.running.set(key, { key, started: false, promise: promise.then(() => undefined, () => undefined) });
    return promise;
  }

  /** `escalate`: the cluster refused the attempt for a person to decide; nothing runs. */
  private async execute(doc: ServerDocument, target: RemediationTarget, escalate: string | undefined, seen: { confirmedAt?: number }, mayAct?: () => string | undefined): Promise<Transcript> {
    const startedAt = new Date(this.ctx.clock.now()).toISOString();
    const service = serviceOfTarget(target);
    const failed = (verdict: Verdict, message: string): Transcript => ({
      runbook: '',
      origin: 'standard',
      server: doc.metadata.name,
      service,
      startedAt,
      finishedAt: new Date(this.ctx.clock.now()).toISOString(),
      verdict,
      message,
      steps: [],
      evidence: {},
      acted: false,
      powerActions: [],
    });
    if (escalate !== undefined) return failed('Escalated', escalate);
    let runbook: RenderedRunbook | Error;
    try {
      runbook = await this.ctx.o.renderRunbook(doc, target);
    } catch (err) {
      runbook = err instanceof Error ? err : new Error(String(err));
    }
    if (runbook instanceof Error) {
      this.ctx.o.logger.error({ err: runbook, server: serverIdOf(doc), target }, 'runbook could not be rendered');
      return failed('Escalated', `no runbook could be rendered: ${runbook.message}`);
    }
    try {
      return await this.ctx.o.executor.execute({
        server: doc,
        runbook,
        probe: async (svc) => {
          const r = await this.ctx.o.probe(doc, svc, this.ctx.abort.signal);
          // The last passing outside probe of the repaired service is the one that confirmed it.
          if (r.up && svc === service) seen.confirmedAt = this.ctx.clock.now();
          return r.failure !== undefined ? { up: r.up, message: r.failure.message } : { up: r.up };
        },
        signal: this.ctx.abort.signal,
        ...(mayAct !== undefined ? { mayAct } : {}),
        logger: this.ctx.o.logger, // the executor binds server, service and runbook itself
      });
    } catch (err) {
      // An executor reports verdicts; a throw is a bug. Count the attempt, act no further on it.
      this.ctx.o.logger.error({ err, server: serverIdOf(doc), target }, 'executor threw');
      return this.ctx.abort.signal.aborted ? failed('Interrupted', 'stopped') : failed('StepFailed', 'the executor failed');
    }
  }

  /**
   * Folds an attempt's verdict into the history: its end record (`end`) and the outcome's records
   * in one journal write, then the commit. A write that fails is retried with backoff (the attempt
   * stays open in memory, decide waits for it) until it is in, or the controller stops (then the
   * journal has `started` without an end, and the next start journals it interrupted).
   */
  private async finish(
    a: Extract<Action, { type: 'run-runbook' }>,
    r: { verdict: Verdict; acted: boolean; powerActions: number; transcript: Transcript | undefined; notStarted?: boolean; steps?: AttemptStep[]; confirmedAt?: number },
    end?: JournalEntry,
  ): Promise<void> {
    if (r.transcript !== undefined) this.transcripts.set(a.incidentId, r.transcript, a.server);
    for (let failures = 1; ; failures++) {
      let done: { actions: readonly Action[]; now: number } | undefined;
      try {
        done = await this.ctx.lanes.run(a.server, () => this.finishOnce(a, r, end));
      } catch (err) {
        if (this.ctx.stopping()) return;
        const retryInMs = passBackoffMs(failures, this.ctx.o.policy, this.ctx.random);
        this.ctx.o.logger.error({ err, server: a.server, target: a.target, incident: a.incidentId, attempt: a.attempt, failures, retryInMs }, 'runbook outcome not journaled');
        await this.sleep(retryInMs);
        continue;
      }
      if (done === undefined) return;
      await this.actuator.perform(a.server, done.actions, done.now, { journaled: true });
      if (done.actions.some((x) => x.type === 'close-incident')) this.transcripts.delete(a.incidentId);
      return;
    }
  }

  private async finishOnce(
    a: Extract<Action, { type: 'run-runbook' }>,
    r: { verdict: Verdict; acted: boolean; powerActions: number; notStarted?: boolean; steps?: AttemptStep[]; confirmedAt?: number },
    end: JournalEntry | undefined,
  ): Promise<{ actions: readonly Action[]; now: number } | undefined> {
    const now = this.ctx.clock.now();
    const h = this.ctx.fleet.historyOf(a.server);
    if (h === undefined) {
      if (end !== undefined) await this.actuator.journalBatch([end]);
      return undefined;
    }
    const res = applyOutcome(a.server, h, {
      target: a.target,
      incidentId: a.incidentId,
      attempt: a.attempt,
      verdict: r.verdict,
      acted: r.acted,
      powerActions: r.powerActions,
      at: now,
      ...(r.notStarted === true ? { notStarted: true } : {}),
      ...(r.steps !== undefined ? { steps: r.steps } : {}),
      ...(r.confirmedAt !== undefined ? { confirmedAt: r.confirmedAt } : {}),
    });
    const records = recordsOf(res.actions, (s) => (s === a.server ? res.history : this.ctx.fleet.historyOf(s)), now);
    await this.actuator.journalBatch(end !== undefined ? [end, ...records] : records);
    this.ctx.fleet.commit(a.server, res.history);
    if (res.refundFleetPowerAt !== undefined) this.ctx.fleet.power.refund(res.refundFleetPowerAt);
    return { actions: res.actions, now };
  }
}
