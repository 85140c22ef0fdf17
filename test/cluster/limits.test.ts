/**
 * The fleet-wide limits judged on etcd's step records (src/cluster/limits.ts): an operator's resume
 * (its closed `resumed` record) makes a server's restart and power budgets count afresh; the
 * fleet's power rate is not forgiven.
 */
import { describe, expect, it } from 'vitest';
import type { FleetView, StepRecord } from '../../src/cluster/claims.ts';
import { judgeLimits, type LimitInput } from '../../src/cluster/limits.ts';

const NOW = Date.parse('2026-12-07T01:00:00Z');
const MIN = 60_000;
const policy: LimitInput['policy'] = { restartsPerServicePerHour: 1, powerCyclesPerServerPer6h: 1, powerActionsPerHour: 2, massMinServers: 1000, massFraction: 1, fleetFraction: 1 };

function step(over: Partial<StepRecord>): StepRecord {
  return { incident: 'i', step: 'i#1', service: 'http', kind: 'restart', replica: 'a', token: 1, intentAt: NOW - 10 * MIN, deadlineMs: 1000, outcome: { result: 'StepFailed', at: NOW - 9 * MIN, by: 'a' }, revision: 1, ...over };
}

const resumed = (service: string, at: number): StepRecord => step({ incident: `resumed@${at}-${service}`, step: 'closed', service, kind: 'other', intentAt: at, outcome: { result: 'resumed', at, by: 'a' } });

function view(steps: StepRecord[], powerTimes: number[] = []): FleetView {
  return { steps, powerTimes, failing: new Map() };
}

const input = (kind: 'restart' | 'power', service = 'http'): LimitInput => ({ policy, server: 'acme/web1', service, kind, fleet: new Map([['acme/web1', []]]), now: NOW });

describe('limits after an operator’s resume', () => {
  it('a spent restart budget counts afresh from the resume', () => {
    expect(judgeLimits(input('restart'), view([step({})]))).toMatch(/restart budget spent/);
    expect(judgeLimits(input('restart'), view([step({}), resumed('http', NOW - 5 * MIN)]))).toBeUndefined();
    // A resume of another service, or one before the restart, forgives nothing.
    expect(judgeLimits(input('restart'), view([step({}), resumed('smtp', NOW - 5 * MIN)]))).toMatch(/restart budget spent/);
    expect(judgeLimits(input('restart'), view([step({}), resumed('http', NOW - 20 * MIN)]))).toMatch(/restart budget spent/);
  });

  it('the power budget counts afresh from a resume of the host; the fleet power rate does not', () => {
    const power = step({ service: 'host', kind: 'power', step: 'p#1' });
    expect(judgeLimits(input('power', 'host'), view([power]))).toMatch(/power budget spent/);
    expect(judgeLimits(input('power', 'host'), view([power, resumed('host', NOW - 5 * MIN)]))).toBeUndefined();
    expect(judgeLimits(input('power', 'host'), view([power, resumed('host', NOW - 5 * MIN)], [NOW - 30 * MIN, NOW - 20 * MIN]))).toMatch(/fleet power limit/);
  });
});
