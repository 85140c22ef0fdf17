/**
 * Per key, the journal write and commit in progress (a pass's records, a runbook's outcome): the
 * next one for that key waits for it, so that no commit overwrites another.
 */
const noop = (): void => undefined;

export class Lanes {
  private readonly lanes = new Map<string, Promise<unknown>>();

  get size(): number {
    return this.lanes.size;
  }

  /** The write in progress for this key, if any. */
  get(key: string): Promise<unknown> | undefined {
    return this.lanes.get(key);
  }

  /** Runs `fn` after any other write in progress for the key. The lane is taken synchronously, before the first await. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    for (let l = this.lanes.get(key); l !== undefined; l = this.lanes.get(key)) await l.then(noop, noop);
    const p = fn();
    this.lanes.set(key, p);
    try {
      return await p;
    } finally {
      if (this.lanes.get(key) === p) this.lanes.delete(key);
    }
  }
}
