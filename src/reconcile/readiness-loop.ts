/**
 * The readiness check on a schedule, in the daemon: every server once per interval at its own
 * offset (readiness-schedule.ts), at once when its manifest or one of its secrets changes, under
 * a small concurrency of its own (apart from the probes and the runbooks). Each report is judged
 * (readiness-verdict.ts), the `RecoveryReady` condition goes into the server's status, and the
 * mails of readiness-notices.ts go to the outbox (once per cause; ids make them once-only across
 * restarts too). A server whose readiness comes back with a service held for a precondition
 * (a secret missing, login refused) is resumed: its repair may run again.
 */
import type { Logger } from '../log.ts';
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerDocument } from '../manifest/types.ts';
import type { Notification, Notifier } from '../notify/types.ts';
import type { ReadinessReport } from '../runbook/readiness.ts';
import type { ConditionInput } from '../status/conditions.ts';
import type { Condition } from '../status/model.ts';
import { buildReadinessNotification } from './notifications.ts';
import { readinessStep } from './readiness-notices.ts';
import { dueAt } from './readiness-schedule.ts';
import { judgeReadiness } from './readiness-verdict.ts';

/** What the loop reads from and writes to the reconciler. */
export interface ReadinessHost {
  /** The server's RecoveryReady condition as its status has it (with lastTransitionTime). */
  condition(id: string): Condition | undefined;
  setCondition(id: string, c: ConditionInput): Promise<void>;
  /** Whether the server answered any probe lately; undefined = not probed yet. */
  hostAnswers(id: string): boolean | undefined;
  /** The server is in a tripped mass-failure scope (mamori's own network is the likely fault). */
  monitorSuspect(id: string): boolean;
  /** One message per fault: false when a repair told this cause already (fault-side ToldCauses). */
  claimCause(id: string, cause: string): boolean;
  /** Ready again: every fault of the server may be told again. */
  releaseCauses(id: string): void;
  /** Ready again: release the services held for a precondition (mamori resume). */
  releasePreconditionHolds(id: string): Promise<void>;
}

export interface ReadinessLoopOptions {
  intervalMs: number;
  concurrency: number;
  check: (doc: ServerDocument) => Promise<ReadinessReport>;
  host: ReadinessHost;
  notifier: Notifier;
  operatorEmail?: string;
  logger: Logger;
  now?: () => number;
}

interface Entry {
  doc: ServerDocument;
  key: string;
  secretRefs: Set<string>;
  lastCheckedAt?: number;
  changedAt?: number;
}

/** The secretRefs a server's check reads. */
function secretRefsOf(doc: ServerDocument): Set<string> {
  const refs = new Set<string>([doc.spec.access.credentials.secretRef]);
  const sudo = doc.spec.access.sudo?.password?.secretRef;
  if (sudo !== undefined) refs.add(sudo);
  const c = doc.spec.console?.credentials?.secretRef;
  if (c !== undefined) refs.add(c);
  for (const ref of Object.values(doc.spec.secrets ?? {})) if (ref?.secretRef !== undefined) refs.add(ref.secretRef);
  return refs;
}

/** Longest sleep between looks at the schedule (a change arrives through `kick`). */
const MAX_SLEEP_MS = 60_000;

export class ReadinessLoop {
  private readonly servers = new Map<string, Entry>();
  private readonly running = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The first setServers laid the schedule: servers seen after it are new or changed. */
  private laid = false;
  private readonly now: () => number;

