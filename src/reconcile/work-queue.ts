/**
 * A keyed work queue in the manner of controller-runtime's: keys by the time they are next due
 * (the due heap), never the same key handed out twice at once (a key due again while its work runs
 * is marked and handed back when that work is done), and work that failed re-queued with
 * exponential backoff. It knows nothing of servers: a key is an opaque string.
 */
import { DueQueue } from './due-queue.ts';

export interface WorkQueueOptions {
  /** The wait before the next try after `failures` consecutive failures (ms). */
  backoffMs(failures: number): number;
}

export class WorkQueue {
  private readonly due = new DueQueue();
  /** Keys whose work runs now. */
  private readonly processing = new Set<string>();
  /** Keys that came due (or were asked for) while their work ran: handed back at done(). */
  private readonly dirty = new Set<string>();
  /** Consecutive failures per key (controller-runtime's NumRequeues). */
  private readonly failures = new Map<string, number>();

  constructor(private readonly options: WorkQueueOptions) {}

  /** Keys waiting for their due time. */
  get size(): number {
    return this.due.size;
  }

  /** Keys whose work runs now. */
  get active(): number {
    return this.processing.size;
  }

  /** Due at `at` (replaces any earlier plan). */
  add(key: string, at: number): void {
    this.due.schedule(key, at);
  }

  /** Due at `at` only if that is sooner than what is planned. */
  addSooner(key: string, at: number): void {
    this.due.scheduleSooner(key, at);
  }

  /** Forgets a key: its due time, its failures, a pending hand-back (the key went away). */
  forget(key: string): void {
    this.due.remove(key);
    this.dirty.delete(key);
    this.failures.delete(key);
  }

  dueAt(key: string): number | undefined {
    return this.due.dueAt(key);
  }

  peekTime(): number | undefined {
    return this.due.peekTime();
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /**
   * Removes every key due at or before `now` and returns those the caller may work on now (each
   * marked processing). A due key whose work still runs is not returned: it is marked, and done()
   * says so when that work ends. `late` hears how late each key was handed out (ms after its due time).
   */
  take(now: number, late?: (key: string, lateMs: number) => void): string[] {
    const out: string[] = [];
    const seen = late === undefined ? undefined : (key: string, at: number): void => late(key, now - at);
    for (const key of this.due.popDue(now, seen)) {
      if (this.processing.has(key)) this.dirty.add(key);
      else {
        this.processing.add(key);
        out.push(key);
      }
    }
    return out;
  }

  /** Marks a key processing for work the caller starts itself; false if its work already runs. */
  begin(key: string): boolean {
    if (this.processing.has(key)) return false;
    this.processing.add(key);
    return true;
  }

  /** The key's work ended. True when the key came due meanwhile: the caller should queue it now. */
  done(key: string): boolean {
    this.processing.delete(key);
    return this.dirty.size > 0 && this.dirty.delete(key);
  }

  /**
   * The key's work failed: counted, and the key due again after the backoff (sooner only, never
   * later than what is planned). Returns the count and the wait.
   */
  failed(key: string, now: number): { failures: number; retryInMs: number } {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const retryInMs = this.options.backoffMs(failures);
    this.due.scheduleSooner(key, now + retryInMs);
    return { failures, retryInMs };
  }

  /** The key's work succeeded: its failure count starts again. True when it had failed before. */
  succeeded(key: string): boolean {
    return this.failures.size > 0 && this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}
