import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ServiceName } from '../../src/manifest/types.ts';
import { decideServer } from '../../src/reconcile/decide.ts';
import { desiredFromManifest } from '../../src/reconcile/desired.ts';
import type { Action, RemediationTarget } from '../../src/reconcile/types.ts';
import type { Verdict } from '../../src/runbook/execution.ts';
import { docOf, type Pass, policy, runScenario, server, T0 } from './scenario.ts';

const SERVICES: ServiceName[] = ['ping', 'http', 'ssh'];
const TARGETS: RemediationTarget[] = ['host', 'http', 'ssh'];
const VERDICTS: Verdict[] = ['Recovered', 'StepFailed', 'VerifyFailed', 'Interrupted', 'RemoteAccessBlocked', 'DeadlineExceeded', 'ManagementAccessDenied'];

const probeValue = fc.oneof(fc.constant(false), fc.constant(false), fc.constant(true), fc.constant<'unknown'>('unknown'));
const stepArb = fc.record({
  gap: fc.integer({ min: 1, max: 400 }),
  probes: fc.record({ ping: probeValue, http: probeValue, ssh: probeValue }),
  outcome: fc.option(fc.record({ target: fc.constantFrom(...TARGETS), verdict: fc.constantFrom(...VERDICTS), acted: fc.boolean() }), { nil: undefined }),
  resume: fc.boolean(),
});

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function toPasses(steps: Step[], withResume: boolean, canaryDown = false): Pass[] {
  let t = 0;
  return steps.map((s) => {
    t += s.gap;
    const pass: Pass = { t, probes: { web01: s.probes } };
    if (s.outcome !== undefined) pass.outcomes = [{ server: 'web01', target: s.outcome.target, verdict: s.outcome.verdict, acted: s.outcome.acted }];
    if (withResume && s.resume) pass.resume = { server: 'web01' };
    if (canaryDown) pass.canaries = [{ address: '10.0.255.1', up: false }];
    return pass;
  });
}

/** The passes through the real controller; an outcome naming a target never run is dropped. */
async function safeRun(passes: Pass[], pol = policy()): Promise<Action[]> {
  return (await runScenario([server('web01', { services: SERVICES })], passes, pol, { dropUnrun: true })).actions;
}

const pol = policy({ probe: { failuresToDown: 2 }, remediation: { destructiveWaitSeconds: 0, flapping: { transitions: 8 } } });

describe('decide properties', () => {
  test('an incident never gets more runbook runs than its budget, numbered 1..n without repeats', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 30 }), async (steps) => {
        const actions = await safeRun(toPasses(steps, true), pol);
        const byIncident = new Map<string, number[]>();
        for (const a of actions) if (a.type === 'run-runbook') byIncident.set(a.incidentId, [...(byIncident.get(a.incidentId) ?? []), a.attempt]);
        for (const attempts of byIncident.values()) {
          expect(attempts.length).toBeLessThanOrEqual(pol.attemptsPerIncident);
          expect(attempts).toEqual(attempts.map((_, i) => i + 1));
        }
      }),
      { numRuns: 150 },
    );
  });

  test('no service gets more restarts in an hour than its budget (without operator resumes)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 30 }), async (steps) => {
        const passes = toPasses(steps, false).map((p) => ({ ...p, outcomes: (p.outcomes ?? []).map((o) => ({ ...o, acted: true })) }));
        const actions = await safeRun(passes, pol);
        const starts = new Map<string, number[]>();
        let t = 0;
        for (const a of actions) {
          if (a.type === 'transition') t = a.at;
          if (a.type === 'run-runbook' && a.target !== 'host') starts.set(a.target, [...(starts.get(a.target) ?? []), t]);
        }
        for (const times of starts.values()) {
          for (const start of times) expect(times.filter((x) => x >= start && x < start + 3_600_000).length).toBeLessThanOrEqual(pol.restartsPerServicePerHour);
        }
      }),
      { numRuns: 150 },
    );
  });

  test('no runbook starts while remediation is paused (a canary down)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 30 }), async (steps) => {
        const actions = await safeRun(toPasses(steps, true, true), pol);
        expect(actions.filter((a) => a.type === 'run-runbook')).toHaveLength(0);
      }),
      { numRuns: 100 },
    );
  });

  test('no runbook starts for an incident while one of its attempts is unfinished', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 30 }), async (steps) => {
        const actions = await safeRun(toPasses(steps, true), pol);
        const open = new Set<string>();
        for (const a of actions) {
          if (a.type === 'run-runbook') {
            expect(open.has(a.incidentId)).toBe(false);
            open.add(a.incidentId);
          }
          // a transition out of Remediating, or the incident closing, ends the attempt
          if (a.type === 'transition' && a.from === 'Remediating') for (const id of [...open]) if (id.includes(`.${a.service === 'ping' ? 'host' : a.service}.`)) open.delete(id);
          if (a.type === 'close-incident') open.delete(a.incidentId);
        }
      }),
      { numRuns: 150 },
    );
  });

  test('the controller is deterministic: the same passes give the same actions and journal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (steps) => {
        const passes = toPasses(steps, true);
        const a = await runScenario([server('web01', { services: SERVICES })], passes, pol, { dropUnrun: true });
        const b = await runScenario([server('web01', { services: SERVICES })], passes, pol, { dropUnrun: true });
        expect(JSON.stringify(a.actions)).toBe(JSON.stringify(b.actions));
        expect(JSON.stringify(a.journal)).toBe(JSON.stringify(b.journal));
      }),
      { numRuns: 40 },
    );
  });

  test('decideServer is deterministic and does not change its input', () => {
    fc.assert(
      fc.property(fc.record({ ping: probeValue, http: probeValue, ssh: probeValue }), fc.integer({ min: 0, max: 10_000 }), (probes, dt) => {
        const now = T0 + dt * 1000;
        const observed = Object.fromEntries(Object.entries(probes).map(([k, up]) => [k, { up, at: now - 1, latencyMs: 1 }]));
        const desired = desiredFromManifest(docOf(server('web01', { services: SERVICES })));
        const history = { services: {}, powerActions: [], recent: [] };
        const before = JSON.stringify(history);
        const a = decideServer(desired, observed, history, { policy: pol, now, fleetPowerActions: [] });
        const b = decideServer(desired, observed, history, { policy: pol, now, fleetPowerActions: [] });
        expect(JSON.stringify(a.actions)).toBe(JSON.stringify(b.actions));
        expect(JSON.stringify(history)).toBe(before);
      }),
      { numRuns: 200 },
    );
  });
});
