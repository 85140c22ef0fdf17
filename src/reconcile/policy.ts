/**
 * The config's reconcile numbers as decide uses them (milliseconds). Defaults are the schema's, so
 * that a partial config (or none, in tests) gives the documented behaviour.
 */
import type { ConfigDocument } from '../manifest/types.ts';
import type { Policy } from './types.ts';

export function policyFromConfig(config: ConfigDocument = {}): Policy {
  const probe = config.probe ?? {};
  const rem = config.remediation ?? {};
  const mass = config.massFailure ?? {};
  // `auto` is resolved by the daemon (auto-interval.ts); until then the politeness floor.
  const intervalMs = (typeof probe.intervalSeconds === 'number' ? probe.intervalSeconds : probe.intervalSeconds === 'auto' ? (probe.auto?.politenessSeconds ?? 5) : 30) * 1000;
  return {
    intervalMs,
    timeoutMs: (probe.timeoutSeconds ?? 5) * 1000,
    retryMs: (probe.retryIntervalSeconds ?? 1) * 1000,
    failuresToDown: probe.failuresToDown ?? 3,
    jitter: probe.jitter ?? 0.1,
    restartsPerServicePerHour: rem.restartsPerServicePerHour ?? 3,
    powerCyclesPerServerPer6h: rem.powerCyclesPerServerPer6h ?? 1,
    attemptsPerIncident: rem.attemptsPerIncident ?? 2,
    // One probe interval by default: the wait must span a whole probe round of the fleet.
    destructiveWaitMs: rem.destructiveWaitSeconds !== undefined ? rem.destructiveWaitSeconds * 1000 : intervalMs,
    flapTransitions: rem.flapping?.transitions ?? 6,
    flapWindowMs: (rem.flapping?.windowMinutes ?? 30) * 60_000,
    massMinServers: mass.minServers ?? 3,
    massFraction: mass.fraction ?? 0.5,
    fleetFraction: mass.fleetFraction ?? 0.2,
    powerActionsPerHour: mass.powerActionsPerHour ?? 10,
  };
}
