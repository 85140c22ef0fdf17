import { describe, expect, test } from 'vitest';
import type { ServiceName } from '../../src/manifest/types.ts';
import type { ActionType, DesiredServer, Policy } from '../../src/reconcile/types.ts';
import { all, escalationOf, holdOf, notifies, type Pass, policy, runScenario, runs, server, stateOf, T0, type ScenarioResult } from './scenario.ts';

const SVCS: ServiceName[] = ['ping', 'http', 'ssh', 'smtp'];
const WEB: ServiceName[] = ['ping', 'http', 'https', 'ssh'];

/** Probes of one server where `down` fail and the rest pass. */
function only(down: ServiceName[], services: readonly ServiceName[] = SVCS, unknown: ServiceName[] = []): Partial<Record<ServiceName, boolean | 'unknown'>> {
  const o: Partial<Record<ServiceName, boolean | 'unknown'>> = {};
  for (const s of services) o[s] = unknown.includes(s) ? 'unknown' : !down.includes(s);
  return o;
}
function p(t: number, probes: Pass['probes'], extra: Partial<Pass> = {}): Pass {
  return { t, ...(probes ? { probes } : {}), ...extra };
}
/** n passes of web01 where `down` fail, every `step` seconds from `t`. */
function failing(t: number, n: number, down: ServiceName[], step = 5, name = 'web01'): Pass[] {
  return Array.from({ length: n }, (_, i) => p(t + i * step, { [name]: only(down) }));
}
const up = (t: number, name = 'web01'): Pass => p(t, { [name]: only([]) });
const outcome = (t: number, target: Pass['outcomes'] extends Array<infer O> | undefined ? O extends { target: infer X } ? X : never : never, verdict: NonNullable<Pass['outcomes']>[number]['verdict'], more: Partial<NonNullable<Pass['outcomes']>[number]> = {}, name = 'web01'): Pass => ({
  t,
  outcomes: [{ server: name, target, verdict, ...more }],
});

/** /24 neighbours: n servers 10.0.<net>.<10+i> (no ping, to keep the host rule out of the way). */
function fleet(n: number, net = 0, over: Partial<DesiredServer> = {}, prefix = `s${net}-`): DesiredServer[] {
  return Array.from({ length: n }, (_, i) => server(`${prefix}${i}`, { address: `10.0.${net}.${10 + i}`, services: ['http', 'smtp'], ...over }));
}
function fleetProbes(servers: DesiredServer[], downNames: Set<string>): NonNullable<Pass['probes']> {
  const out: NonNullable<Pass['probes']> = {};
  for (const s of servers) out[s.name] = all(s.services, !downNames.has(s.name));
  return out;
}
function massPasses(servers: DesiredServer[], downNames: Set<string>, from: number, n: number): Pass[] {
  return Array.from({ length: n }, (_, i) => p(from + i * 5, fleetProbes(servers, downNames)));
}

interface Expect {
  states?: Record<string, string>;
  holds?: Record<string, string | undefined>;
  escalations?: Record<string, string>;
  runs?: number;
  /** `server/target#attempt` in order. */
  runList?: string[];
  notify?: string[];
  has?: ActionType[];
  hasNot?: ActionType[];
  check?: (r: ScenarioResult) => void;
}

interface Case {
  name: string;
  servers?: DesiredServer[];
  policy?: Policy;
  passes: Pass[];
  expect: Expect;
}

const W = [server('web01')];
const noFlap = policy({ remediation: { flapping: { transitions: 100 } } });
const n1 = policy({ probe: { failuresToDown: 1 } });
const n1Flap4 = policy({ probe: { failuresToDown: 1 }, remediation: { flapping: { transitions: 4, windowMinutes: 30 } } });
const noDestructiveWait = policy({ remediation: { destructiveWaitSeconds: 0 } });

