import { describe, expect, test } from 'vitest';
import { systemClock } from '../../src/reconcile/clock.ts';
import { createLagMonitor } from '../../src/reconcile/lag-monitor.ts';

describe('event-loop lag monitor', () => {
  test('a blocked event loop shows as lag over the time it was blocked, and not outside it', async () => {
    const lag = createLagMonitor(systemClock, 20);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const quietFrom = Date.now();
      await new Promise((r) => setTimeout(r, 100));
      const quietTo = Date.now();
      const start = Date.now();
      // Block the loop (bounded): nothing else runs meanwhile, as under a CPU-bound burst.
      while (Date.now() - start < 400) {
        /* busy */
      }
      const end = Date.now();
      await new Promise((r) => setTimeout(r, 60));
      expect(lag.maxLagBetween(start, end)).toBeGreaterThanOrEqual(300);
      expect(lag.maxLagBetween(quietFrom, quietTo)).toBeLessThan(300);
    } finally {
      lag.stop();
    }
  });
});
