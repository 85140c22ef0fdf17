/**
 * The outboxes' retry delay: exponential from `baseDelayMs`, capped at `maxDelayMs`, with "equal
 * jitter" (half fixed, half random) so that the retries of many messages do not align.
 */
export function backoffDelay(attempts: number, retry: { baseDelayMs: number; maxDelayMs: number }, random: () => number): number {
  const exp = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.min(Math.max(attempts, 1) - 1, 30));
  return Math.round(exp / 2 + (exp / 2) * random());
}