const cases: Case[] = [
  // --- the state machine: confirm before acting
  { name: 'all up stays Healthy, nothing done', passes: [up(0), up(30), up(60)], expect: { states: { 'web01/http': 'Healthy' }, runs: 0, hasNot: ['open-incident', 'notify'] } },
  { name: 'never probed stays Unknown', passes: [p(0, {})], expect: { states: { 'web01/http': 'Unknown' }, runs: 0 } },
  { name: 'one failed probe makes Suspect, not Down', passes: failing(0, 1, ['http']), expect: { states: { 'web01/http': 'Suspect' }, runs: 0, hasNot: ['open-incident'] } },
  { name: 'two failed probes (N=3) stay Suspect', passes: failing(0, 2, ['http']), expect: { states: { 'web01/http': 'Suspect' }, runs: 0 } },
  { name: 'N consecutive failures counting the first make Down and start a runbook', passes: failing(0, 3, ['http']), expect: { states: { 'web01/http': 'Remediating' }, runList: ['web01/http#1'], has: ['open-incident'] } },
  { name: 'N=1: the first failure is Down', policy: n1, passes: failing(0, 1, ['http']), expect: { runList: ['web01/http#1'] } },
  { name: 'Suspect then a pass is Healthy again, no incident', passes: [...failing(0, 2, ['http']), up(10)], expect: { states: { 'web01/http': 'Healthy' }, runs: 0, hasNot: ['open-incident'] } },
  { name: 'failures broken by a pass start counting again', passes: [...failing(0, 2, ['http']), up(10), ...failing(15, 2, ['http'])], expect: { states: { 'web01/http': 'Suspect' }, runs: 0 } },
  {
    name: 'Suspect is retried at the short interval, Healthy at the normal one',
    passes: [up(0), ...failing(30, 1, ['http'])],
    expect: {
      check: (r) => {
        const again = r.perPass.map((a) => a.find((x) => x.type === 'probe-again-at'));
        expect(again[0]).toMatchObject({ at: T0 + 30_000, fast: false });
        expect(again[1]).toMatchObject({ at: T0 + 30_000 + policy().retryMs, fast: true });
      },
    },
  },
  {
    // A burst of incidents waits for the runbook permits: re-probed every retry meanwhile, 100
    // servers waiting multiplied the fleet's probes by three. The runbook's end looks again at once.
    name: 'Remediating is probed at the normal interval while its runbook runs; after the verdict, the re-probe is at the short one',
    passes: [...failing(0, 3, ['http']), ...failing(15, 1, ['http']), outcome(20, 'http', 'VerifyFailed')],
    expect: {
      runs: 1,
      check: (r) => {
        const again = r.perPass.map((a) => a.find((x) => x.type === 'probe-again-at'));
        expect(again[2]).toMatchObject({ at: T0 + 10_000 + 30_000, fast: false });
        expect(again[3]).toMatchObject({ at: T0 + 15_000 + 30_000, fast: false });
        expect(again[4]).toMatchObject({ at: T0 + 20_000 + policy().retryMs, fast: true });
      },
    },
  },
  // --- Unknown probes (the monitor lagged)
  { name: 'Unknown probes neither count as failures nor reset the count', passes: [...failing(0, 1, ['http']), p(5, { web01: only([], SVCS, ['http']) }), p(10, { web01: only([], SVCS, ['http']) }), ...failing(15, 1, ['http'])], expect: { states: { 'web01/http': 'Suspect' }, runs: 0, check: (r) => expect(r.history.servers.get('web01')?.services.http?.consecutiveFailures).toBe(2) } },
  { name: 'only Unknown probes leave a new service Unknown', passes: [p(0, { web01: only([], SVCS, ['http']) })], expect: { states: { 'web01/http': 'Unknown', 'web01/smtp': 'Healthy' } } },
  {
    name: 'Unknown probes of a Down service start nothing new',
    policy: n1,
    passes: [...failing(0, 1, ['http']), outcome(5, 'http', 'VerifyFailed'), p(10, { web01: only([], SVCS, ['http']) }), p(15, { web01: only([], SVCS, ['http']) })],
    expect: { runs: 1, holds: { 'web01/http': 'AwaitingProbe' } },
  },
  // --- recovery
  { name: 'a Recovered verdict closes the incident and tells the customer', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Recovered')], expect: { states: { 'web01/http': 'Recovered' }, notify: ['recovered'], has: ['close-incident'] } },
  { name: 'Recovered becomes Healthy on the next passing probe', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Recovered'), up(15)], expect: { states: { 'web01/http': 'Healthy' }, runs: 1 } },
  {
    name: 'recovery during remediation: a probe passing mid-runbook waits for the verdict',
    passes: [...failing(0, 3, ['http']), up(12)],
    expect: { states: { 'web01/http': 'Remediating' }, runs: 1, hasNot: ['close-incident'] },
  },
  {
    name: 'recovery during remediation: verify failed, then the service passes on its own',
    passes: [...failing(0, 3, ['http']), up(12), outcome(14, 'http', 'VerifyFailed'), up(20)],
    expect: { states: { 'web01/http': 'Healthy' }, runs: 1, notify: [], check: (r) => expect(r.actions.find((a) => a.type === 'close-incident')).toMatchObject({ reason: 'recovered-by-itself' }) },
  },
  { name: 'Down that passes on its own before a repair closes as recovered-by-itself', servers: [server('web01', { suspend: true })], passes: [...failing(0, 3, ['http']), up(15)], expect: { states: { 'web01/http': 'Healthy' }, runs: 0 } },
  {
    name: 'a second fault right after a recovery is repaired like the first (new incident)',
    passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Recovered'), up(15), ...failing(20, 3, ['http'])],
    expect: {
      runList: ['web01/http#1', 'web01/http#1'],
      check: (r) => {
        const ids = runs(r.actions).map((a) => a.incidentId);
        expect(new Set(ids).size).toBe(2);
      },
    },
  },
  {
    name: 'a second fault straight after the Recovered verdict (no passing probe between) is repaired too',
    passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Recovered'), ...failing(15, 3, ['http'])],
    expect: { runs: 2 },
  },
  // --- one runbook at a time per server (httpd serves http and https)
  {
    name: 'http and https down together: one runbook, https waits (ServerBusy) and closes when its re-probe passes',
    servers: [server('web01', { services: ['ping', 'http', 'https', 'ssh'] })],
    passes: [
      ...[0, 5, 10].map((t) => p(t, { web01: only(['http', 'https'], WEB) })),
      p(11, { web01: only(['http', 'https'], WEB) }),
      outcome(12, 'http', 'Recovered'),
      p(13, { web01: only([], WEB) }),
    ],
    expect: { runList: ['web01/http#1'], states: { 'web01/http': 'Healthy', 'web01/https': 'Healthy' }, holds: { 'web01/https': undefined }, hasNot: ['escalate'] },
  },
  {
    name: 'https held while http runs, still down after http recovered: repaired in its turn',
    servers: [server('web01', { services: ['ping', 'http', 'https', 'ssh'] })],
    passes: [...[0, 5, 10].map((t) => p(t, { web01: only(['http', 'https'], WEB) })), outcome(12, 'http', 'Recovered'), p(13, { web01: only(['https'], WEB) })],
    expect: { runList: ['web01/http#1', 'web01/https#1'] },
  },
  {
    name: 'http escalates on a wrong pass phrase while https was down too: https held (ServerEscalated), no second run, one could-not-recover',
    servers: [server('web01', { services: ['ping', 'http', 'https', 'ssh'] })],
    passes: [...[0, 5, 10].map((t) => p(t, { web01: only(['http', 'https'], WEB) })), outcome(12, 'http', 'PassphraseRequired'), ...[13, 18, 23].map((t) => p(t, { web01: only(['http', 'https'], WEB) }))],
    expect: { runList: ['web01/http#1'], states: { 'web01/http': 'Escalated', 'web01/https': 'Down' }, escalations: { 'web01/http': 'PassphraseRequired' }, holds: { 'web01/https': 'ServerEscalated' }, notify: ['could-not-recover'] },
  },
  {
    name: 'a repair stopped by a missing secret with three services failing: one run, the others held (ServerEscalated), one operator mail and one plain customer mail',
    servers: [server('web01', { services: ['ping', 'http', 'smtp', 'pop3', 'ssh'] })],
    passes: [
      ...[0, 5, 10].map((t) => p(t, { web01: only(['http', 'smtp', 'pop3'], ['ping', 'http', 'smtp', 'pop3', 'ssh']) })),
      outcome(12, 'http', 'SecretMissing'),
      ...[13, 18, 23, 60, 120].map((t) => p(t, { web01: only(['http', 'smtp', 'pop3'], ['ping', 'http', 'smtp', 'pop3', 'ssh']) })),
    ],
    expect: {
      runList: ['web01/http#1'],
      states: { 'web01/http': 'Escalated', 'web01/smtp': 'Down', 'web01/pop3': 'Down' },
      escalations: { 'web01/http': 'SecretMissing' },
      holds: { 'web01/smtp': 'ServerEscalated', 'web01/pop3': 'ServerEscalated' },
      notify: ['provider-fault', 'provider-working'],
    },
  },
  {
    name: 'a server-wide cause (login refused) also holds a service that fails after the escalation: no run, no second mail',
    servers: [server('web01', { services: ['ping', 'http', 'smtp', 'ssh'] })],
    passes: [
      ...failing(0, 3, ['http']),
      outcome(12, 'http', 'ManagementAccessDenied'),
      ...failing(100, 6, ['http', 'smtp']),
    ],
    expect: { runList: ['web01/http#1'], escalations: { 'web01/http': 'ManagementAccessDenied' }, holds: { 'web01/smtp': 'ServerEscalated' }, notify: ['could-not-recover'] },
  },
  {
    name: 'a per-service cause (a wrong pass phrase) does not hold a service that fails later: it is repaired in its turn',
    servers: [server('web01', { services: ['ping', 'http', 'smtp', 'ssh'] })],
    passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'PassphraseRequired'), ...failing(100, 4, ['http', 'smtp'])],
    expect: { runList: ['web01/http#1', 'web01/smtp#1'] },
  },
  {
    name: 'while a runbook runs, the other failing service is held ServerBusy',
    servers: [server('web01', { services: ['ping', 'http', 'https', 'ssh'] })],
    passes: [...[0, 5, 10, 11].map((t) => p(t, { web01: only(['http', 'https'], WEB) }))],
    expect: { runs: 1, states: { 'web01/http': 'Remediating', 'web01/https': 'Down' }, holds: { 'web01/https': 'ServerBusy' } },
  },
  // --- attempts, budgets, escalation
  { name: 'a failed attempt waits for a fresh probe before the next (re-probe first)', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'StepFailed'), p(13, {})], expect: { runs: 1, states: { 'web01/http': 'Down' }, holds: { 'web01/http': 'AwaitingProbe' } } },
  { name: 'after a failed attempt and a failing re-probe, attempt 2 runs', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'VerifyFailed'), ...failing(15, 1, ['http'])], expect: { runList: ['web01/http#1', 'web01/http#2'] } },
  {
    name: 'attempts per incident spent: Escalated, could-not-recover once',
    passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'VerifyFailed'), ...failing(15, 1, ['http']), outcome(17, 'http', 'VerifyFailed'), ...failing(20, 4, ['http'])],
    expect: { runs: 2, states: { 'web01/http': 'Escalated' }, escalations: { 'web01/http': 'AttemptsExhausted' }, notify: ['could-not-recover'] },
  },
  {
    name: 'restart budget per service per hour spent: Escalated (BudgetExhausted)',
    policy: policy({ remediation: { restartsPerServicePerHour: 2, flapping: { transitions: 100 } } }),
    passes: [
      ...failing(0, 3, ['http']), outcome(12, 'http', 'Recovered'), up(15),
      ...failing(20, 3, ['http']), outcome(32, 'http', 'Recovered'), up(35),
      ...failing(40, 3, ['http']),
    ],
    expect: { runs: 2, states: { 'web01/http': 'Escalated' }, escalations: { 'web01/http': 'BudgetExhausted' }, notify: ['recovered', 'recovered', 'could-not-recover'] },
  },
  {
    name: 'the restart budget is a sliding hour: an hour later the service is repaired again',
    policy: policy({ remediation: { restartsPerServicePerHour: 1, flapping: { transitions: 100 } } }),
    passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Recovered'), up(15), ...failing(3700, 3, ['http'])],
    expect: { runs: 2 },
  },
  {
    name: 'a runbook that changed nothing gives its restart back',
    policy: policy({ remediation: { restartsPerServicePerHour: 1, attemptsPerIncident: 3 } }),
    passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'StepFailed', { acted: false }), ...failing(15, 1, ['http'])],
    expect: { runs: 2 },
  },
  { name: 'Escalated is held: failing probes start nothing, tell nobody again', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'ManagementAccessDenied'), ...failing(15, 6, ['http'])], expect: { runs: 1, states: { 'web01/http': 'Escalated' }, notify: ['could-not-recover'] } },
  { name: 'Escalated that recovers on its own is Healthy and closed', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'ManagementAccessDenied'), up(20)], expect: { states: { 'web01/http': 'Healthy' }, check: (r) => expect(r.history.servers.get('web01')?.recent[0]).toMatchObject({ closeReason: 'recovered-by-itself' }) } },
  {
    name: 'mamori resume: an Escalated service gets a new incident and is repaired',
    passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'ManagementAccessDenied'), ...failing(15, 2, ['http']), p(30, { web01: only(['http']) }, { resume: { server: 'web01' } })],
    expect: { runs: 2, states: { 'web01/http': 'Remediating' }, check: (r) => expect(new Set(runs(r.actions).map((a) => a.incidentId)).size).toBe(2) },
  },
  { name: 'resume of another service leaves the Escalated one held', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'ManagementAccessDenied'), p(30, { web01: only(['http']) }, { resume: { server: 'web01', service: 'smtp' } })], expect: { runs: 1, states: { 'web01/http': 'Escalated' } } },
  { name: 'HostKeyMismatch escalates at once (HostKeyChanged), no second attempt', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'HostKeyMismatch'), ...failing(15, 3, ['http'])], expect: { runs: 1, escalations: { 'web01/http': 'HostKeyChanged' } } },
  { name: 'PassphraseRequired escalates at once', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'PassphraseRequired')], expect: { escalations: { 'web01/http': 'PassphraseRequired' }, notify: ['could-not-recover'] } },
  { name: 'a runbook that escalates on purpose (manual console) is RunbookEscalated', passes: [...failing(0, 3, ['ssh']), outcome(12, 'ssh', 'Escalated')], expect: { escalations: { 'web01/ssh': 'RunbookEscalated' } } },
  // --- the blocked path (firewall / TCP wrappers)
  {
    name: 'RemoteAccessBlocked: no restart, access-blocked once, held while the probe fails',
    passes: [...failing(0, 3, ['smtp']), outcome(12, 'smtp', 'RemoteAccessBlocked', { acted: false }), ...failing(15, 8, ['smtp'])],
    expect: { runs: 1, states: { 'web01/smtp': 'Escalated' }, escalations: { 'web01/smtp': 'AccessBlocked' }, notify: ['access-blocked'] },
  },
  { name: 'RemoteAccessBlocked is released when the probe passes', passes: [...failing(0, 3, ['smtp']), outcome(12, 'smtp', 'RemoteAccessBlocked', { acted: false }), up(20)], expect: { states: { 'web01/smtp': 'Healthy' } } },
  // --- crash safety: each attempt at most once
  { name: 'an attempt started and not finished is never started again by later passes', passes: [...failing(0, 3, ['http']), ...failing(15, 5, ['http'])], expect: { runs: 1, states: { 'web01/http': 'Remediating' } } },
  { name: 'interrupted (crash) counts as spent and waits for a re-probe', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Interrupted'), p(13, {})], expect: { runs: 1, holds: { 'web01/http': 'AwaitingProbe' } } },
  { name: 'after an interruption and a failing re-probe the NEXT attempt runs, not the same one', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Interrupted'), ...failing(15, 1, ['http'])], expect: { runList: ['web01/http#1', 'web01/http#2'] } },
  { name: 'interrupted on the last allowed attempt escalates instead of repeating', policy: policy({ remediation: { attemptsPerIncident: 1 } }), passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Interrupted'), ...failing(15, 2, ['http'])], expect: { runs: 1, escalations: { 'web01/http': 'AttemptsExhausted' } } },
  { name: 'interrupted and up on re-probe: closed, nothing re-run', passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'Interrupted'), up(15)], expect: { runs: 1, states: { 'web01/http': 'Healthy' } } },
  // --- the host: one incident, console before power, destructive wait
  {
    name: 'host down with services down is ONE host incident, services held as HostDown',
    policy: noDestructiveWait,
    passes: failing(0, 4, ['ping', 'http', 'ssh', 'smtp']),
    expect: { runList: ['web01/host#1'], holds: { 'web01/http': 'HostDown', 'web01/smtp': 'HostDown', 'web01/ssh': 'HostDown' }, check: (r) => expect(r.actions.filter((a) => a.type === 'open-incident')).toHaveLength(1) },
  },
  { name: 'a host runbook waits one probe interval (destructive wait) before it runs', passes: failing(0, 4, ['ping', 'http']), expect: { runs: 0, holds: { 'web01/ping': 'DestructiveWait' }, has: ['open-incident'] } },
  { name: 'after the destructive wait and a fresh failing probe the host runbook runs', passes: [...failing(0, 3, ['ping', 'http']), ...failing(41, 1, ['ping', 'http'])], expect: { runList: ['web01/host#1'], check: (r) => expect(runs(r.actions)[0]?.destructive).toBe(true) } },
  { name: 'a host that answers again during the wait is not power-cycled', passes: [...failing(0, 3, ['ping', 'http']), up(35), up(45)], expect: { runs: 0, states: { 'web01/ping': 'Healthy' } } },
  {
    name: 'power budget per server per 6 h: a second host incident is Escalated',
    policy: noDestructiveWait,
    passes: [...failing(0, 3, ['ping']), outcome(12, 'host', 'Recovered'), up(15), ...failing(600, 3, ['ping'])],
    expect: { runs: 1, escalations: { 'web01/ping': 'PowerBudgetExhausted' }, notify: ['recovered', 'could-not-recover'] },
  },
  {
    name: 'a host runbook that took no power action (console check only) gives the power budget back',
    policy: policy({ remediation: { destructiveWaitSeconds: 0, flapping: { transitions: 100 } } }),
    passes: [...failing(0, 3, ['ping']), outcome(12, 'host', 'Recovered', { power: 0 }), up(15), ...failing(600, 3, ['ping'])],
    expect: { runs: 2 },
  },
  {
    name: 'the fleet-wide power rate holds a second host (PowerRateLimited), not escalates it',
    servers: [server('a', { address: '10.0.1.10' }), server('b', { address: '10.0.2.10' })],
    policy: policy({ remediation: { destructiveWaitSeconds: 0 }, massFailure: { powerActionsPerHour: 1, minServers: 5 } }),
    passes: [0, 5, 10, 15].map((t) => p(t, { a: only(['ping']), b: only(['ping']) })),
    expect: { runList: ['a/host#1'], holds: { 'b/ping': 'PowerRateLimited' } },
  },
  {
    name: 'a host console check that finds it alive with a broken network escalates (HostUnreachable), no power',
    policy: noDestructiveWait,
    passes: [...failing(0, 3, ['ping']), outcome(12, 'host', 'HostUnreachable', { power: 0, acted: false })],
    expect: { escalations: { 'web01/ping': 'HostUnreachable' }, notify: ['could-not-recover'] },
  },
  // --- SSH, the way in
  { name: 'SSH down goes through its own (console) runbook: target ssh, not host', passes: failing(0, 3, ['ssh']), expect: { runList: ['web01/ssh#1'] } },
  { name: 'SSH down with http down: only the ssh incident, http held as SSHDown', passes: failing(0, 3, ['ssh', 'http']), expect: { runList: ['web01/ssh#1'], holds: { 'web01/http': 'SSHDown' } } },
  { name: 'after SSH is recovered the still-failing http gets its own incident', passes: [...failing(0, 3, ['ssh', 'http']), outcome(12, 'ssh', 'Recovered'), p(15, { web01: only(['http']) })], expect: { runList: ['web01/ssh#1', 'web01/http#1'] } },
  { name: 'SSH and ping down: one host incident only', policy: noDestructiveWait, passes: failing(0, 3, ['ping', 'ssh']), expect: { runList: ['web01/host#1'], holds: { 'web01/ssh': 'HostDown' } } },
  { name: 'without ping subscribed, SSH down still covers the others', servers: [server('web01', { services: ['http', 'ssh', 'smtp'] })], passes: [0, 5, 10].map((t) => p(t, { web01: { http: false, ssh: false, smtp: false } })), expect: { runList: ['web01/ssh#1'] } },
  // --- suspend and maintenance
  { name: 'suspend: probes go on, nothing repaired, status says Suspended', servers: [server('web01', { suspend: true })], passes: failing(0, 5, ['http']), expect: { runs: 0, states: { 'web01/http': 'Down' }, holds: { 'web01/http': 'Suspended' }, has: ['probe-again-at'], hasNot: ['open-incident'] } },
  {
    name: 'maintenance window: nothing repaired, held as Maintenance',
    servers: [server('web01', { maintenance: [{ startMs: T0 - 1000, endMs: T0 + 60_000, reason: 'disk swap' }] })],
    passes: failing(0, 5, ['http']),
    expect: { runs: 0, holds: { 'web01/http': 'Maintenance' } },
  },
  {
    name: 'when the maintenance window ends a still-failing service is repaired',
    servers: [server('web01', { maintenance: [{ startMs: T0 - 1000, endMs: T0 + 20_000 }] })],
    passes: failing(0, 6, ['http']),
    expect: { runList: ['web01/http#1'] },
  },
  { name: 'a maintenance window in the future does not hold anything', servers: [server('web01', { maintenance: [{ startMs: T0 + 3_600_000, endMs: T0 + 7_200_000 }] })], passes: failing(0, 3, ['http']), expect: { runs: 1 } },
  // --- flapping
  {
    name: 'flapping: K transitions within M minutes holds the service (hold-flapping), no restart',
    policy: n1Flap4,
    passes: [...failing(0, 1, ['http']), outcome(2, 'http', 'Recovered'), up(5), ...failing(10, 1, ['http']), outcome(12, 'http', 'Recovered'), up(15), ...failing(20, 1, ['http']), ...failing(25, 2, ['http'])],
    expect: { runs: 2, holds: { 'web01/http': 'Flapping' }, check: (r) => expect(r.actions.filter((a) => a.type === 'hold-flapping')).toHaveLength(1) },
  },
  {
    name: 'flapping ages out of the window and repairs resume',
    policy: n1Flap4,
    passes: [...failing(0, 1, ['http']), outcome(2, 'http', 'Recovered'), up(5), ...failing(10, 1, ['http']), outcome(12, 'http', 'Recovered'), up(15), ...failing(20, 1, ['http']), ...failing(31 * 60, 1, ['http'])],
    expect: { runs: 3 },
  },
  { name: 'a probe alternating up/down without reaching Down never restarts anything', policy: noFlap, passes: [0, 5, 10, 15, 20, 25, 30, 35].map((t, i) => p(t, { web01: only(i % 2 === 0 ? ['http'] : []) })), expect: { runs: 0 } },
  // --- doubt yourself first: mass failure
  {
    name: 'mass failure by network (/24): paused, operator told once, nothing repaired there',
    servers: [...fleet(5, 0), ...fleet(2, 9)],
    policy: policy({ massFailure: { fleetFraction: 1 } }),
    passes: massPasses([...fleet(5, 0), ...fleet(2, 9)], new Set(['s0-0', 's0-1', 's0-2', 's0-3', 's9-0']), 0, 5),
    expect: {
      runList: ['s9-0/http#1'], // smtp waits its turn: one runbook at a time per server
      notify: ['mass-failure-paused'],
      holds: { 's0-0/http': 'MassFailurePaused' },
      // The controller judges server by server: the episode opens when the /24's third server fails
      // (minServers) and its counts follow the fourth.
      check: (r) => {
        expect(r.actions.find((a) => a.type === 'pause-for-mass-failure')).toMatchObject({ episode: { scope: { kind: 'network', value: '10.0.0.0/24' }, total: 5 } });
        expect(r.history.massFailure.get('network:10.0.0.0/24')).toMatchObject({ scope: { kind: 'network', value: '10.0.0.0/24' }, down: 4, total: 5 });
      },
    },
  },
  {
    name: 'mass failure by location (rack) across networks',
    servers: [0, 1, 2, 3].map((i) => server(`r${i}`, { address: `10.0.${i}.10`, services: ['http'], location: { site: 'dojima', rack: 'A12' } })),
    policy: policy({ massFailure: { fleetFraction: 1 } }),
    passes: [0, 5, 10, 15].map((t) => p(t, { r0: { http: false }, r1: { http: false }, r2: { http: false }, r3: { http: true } })),
    expect: { runs: 0, check: (r) => expect(r.actions.find((a) => a.type === 'pause-for-mass-failure')).toMatchObject({ episode: { scope: { kind: 'location', value: 'site=dojima' } } }) },
  },
  {
    name: 'below the fractional threshold of its group, a failing server is repaired',
    servers: fleet(10, 0),
    policy: policy({ massFailure: { fleetFraction: 1 } }),
    passes: massPasses(fleet(10, 0), new Set(['s0-0', 's0-1', 's0-2']), 0, 3),
    expect: { runs: 3, hasNot: ['pause-for-mass-failure'] }, // one runbook per server at a time
  },
  {
    name: 'below the absolute threshold, a failing server is repaired',
    servers: fleet(3, 0),
    passes: massPasses(fleet(3, 0), new Set(['s0-0', 's0-1']), 0, 3),
    expect: { runs: 2, hasNot: ['pause-for-mass-failure'] }, // one runbook per server at a time
  },
  {
    name: 'fleet fraction: servers failing across many networks pause everything',
    servers: [0, 1, 2, 3, 4, 5].map((i) => server(`f${i}`, { address: `10.0.${i}.10`, services: ['http'] })),
    passes: [0, 5, 10].map((t) => p(t, { f0: { http: false }, f1: { http: false }, f2: { http: false }, f3: { http: true }, f4: { http: true }, f5: { http: true } })),
    expect: { runs: 0, check: (r) => expect(r.actions.find((a) => a.type === 'pause-for-mass-failure')).toMatchObject({ episode: { scope: { kind: 'fleet' } } }) },
  },
  {
    name: 'a mass failure clears by itself when the failures clear, and a new episode is told again',
    servers: fleet(4, 0),
    policy: policy({ massFailure: { fleetFraction: 1 } }),
    passes: [...massPasses(fleet(4, 0), new Set(['s0-0', 's0-1', 's0-2', 's0-3']), 0, 3), ...massPasses(fleet(4, 0), new Set(), 15, 1), ...massPasses(fleet(4, 0), new Set(['s0-0', 's0-1', 's0-2']), 100, 1)],
    expect: { runs: 0, notify: ['mass-failure-paused', 'mass-failure-paused'], has: ['clear-mass-failure'] },
  },
  {
    name: 'a canary down pauses remediation everywhere',
    passes: failing(0, 4, ['http']).map((x) => ({ ...x, canaries: [{ address: '10.0.255.1', up: false }] })),
    expect: { runs: 0, holds: { 'web01/http': 'MassFailurePaused' }, notify: ['mass-failure-paused'] },
  },
  {
    name: 'an open incident gets no further attempt while paused',
    passes: [...failing(0, 3, ['http']), outcome(12, 'http', 'VerifyFailed'), ...failing(15, 3, ['http']).map((x) => ({ ...x, canaries: [{ address: '10.0.255.1', up: false }] }))],
    expect: { runs: 1, holds: { 'web01/http': 'MassFailurePaused' } },
  },
  {
    name: 'Escalated servers do not count toward a mass failure',
    servers: fleet(4, 0, { services: ['http'] }),
    policy: policy({ massFailure: { fleetFraction: 1 } }),
    passes: [
      ...massPasses(fleet(4, 0, { services: ['http'] }), new Set(['s0-0', 's0-1']), 0, 3),
      { t: 12, outcomes: [{ server: 's0-0', target: 'http', verdict: 'ManagementAccessDenied' }, { server: 's0-1', target: 'http', verdict: 'ManagementAccessDenied' }] },
      ...massPasses(fleet(4, 0, { services: ['http'] }), new Set(['s0-0', 's0-1', 's0-2']), 15, 3),
    ],
    expect: { hasNot: ['pause-for-mass-failure'], check: (r) => expect(runs(r.actions, 's0-2').length).toBeGreaterThan(0) },
  },
  {
    name: 'Unknown probes do not count toward a mass failure',
    servers: fleet(4, 0),
    passes: [0, 5, 10].map((t) => p(t, Object.fromEntries(fleet(4, 0).map((s) => [s.name, all(s.services, 'unknown')])))),
    expect: { hasNot: ['pause-for-mass-failure'], runs: 0 },
  },
  // --- manifests change
  { name: 'a removed server closes its open incident as removed', passes: [...failing(0, 3, ['http']), p(15, {}, { desired: [] })], expect: { check: (r) => expect(r.actions.find((a) => a.type === 'close-incident')).toMatchObject({ reason: 'removed' }) } },
  { name: 'a service removed from the manifest closes its incident and is forgotten', passes: [...failing(0, 3, ['http']), p(15, {}, { desired: [server('web01', { services: ['ping', 'ssh', 'smtp'] })] })], expect: { states: { 'web01/http': undefined as unknown as string }, check: (r) => expect(r.actions.find((a) => a.type === 'close-incident')).toMatchObject({ reason: 'removed' }) } },
];

