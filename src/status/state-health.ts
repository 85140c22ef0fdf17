/**
 * Whether the state folder can be written (journal, status files, outbox, last-good manifests).
 * A full disk or an I/O error is not a reason to stop watching servers: probing goes on, the
 * daemon says it is not ready, and what could not be written waits in memory (state-backlog.ts)
 * until a write succeeds again. While unwritable, a small check file is written every few seconds
 * to notice when space returns, and the backlogs are flushed then.
 */
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { Logger } from '../log.ts';

export type StateWriteKind = 'journal' | 'status' | 'outbox' | 'last-good' | 'check';

export interface StateCondition {
  type: 'StateWritable';
  status: 'True' | 'False';
  reason: 'Writable' | 'WriteFailed';
  message: string;
  lastTransitionTime: string;
}

export interface StateHealthStatus {
  writable: boolean;
  condition: StateCondition;
  /** Per kind of write, failures since the start. */
  failures: Partial<Record<StateWriteKind, number>>;
  /** Held in memory because they could not be written: lost if the daemon died now. */
  unwritten: Record<string, number>;
}

/** An error of the file system (ENOSPC, EIO, EROFS…), as opposed to a bug or a refused input. */
export function isStorageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : 'error';
  return `${code}${typeof e?.message === 'string' ? `: ${e.message.slice(0, 200)}` : ''}`;
}

export interface StateHealthOptions {
  stateDir: string;
  logger: Logger;
  /** How often an unwritable folder is checked again (ms). */
  checkEveryMs?: number;
  now?: () => number;
}

export class StateHealth {
  private readonly o: StateHealthOptions;
  private readonly now: () => number;
  private ok = true;
  private since: number;
  private lastError = '';
  private lastKind: StateWriteKind | undefined;
  private readonly failures: Partial<Record<StateWriteKind, number>> = {};
  private readonly backlogs = new Map<string, { size(): number; flush(): Promise<void> }>();
  private readonly listeners: Array<(writable: boolean) => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;

  constructor(options: StateHealthOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.since = this.now();
    // Checked every few seconds even while all is well: a disk that fills while nothing changes is
    // noticed before the first repair needs it, not by the repair.
    this.arm();
  }

  get writable(): boolean {
    return this.ok;
  }

  /** A backlog of writes held in memory: counted in `unwritten`, flushed when writes succeed again. */
  register(name: string, backlog: { size(): number; flush(): Promise<void> }): void {
    this.backlogs.set(name, backlog);
  }

  onChange(listener: (writable: boolean) => void): void {
    this.listeners.push(listener);
  }

  failed(kind: StateWriteKind, err: unknown): void {
    this.failures[kind] = (this.failures[kind] ?? 0) + 1;
    this.lastError = describe(err);
    this.lastKind = kind;
    if (!this.ok) return;
    this.ok = false;
    this.since = this.now();
    this.o.logger.error({ err, kind, stateDir: this.o.stateDir }, 'state folder not writable');
    this.emit();
    this.arm();
  }

  /**
   * A write succeeded. A journal append is not proof that space returned (a line may still fit in
   * the page its file already has, where a new file fits nowhere): only a file written whole (the
   * check file, a status file, an outbox record) makes the folder writable again.
   */
  succeeded(kind: StateWriteKind): void {
    if (this.ok || kind === 'journal') return;
    this.ok = true;
    this.since = this.now();
    this.o.logger.info({ stateDir: this.o.stateDir, unwritten: this.unwrittenTotal() }, 'state folder writable again');
    this.emit();
    void this.flushAll();
  }

  unwrittenTotal(): number {
    let n = 0;
    for (const b of this.backlogs.values()) n += b.size();
    return n;
  }

  status(): StateHealthStatus {
    const unwritten: Record<string, number> = {};
    for (const [name, b] of this.backlogs) unwritten[name] = b.size();
    return {
      writable: this.ok,
      condition: this.ok
        ? { type: 'StateWritable', status: 'True', reason: 'Writable', message: '', lastTransitionTime: new Date(this.since).toISOString() }
        : {
            type: 'StateWritable',
            status: 'False',
            reason: 'WriteFailed',
            message: `${this.lastKind ?? 'a'} write to ${this.o.stateDir} failed (${this.lastError}); probing goes on, no runbook starts, ${this.unwrittenTotal()} change(s) wait in memory`,
            lastTransitionTime: new Date(this.since).toISOString(),
          },
      failures: { ...this.failures },
      unwritten,
    };
  }

  /** Writes what waits in memory (in the order it came); stops at the first failure. */
  async flushAll(): Promise<void> {
    for (const b of this.backlogs.values()) {
      if (b.size() === 0) continue;
      try {
        await b.flush();
      } catch {
        return;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private emit(): void {
    for (const l of this.listeners) {
      try {
        l(this.ok);
      } catch {
        // a listener's fault is not the folder's
      }
    }
  }

  /** Every few seconds: a small write; its failure makes the folder unwritable, its success writable again. */
  private arm(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check();
    }, this.o.checkEveryMs ?? 5000);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      await writeFileAtomic(path.join(this.o.stateDir, '.write-check'), `${new Date(this.now()).toISOString()}\n`, { fsync: true });
      this.succeeded('check');
    } catch (err) {
      this.failed('check', err);
    } finally {
      this.checking = false;
      this.arm();
    }
  }
}
