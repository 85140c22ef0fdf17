/**
 * Polling on an observable fact with a deadline, for the cluster lab tests: the replicas, etcd and
 * the lab hosts move on their own clocks, so a test waits for what it can see, never a fixed sleep.
 */

export type Until = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs?: number) => Promise<T>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An `until` that asks every `defaultEveryMs` unless told otherwise; the error names what it waited for. */
export function untilEvery(defaultEveryMs: number): Until {
  return async (what, fn, timeoutMs, everyMs = defaultEveryMs) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(everyMs);
    }
  };
}