  constructor(private readonly o: ReadinessLoopOptions) {
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** The applied servers: a new or changed manifest is checked at once (after the start's grace). */
  setServers(docs: readonly ServerDocument[]): void {
    const now = this.now();
    const seen = new Set<string>();
    // Decided once for the whole call: the first call's servers take their slots (a restarted
    // daemon does not check its whole fleet when the start's grace ends), later ones are checked now.
    const armed = this.laid;
    this.laid = true;
    for (const doc of docs) {
      const id = serverIdOf(doc);
      seen.add(id);
      const key = JSON.stringify(doc.spec);
      const prev = this.servers.get(id);
      if (prev === undefined) this.servers.set(id, { doc, key, secretRefs: secretRefsOf(doc), ...(armed ? { changedAt: now } : {}) });
      else if (prev.key !== key) Object.assign(prev, { doc, key, secretRefs: secretRefsOf(doc), changedAt: now });
      else prev.doc = doc;
    }
    for (const id of [...this.servers.keys()]) if (!seen.has(id)) this.servers.delete(id);
    this.kick();
  }

  /** Secrets changed (a file in the secrets folder): the servers that use them are checked at once. */
  secretsChanged(names: readonly string[]): void {
    const now = this.now();
    for (const e of this.servers.values()) if (names.some((n) => e.secretRefs.has(n))) e.changedAt = now;
    this.kick();
  }

  start(): void {
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Resolves when no check runs (tests). */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private dueOf(id: string, e: Entry): number {
    return dueAt({
      id,
      intervalMs: this.o.intervalMs,
      startedAt: this.startedAt,
      ...(e.lastCheckedAt !== undefined ? { lastCheckedAt: e.lastCheckedAt } : {}),
      ...(e.changedAt !== undefined ? { changedAt: e.changedAt } : {}),
    });
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.now();
    let next = now + MAX_SLEEP_MS;
    for (const [id, e] of this.servers) {
      if (this.running.has(id)) continue;
      const due = this.dueOf(id, e);
      if (due <= now && this.running.size < this.o.concurrency) this.launch(id, e, now);
      else next = Math.min(next, Math.max(due, now + 250));
    }
    this.timer = setTimeout(() => this.kick(), Math.max(250, next - now));
    this.timer.unref();
  }

  private launch(id: string, e: Entry, now: number): void {
    this.running.add(id);
    e.lastCheckedAt = now;
    const p = this.checkOne(id, e.doc)
      .catch((err: unknown) => this.o.logger.error({ err, server: id }, 'readiness check failed'))
      .finally(() => {
        this.running.delete(id);
        this.inFlight.delete(p);
        this.kick();
      });
    this.inFlight.add(p);
  }

  private async checkOne(id: string, doc: ServerDocument): Promise<void> {
    const report = await this.o.check(doc);
    if (this.stopped) return;
    const host = this.o.host;
    const verdict = judgeReadiness(report, { hostAnswers: host.hostAnswers(id), monitorSuspect: host.monitorSuspect(id) });
    const prev = host.condition(id);
    const step = readinessStep(id, prev, verdict, report.checkedAt);
    this.o.logger.info({ server: id, ready: verdict.status, reason: verdict.status === 'False' ? verdict.cause : verdict.status === 'Unknown' ? verdict.reason : 'Ready', mails: step.mails.length }, 'readiness judged');
    if (step.condition !== undefined) await host.setCondition(id, step.condition);
    // A repair that escalated for this very fault has told it already (readiness-restored still goes out).
    const told = verdict.status === 'False' && step.mails.length > 0 && !host.claimCause(id, verdict.cause);
    if (verdict.status === 'True') host.releaseCauses(id);
    for (const mail of step.mails) {
      if (told && mail.kind !== 'readiness-restored') {
        this.o.logger.info({ server: id, id: mail.id, kind: mail.kind }, 'readiness mail not sent: a repair told this cause');
        continue;
      }
      const n: Notification | undefined = buildReadinessNotification(mail, { doc, report, verdict, operatorEmail: this.o.operatorEmail });
      if (n === undefined) {
        this.o.logger.warn({ server: id, id: mail.id, kind: mail.kind }, 'provider fault not e-mailed: no mail.operator configured');
        continue;
      }
      try {
        await this.o.notifier.notify(n);
      } catch (err) {
        this.o.logger.error({ err, server: id, id: mail.id, kind: mail.kind }, 'notification not queued');
      }
    }
    if (verdict.status === 'True' && prev?.status === 'False') await host.releasePreconditionHolds(id);
  }
}
