import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { AUTO_INTERVAL_DEFAULTS, autoInterval, autoPowerWaitSeconds } from '../../src/config/auto-interval.ts';

const d = AUTO_INTERVAL_DEFAULTS;

describe('probe.intervalSeconds: auto', () => {
  test('a small fleet is probed as often as politeness allows; a large one as its budget allows', () => {
    // 100 servers × 6 services = 600 probes: 120/s at 5 s, well inside 125/s (a quarter core at 2 ms).
    expect(autoInterval(600, d)).toEqual({ seconds: 5, limitedBy: 'politeness', probesPerRound: 600, budgetPerSecond: 125, probesPerSecond: 120 });
    // 1,000 × 6: 6,000 probes at 125/s → 48 s, the CPU bound.
    expect(autoInterval(6_000, d)).toMatchObject({ seconds: 48, limitedBy: 'cpu' });
    // 10,000 × 6 → 480 s: more than the ceiling, held at 300 s.
    expect(autoInterval(60_000, d)).toMatchObject({ seconds: 300, limitedBy: 'max' });
    // A whole core at 0.1 ms a probe: 10,000/s by CPU, 1,000/s by rate: the rate bound decides.
    expect(autoInterval(60_000, { ...d, cpuFraction: 1, cpuMsPerProbe: 0.1 })).toMatchObject({ seconds: 60, limitedBy: 'rate', budgetPerSecond: 1000 });
    expect(autoInterval(0, d)).toMatchObject({ seconds: 5, limitedBy: 'politeness', probesPerSecond: 0 });
  });

  test('recomputed as the fleet grows: the interval never shrinks when probes are added, and rounds up to 0.1 s', () => {
    expect(autoInterval(6_001, d).seconds).toBe(48.1);
    fc.assert(
      fc.property(fc.nat(200_000), fc.nat(5_000), (a, extra) => {
        expect(autoInterval(a + extra, d).seconds).toBeGreaterThanOrEqual(autoInterval(a, d).seconds);
      }),
    );
  });

  test('property: the interval keeps every bound — at or above politeness, at most the ceiling, within budget unless at the ceiling', () => {
    const budget = fc.record({
      cpuFraction: fc.double({ min: 0.01, max: 4, noNaN: true }),
      cpuMsPerProbe: fc.double({ min: 0.01, max: 50, noNaN: true }),
      maxProbesPerSecond: fc.double({ min: 1, max: 100_000, noNaN: true }),
      politenessSeconds: fc.double({ min: 0.2, max: 600, noNaN: true }),
      maxSeconds: fc.double({ min: 1, max: 3600, noNaN: true }),
      powerWaitFloorSeconds: fc.constant(30),
    });
    fc.assert(
      fc.property(fc.nat(1_000_000), budget, (probes, b) => {
        const r = autoInterval(probes, b);
        expect(r.seconds).toBeLessThanOrEqual(b.maxSeconds + 1e-9);
        if (r.limitedBy !== 'max') {
          expect(r.seconds).toBeGreaterThanOrEqual(b.politenessSeconds - 1e-9);
          expect(r.probesPerSecond).toBeLessThanOrEqual(r.budgetPerSecond * (1 + 1e-9));
        }
      }),
      { numRuns: 500 },
    );
  });

  test('the wait before a power action keeps its floor however short the interval', () => {
    expect(autoPowerWaitSeconds(5, d)).toBe(30);
    expect(autoPowerWaitSeconds(48, d)).toBe(48);
    expect(autoPowerWaitSeconds(5, d, 10)).toBe(30);
    expect(autoPowerWaitSeconds(5, { ...d, powerWaitFloorSeconds: 0 }, 10)).toBe(10);
  });
});
