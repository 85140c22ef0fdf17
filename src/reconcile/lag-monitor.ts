/**
 * Event-loop lag: a timer that should fire every `sampleMs` measures how late it fires. A probe
 * that ran while the loop lagged more than half its timeout may have timed out because of mamori,
 * not because of the server: its result is marked Unknown, not Down.
 */
import type { Clock } from './clock.ts';

export interface LagMonitor {
  /** The largest lag (ms) seen between two times (epoch ms), including a lag still building up now. */
  maxLagBetween(start: number, end: number): number;
  stop(): void;
}

export function createLagMonitor(clock: Clock, sampleMs = 50, keep = 2400): LagMonitor {
  const times: number[] = [];
  const lags: number[] = [];
  let expected = clock.now() + sampleMs;
  let handle: unknown;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    const now = clock.now();
    const lag = Math.max(0, now - expected);
    times.push(now);
    lags.push(lag);
    if (times.length > keep) {
      times.shift();
      lags.shift();
    }
    expected = now + sampleMs;
    handle = clock.setTimeout(tick, sampleMs);
  };
  handle = clock.setTimeout(tick, sampleMs);
  return {
    maxLagBetween(start, end) {
      let max = 0;
      // A sample taken at t covers the lag that ended at t; one just after `end` still covers it.
      for (let i = times.length - 1; i >= 0; i--) {
        const t = times[i] as number;
        if (t < start) break;
        if (t <= end + sampleMs) max = Math.max(max, lags[i] as number);
      }
      // The loop may be stuck right now (no sample yet): count the time since the last expected tick.
      max = Math.max(max, Math.min(end, clock.now()) - expected);
      return max;
    },
    stop() {
      stopped = true;
      clock.clearTimeout(handle);
    },
  };
}
