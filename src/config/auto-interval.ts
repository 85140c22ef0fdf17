/**
 * `probe.intervalSeconds: auto` (pure): the shortest probe interval that keeps the fleet's probing
 * within a CPU budget and a rate budget, and never below the per-service politeness floor (no
 * service connected to more often than once in `politenessSeconds`). Recomputed by the daemon
 * whenever the applied fleet changes; the wait before a power action keeps its own floor.
 *
 *   rate     = min(maxProbesPerSecond, cpuFraction × 1000 / cpuMsPerProbe)     probes a second
 *   interval = clamp(probesPerRound / rate, politenessSeconds, maxSeconds)      rounded up to 0.1 s
 */

export interface AutoIntervalBudget {
  /** Cores the daemon may spend on probing (0.25). */
  cpuFraction: number;
  /** The daemon's CPU ms per probe, everything included (2). */
  cpuMsPerProbe: number;
  /** The most probes a second sent to the fleet (1000). */
  maxProbesPerSecond: number;
  /** A service is connected to at most once in this many seconds (5). */
  politenessSeconds: number;
  /** The interval's ceiling (300). */
  maxSeconds: number;
  /** The wait before a power action never drops below this (30). */
  powerWaitFloorSeconds: number;
}

export const AUTO_INTERVAL_DEFAULTS: Readonly<AutoIntervalBudget> = Object.freeze({
  cpuFraction: 0.25,
  cpuMsPerProbe: 2,
  maxProbesPerSecond: 1000,
  politenessSeconds: 5,
  maxSeconds: 300,
  powerWaitFloorSeconds: 30,
});

/** Which bound decided the interval. */
export type AutoIntervalLimit = 'politeness' | 'cpu' | 'rate' | 'max';

export interface AutoInterval {
  seconds: number;
  limitedBy: AutoIntervalLimit;
  /** Probes one round of the fleet makes (a service of a server is one probe). */
  probesPerRound: number;
  /** What the budget allows (probes a second) and what the interval makes. */
  budgetPerSecond: number;
  probesPerSecond: number;
}

/** The interval for a fleet making `probesPerRound` probes a round, within `budget`. */
export function autoInterval(probesPerRound: number, budget: AutoIntervalBudget): AutoInterval {
  const probes = Math.max(0, Math.floor(probesPerRound));
  const cpuRate = (budget.cpuFraction * 1000) / budget.cpuMsPerProbe;
  const rateBound = cpuRate <= budget.maxProbesPerSecond ? 'cpu' : 'rate';
  const budgetPerSecond = Math.min(cpuRate, budget.maxProbesPerSecond);
  // Rounded up to 0.1 s so that the rate never exceeds the budget (and the log does not flicker).
  const needed = Math.ceil((probes / budgetPerSecond) * 10 - 1e-9) / 10;
  let seconds: number;
  let limitedBy: AutoIntervalLimit;
  if (needed > budget.maxSeconds) {
    seconds = budget.maxSeconds;
    limitedBy = 'max';
  } else if (needed > budget.politenessSeconds) {
    seconds = needed;
    limitedBy = rateBound;
  } else {
    seconds = Math.min(budget.politenessSeconds, budget.maxSeconds);
    limitedBy = budget.politenessSeconds <= budget.maxSeconds ? 'politeness' : 'max';
  }
  return { seconds, limitedBy, probesPerRound: probes, budgetPerSecond, probesPerSecond: seconds > 0 ? probes / seconds : 0 };
}

/**
 * The wait before a power action with the automatic interval: one whole interval (a fleet round,
 * as with a fixed interval) or the operator's own `remediation.destructiveWaitSeconds`, and never
 * below the floor however short the interval.
 */
export function autoPowerWaitSeconds(intervalSeconds: number, budget: AutoIntervalBudget, explicitWaitSeconds?: number): number {
  return Math.max(budget.powerWaitFloorSeconds, explicitWaitSeconds ?? intervalSeconds);
}
