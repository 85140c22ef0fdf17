/**
 * Sliding-window budgets: a list of start times, pruned to the window. Kept as sorted arrays of
 * epoch ms (small: a budget of 3 an hour keeps at most a handful of entries per service).
 */
export const HOUR_MS = 3_600_000;
export const SIX_HOURS_MS = 6 * HOUR_MS;

/** Entries of `times` inside (now - windowMs, now]. Returns the same array when nothing aged out. */
export function pruneWindow(times: number[], now: number, windowMs: number): number[] {
  const from = now - windowMs;
  let i = 0;
  while (i < times.length && (times[i] as number) <= from) i++;
  return i === 0 ? times : times.slice(i);
}

export function countInWindow(times: readonly number[], now: number, windowMs: number): number {
  const from = now - windowMs;
  let n = 0;
  for (const t of times) if (t > from && t <= now) n++;
  return n;
}

/** True when one more use would go past `limit` uses in the window. */
export function budgetSpent(times: readonly number[], now: number, windowMs: number, limit: number): boolean {
  return countInWindow(times, now, windowMs) >= limit;
}

/** Removes one entry equal to `t` (a refund: the runbook did not act after all). */
export function refund(times: number[], t: number): number[] {
  const i = times.lastIndexOf(t);
  return i < 0 ? times : [...times.slice(0, i), ...times.slice(i + 1)];
}
