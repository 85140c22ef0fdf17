import type { Logger } from '../log.ts';
import type { ApplyOutcome, DesiredState } from './desired.ts';
import type { Source, SyncFailureReason } from './types.ts';

/**
 * When to sync: on start, every poll interval (git), on a watcher event (folder), on a webhook —
 * and after a failure, with backoff instead of the poll interval. Requests while a sync runs are
 * folded into one more sync after it (level-triggered: a missed request is never lost, and a burst
 * of webhooks costs two fetches, not twenty).
 */
export type SyncTrigger = 'start' | 'poll' | 'watch' | 'webhook' | 'manual' | 'retry';

export interface SyncReport {
  trigger: SyncTrigger;
  ok: boolean;
  outcome?: ApplyOutcome;
  reason?: SyncFailureReason;
  message?: string;
  durationMs: number;
}

export interface SourceCondition {
  type: 'SourceUnavailable';
  status: 'True' | 'False';
  reason: SyncFailureReason | 'Synced';
  message: string;
  lastTransitionTime: string;
}

export interface SyncerStatus {
  source: string;
  kind: 'git' | 'folder';
  /** A revision has been applied (now or before a restart): the daemon has something to watch. */
  synced: boolean;
  lastAttemptAt?: string;
  lastSuccessAt?: string;
  consecutiveFailures: number;
  nextSyncAt?: string;
  condition: SourceCondition;
}

export interface SourceSyncerOptions {
  source: Source;
  desired: DesiredState;
  logger: Logger;
  /** Poll interval (ms); undefined for a folder, which is watched instead. */
  pollMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  onReport?: (report: SyncReport) => void;
}

export class SourceSyncer {
  private readonly options: SourceSyncerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SyncReport> | undefined;
  private again: { trigger: SyncTrigger; waiters: ((r: SyncReport) => void)[] } | undefined;
  private stopped = false;
  private failures = 0;
  private lastAttemptAt: string | undefined;
  private lastSuccessAt: string | undefined;
  private nextSyncAt: string | undefined;
  private baselineApplied = false;
  private condition: SourceCondition;

  constructor(options: SourceSyncerOptions) {
    this.options = options;
    this.condition = {
      type: 'SourceUnavailable',
      status: 'False',
      reason: 'Synced',
      message: 'not synced yet',
      lastTransitionTime: new Date().toISOString(),
    };
  }

  /** Apply the revision remembered from before a restart, then sync, then keep syncing. */
  async start(): Promise<SyncReport> {
    const log = this.options.logger;
    try {
      const last = await this.options.source.lastApplied();
      if (last) {
        const outcome = await this.options.desired.apply(last, { baseline: true });
        this.baselineApplied = outcome.result === 'applied' || outcome.result === 'unchanged';
        log.info({ revision: last.revision }, 'last applied revision restored');
      }
    } catch (err) {
      log.warn({ err }, 'last applied revision could not be restored');
    }
    if (this.options.source.watch) {
      await this.options.source.watch(() => void this.trigger('watch'));
    }
    return this.trigger('start');
  }

  /** Sync now (or right after the running sync). Resolves with the report of the sync that covered this request. */
  trigger(trigger: SyncTrigger): Promise<SyncReport> {
    if (this.stopped) return Promise.resolve({ trigger, ok: false, reason: 'SourceUnavailable', message: 'stopped', durationMs: 0 });
    if (this.running) {
      return new Promise((resolve) => {
        if (!this.again) this.again = { trigger, waiters: [] };
        this.again.waiters.push(resolve);
      });
    }
    this.running = this.runOnce(trigger).finally(() => {
      this.running = undefined;
      const again = this.again;
      this.again = undefined;
      if (again && !this.stopped) {
        void this.trigger(again.trigger).then((r) => again.waiters.forEach((w) => w(r)));
      } else if (again) {
        again.waiters.forEach((w) => w({ trigger: again.trigger, ok: false, reason: 'SourceUnavailable', message: 'stopped', durationMs: 0 }));
      }
    });
    return this.running;
  }

  /** A reloaded config's poll interval, from the next sync on. */
  setPollMs(pollMs: number | undefined): void {
    if (this.options.pollMs === pollMs) return;
    this.options.pollMs = pollMs;
    if (!this.running && !this.stopped) {
      this.clearTimer();
      this.schedule();
    }
  }

  async confirm(revision: string): Promise<ApplyOutcome> {
    const outcome = await this.options.desired.confirm(revision);
    if (outcome.result === 'applied') await this.options.source.markApplied(outcome.revision);
    return outcome;
  }

  private async runOnce(trigger: SyncTrigger): Promise<SyncReport> {
    const started = performance.now();
    const log = this.options.logger;
    this.clearTimer();
    this.lastAttemptAt = new Date().toISOString();
    let report: SyncReport;
    try {
      const result = await this.options.source.sync();
      if (!result.ok) {
        this.failures += 1;
        this.setCondition('True', result.reason, result.message);
        log.warn({ reason: result.reason, message: result.message, failures: this.failures, trigger }, 'source sync failed; keeping the last revision');
        report = { trigger, ok: false, reason: result.reason, message: result.message, durationMs: performance.now() - started };
      } else {
        const outcome = await this.options.desired.apply(result.snapshot);
        if (outcome.result === 'applied') await this.options.source.markApplied(outcome.revision);
        this.failures = 0;
        this.lastSuccessAt = new Date().toISOString();
        this.setCondition('False', 'Synced', `revision ${outcome.revision} ${outcome.result}`);
        report = { trigger, ok: true, outcome, durationMs: performance.now() - started };
      }
    } catch (err) {
      this.failures += 1;
      const message = (err as Error).message;
      this.setCondition('True', 'ReadFailed', message);
      log.error({ err, trigger }, 'source sync failed');
      report = { trigger, ok: false, reason: 'ReadFailed', message, durationMs: performance.now() - started };
    }
    this.schedule();
    this.options.onReport?.(report);
    return report;
  }

  private setCondition(status: 'True' | 'False', reason: SourceCondition['reason'], message: string): void {
    const changed = this.condition.status !== status || this.condition.reason !== reason;
    this.condition = {
      type: 'SourceUnavailable',
      status,
      reason,
      message,
      lastTransitionTime: changed ? new Date().toISOString() : this.condition.lastTransitionTime,
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    let delay: number | undefined;
    if (this.failures > 0) {
      const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 1000, maxMs: 300_000 };
      delay = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures - 1, 20));
      if (this.options.pollMs !== undefined) delay = Math.min(delay, Math.max(this.options.pollMs, initialMs));
    } else {
      delay = this.options.pollMs;
    }
    if (delay === undefined) {
      this.nextSyncAt = undefined;
      return;
    }
    this.nextSyncAt = new Date(Date.now() + delay).toISOString();
    this.timer = setTimeout(() => void this.trigger(this.failures > 0 ? 'retry' : 'poll'), delay);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  status(): SyncerStatus {
    return {
      source: this.options.source.description,
      kind: this.options.source.kind,
      synced: this.options.desired.appliedRevision !== undefined || this.baselineApplied,
      lastAttemptAt: this.lastAttemptAt,
      lastSuccessAt: this.lastSuccessAt,
      consecutiveFailures: this.failures,
      nextSyncAt: this.nextSyncAt,
      condition: this.condition,
    };
  }

  /** Stop syncing; a sync in flight (a fetch from a slow remote) gets `graceMs`, then is left behind. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref?.();
    });
    await Promise.race([Promise.all([this.running?.catch(() => undefined), this.options.source.close()]), grace]);
    if (timer) clearTimeout(timer);
  }
}