describe('decide, through the real controller', () => {
  test('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  test.each(cases)('$name', async (c) => {
    const r = await runScenario(c.servers ?? W, c.passes, c.policy ?? policy());
    const e = c.expect;
    for (const [key, state] of Object.entries(e.states ?? {})) {
      const [s = '', svc = ''] = key.split('/');
      expect(stateOf(r, s, svc as ServiceName), key).toBe(state);
    }
    for (const [key, hold] of Object.entries(e.holds ?? {})) {
      const [s = '', svc = ''] = key.split('/');
      expect(holdOf(r, s, svc as ServiceName), key).toBe(hold);
    }
    for (const [key, reason] of Object.entries(e.escalations ?? {})) {
      const [s = '', svc = ''] = key.split('/');
      expect(stateOf(r, s, svc as ServiceName), key).toBe('Escalated');
      expect(escalationOf(r, s, svc as ServiceName), key).toBe(reason);
    }
    if (e.runs !== undefined) expect(runs(r.actions)).toHaveLength(e.runs);
    if (e.runList !== undefined) expect(runs(r.actions).map((a) => `${a.server}/${a.target}#${a.attempt}`)).toEqual(e.runList);
    if (e.notify !== undefined) expect(notifies(r.actions)).toEqual(e.notify);
    const types = new Set(r.actions.map((a) => a.type));
    for (const t of e.has ?? []) expect(types.has(t), `has ${t}`).toBe(true);
    for (const t of e.hasNot ?? []) expect(types.has(t), `has no ${t}`).toBe(false);
    e.check?.(r);
    // Journal first, act second: every runbook the controller ran has its attempt recorded (opened
    // incident, transition to Remediating) and a `started` record, once, before anything else of it.
    const started = r.journal.filter((x) => x.type === 'started').map((x) => `${String(x.server)}/${String(x.target)}#${String(x.attempt)}`);
    expect(started).toEqual(runs(r.actions).map((a) => `${a.server}/${a.target}#${a.attempt}`));
    for (const a of runs(r.actions)) expect(r.journal.some((x) => x.type === 'incident-opened' && (x.incident as { id?: string } | undefined)?.id === a.incidentId), a.incidentId).toBe(true);
  });
});
