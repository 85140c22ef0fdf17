/**
 * Time and timers, injected so that tests can run the reconciler and the runbook executor on a
 * fake clock. Below every layer (it imports nothing), so that runbook/ and reconcile/ share it.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The wall clock, its timers kept: `mamori runbook run` may wait on nothing but a pause between
 * verify attempts (the session closed after a power cycle), and the process must not exit under it.
 */
export const wallClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
