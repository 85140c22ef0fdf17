/** A waiter handed its permit by a call (no promise, no closure: one object may wait several times). */
export interface Grantee {
  grant(): void;
}

/**
 * A counting semaphore with a FIFO queue: whoever asked first goes first, so no server starves
 * behind another that keeps asking.
 */
export class Semaphore {
  private active = 0;
  // A queue with a moving head: Array#shift is O(n), and 60,000 probes can wait at once.
  private waiters: Array<(() => void) | Grantee | undefined> = [];
  private head = 0;
  private readonly returned = new Set<() => void>();

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.active;
  }

  get waiting(): number {
    return this.waiters.length - this.head;
  }

  /** Takes a permit at once if one is free (no promise: the hot path of 60,000 probes a pass). */
  tryAcquire(): boolean {
    if (this.active < this.limit) {
      this.active++;
      return true;
    }
    return false;
  }

  acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Queues `g` for one permit, in the same FIFO as `acquire` (call `tryAcquire` first): its
   * `grant` runs, holding the permit, inside the `release` that frees it.
   */
  enqueue(g: Grantee): void {
    this.waiters.push(g);
  }

  release(): void {
    if (this.head < this.waiters.length) {
      const next = this.waiters[this.head];
      this.waiters[this.head] = undefined;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.head);
        this.head = 0;
      }
      if (typeof next === 'function') next();
      else next?.grant();
    } else {
      this.active--;
      if (this.returned.size > 0) for (const f of this.returned) f();
    }
  }

  /** Calls `f` whenever a permit goes back to the pool (none waiting for it); returns the unsubscribe. */
  onReturn(f: () => void): () => void {
    this.returned.add(f);
    return () => this.returned.delete(f);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
