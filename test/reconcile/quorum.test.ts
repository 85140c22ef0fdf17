/**
 * decide's quorum rules (quorum.ts) as a table: the daemon's own probes (vantage `a`) beside the
 * agents' reports (`b`, sometimes `c`), the BMC's power state, and the fleet's disputed count.
 * Each case runs decideServer pass after pass, committing its history as the controller does.
 */
import { describe, expect, test } from 'vitest';
import type { ServiceName } from '../../src/manifest/types.ts';
import { decideServer, emptyServerHistory, type VantageContext } from '../../src/reconcile/decide.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import type { BmcPower, VantageObservation, VantagePolicy } from '../../src/reconcile/quorum.ts';
import type { Action, DesiredServer, ServerHistory } from '../../src/reconcile/types.ts';
import { VantageBoard } from '../../src/reconcile/vantage-board.ts';
import { escalationOf, holdOf, runScenario, runs, server, type ScenarioResult } from './scenario.ts';

const T0 = Date.parse('2026-11-25T00:00:00Z');
const s = (sec: number): number => T0 + sec * 1000;
const NET_A = '10.231.101.0/24';
const NET_B = '10.232.101.0/24';
const NET_C = '10.233.101.0/24';

// N = 1 and a 30 s destructive wait: a host incident opens on the first failing ping and may act from s(30).
const POLICY = policyFromConfig({ probe: { intervalSeconds: 30, failuresToDown: 1 }, remediation: { destructiveWaitSeconds: 30, flapping: { transitions: 100 } } });
const VP: VantagePolicy = { self: { name: 'a', network: NET_A }, remotes: [{ name: 'b', network: NET_B }], power: 2, freshMs: 90_000, manyServers: 3 };
const VP3: VantagePolicy = { ...VP, remotes: [...VP.remotes, { name: 'c', network: NET_C }] };
const WEB: DesiredServer = { name: 'acme/web01', address: '10.0.0.10', services: ['ping', 'http'], suspend: false, maintenance: [] };
const HTTP: DesiredServer = { ...WEB, services: ['http'] };

interface Report {
  vantage?: string;
  service: ServiceName;
  up: boolean | 'unknown';
  /** Seconds after T0 (taken-at). */
  at: number;
}
interface Step {
  t: number;
  /** The daemon's own probes this pass (taken at t). */
  self?: Partial<Record<ServiceName, boolean>>;
  /** Agents' reports received this pass. */
  reports?: Report[];
  bmc?: BmcPower;
  disputed?: number;
  doubted?: string[];
}

interface Run {
  actions: Action[];
  history: ServerHistory | undefined;
}

function run(steps: Step[], options: { server?: DesiredServer; vp?: VantagePolicy | undefined } = {}): Run {
  const desired = options.server ?? WEB;
  const vp = 'vp' in options ? options.vp : VP;
  let history: ServerHistory | undefined;
  const latest = new Map<string, VantageObservation>();
  const actions: Action[] = [];
  for (const step of steps) {
    const now = s(step.t);
    for (const r of step.reports ?? []) latest.set(`${r.vantage ?? 'b'}/${r.service}`, { vantage: r.vantage ?? 'b', up: r.up, at: s(r.at), receivedAt: now });
    const observed = Object.fromEntries(Object.entries(step.self ?? {}).map(([svc, up]) => [svc, { up, at: now, latencyMs: 1 }]));
    const reports: Partial<Record<ServiceName, VantageObservation[]>> = {};
    for (const [key, o] of latest) (reports[key.split('/')[1] as ServiceName] ??= []).push(o);
    const vantage: VantageContext | undefined =
      vp === undefined ? undefined : { policy: vp, reports, disputedServers: step.disputed ?? 0, ...(step.bmc !== undefined ? { bmc: step.bmc } : {}), ...(step.doubted !== undefined ? { doubted: step.doubted } : {}) };
    const d = decideServer(desired, observed, history, { policy: POLICY, now, fleetPowerActions: [], vantage });
    history = d.history;
    actions.push(...d.actions);
  }
  return { actions, history };
}

const runbooks = (r: Run): string[] => r.actions.flatMap((a) => (a.type === 'run-runbook' ? [a.target] : []));
const notifies = (r: Run): string[] => r.actions.flatMap((a) => (a.type === 'notify' ? [a.kind] : []));
const hold = (r: Run, svc: ServiceName): string | undefined => r.history?.services[svc]?.hold;
const escalation = (r: Run, svc: ServiceName): string | undefined => r.history?.services[svc]?.escalation;
const quorums = (r: Run): Array<Extract<Action, { type: 'quorum' }>> => r.actions.filter((a): a is Extract<Action, { type: 'quorum' }> => a.type === 'quorum');

const hostDown = { ping: false, http: false };
const allUp = { ping: true, http: true };

interface Case {
  name: string;
  steps: Step[];
  server?: DesiredServer;
  vp?: VantagePolicy | undefined;
  runs: string[];
  hold?: [ServiceName, string | undefined];
  escalation?: [ServiceName, string];
  notify?: string[];
  check?: (r: Run) => void;
}

const cases: Case[] = [
  {
    name: 'no vantages configured: a host down is power-handled after the wait, as today',
    vp: undefined,
    steps: [{ t: 0, self: hostDown }, { t: 31, self: hostDown }],
    runs: ['host'],
    check: (r) => expect(quorums(r)).toEqual([]),
  },
  {
    name: 'host down from both vantages after the wait, BMC on: power cycle',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 30 }] }],
    runs: ['host'],
    check: (r) => {
      const q = quorums(r).at(-1);
      expect(q?.note.judgement).toBe('power-cycle');
      expect(q?.note.votes.map((v) => `${v.vantage}:${v.up}`)).toEqual(['a:false', 'b:false']);
    },
  },
  {
    name: 'the agent never reported: VantageLost, operator told, no power cycle on one vantage\'s word',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on' }, { t: 61, self: hostDown, bmc: 'on' }],
    runs: [],
    hold: ['ping', 'VantageLost'],
    notify: ['vantage-lost'],
  },
  {
    name: 'a stale report (older than the freshness window) is no vote',
    steps: [{ t: 0, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: -200 }] }, { t: 31, self: hostDown, bmc: 'on' }],
    runs: [],
    hold: ['ping', 'VantageLost'],
    notify: ['vantage-lost'],
  },
  {
    name: 'an unknown report (the agent lagged) is no vote',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: 'unknown', at: 30 }] }],
    runs: [],
    hold: ['ping', 'VantageLost'],
  },
  {
    name: 'a failing vote taken before the wait ended waits for the next one (AwaitingVotes), which allows the cycle',
    steps: [
      { t: 0, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 0 }] },
      { t: 31, self: hostDown, bmc: 'on' },
      { t: 45, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 40 }] },
    ],
    runs: ['host'],
    check: (r) => expect(quorums(r).map((q) => q.note.judgement)).toEqual(['pending', 'power-cycle']),
  },
  {
    name: 'agent lost mid-incident: its vote before the wait goes stale, VantageLost, no power cycle',
    steps: [
      { t: 0, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 0 }] },
      { t: 31, self: hostDown, bmc: 'on' },
      { t: 95, self: hostDown, bmc: 'on' },
    ],
    runs: [],
    hold: ['ping', 'VantageLost'],
    notify: ['vantage-lost'],
  },
  {
    name: 'votes at different times: self after the wait, the agent fresh and after the wait (but earlier than self): cycle',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 50, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 31 }] }],
    runs: ['host'],
  },
  {
    name: 'votes outside the window: the agent voted after the wait but 100 s ago: lost',
    steps: [{ t: 0, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 31 }] }, { t: 140, self: hostDown, bmc: 'on' }],
    runs: [],
    hold: ['ping', 'VantageLost'],
  },
  {
    name: 'BMC off: powered on at once, no quorum and no destructive wait',
    steps: [{ t: 0, self: hostDown, bmc: 'off' }],
    runs: ['host'],
    check: (r) => expect(quorums(r).at(-1)?.note.judgement).toBe('power-on'),
  },
  {
    name: 'BMC off while the agent sees the host up: the BMC\'s word stands, powered on',
    steps: [{ t: 0, self: hostDown, bmc: 'off', reports: [{ service: 'ping', up: true, at: 0 }] }],
    runs: ['host'],
  },
  {
    name: 'BMC unknown and the agent lost: no power cycle (VantageLost)',
    steps: [{ t: 0, self: hostDown, bmc: 'unknown' }, { t: 31, self: hostDown, bmc: 'unknown' }],
    runs: [],
    hold: ['ping', 'VantageLost'],
  },
  {
    name: 'BMC unknown and both vantages fail after the wait: the runbook runs (it checks the console first)',
    steps: [{ t: 0, self: hostDown, bmc: 'unknown' }, { t: 31, self: hostDown, bmc: 'unknown', reports: [{ service: 'ping', up: false, at: 31 }] }],
    runs: ['host'],
  },
  {
    name: 'host down from a, up from b (one server): access-blocked naming the missing network, no runbook',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: true, at: 30 }] }],
    runs: [],
    escalation: ['ping', 'AccessBlocked'],
    notify: ['access-blocked'],
    check: (r) => {
      const n = r.actions.find((a) => a.type === 'notify');
      expect(n?.type === 'notify' ? n.missingNetworks : undefined).toEqual([NET_A]);
      expect(r.history?.services.http?.hold).toBe('HostDown');
    },
  },
  {
    name: 'an "up" taken before the failure began is no dispute and no vote: it waits for the next report',
    steps: [{ t: 0, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: true, at: -5 }] }, { t: 31, self: hostDown, bmc: 'on' }],
    runs: [],
    hold: ['ping', 'AwaitingVotes'],
  },
  {
    name: 'a service down from a, up from b (one server): access-blocked naming the missing network, no restart',
    server: HTTP,
    steps: [{ t: 0, self: { http: false }, reports: [{ service: 'http', up: true, at: 0 }] }],
    runs: [],
    escalation: ['http', 'AccessBlocked'],
    notify: ['access-blocked'],
    check: (r) => {
      const n = r.actions.find((a) => a.type === 'notify');
      expect(n?.type === 'notify' ? n.missingNetworks : undefined).toEqual([NET_A]);
      expect(quorums(r)[0]?.note.missingNetworks).toEqual([NET_A]);
    },
  },
  {
    name: 'a service down from a, up from b, many servers disputed: held, the operator told, nothing done',
    server: HTTP,
    steps: [{ t: 0, self: { http: false }, reports: [{ service: 'http', up: true, at: 0 }], disputed: 5 }, { t: 5, self: { http: false }, disputed: 5 }],
    runs: [],
    hold: ['http', 'VantageDisagreement'],
    notify: ['vantage-disagreement'],
  },
  {
    name: 'a service down from both: restarted as today',
    server: HTTP,
    steps: [{ t: 0, self: { http: false }, reports: [{ service: 'http', up: false, at: 0 }] }],
    runs: ['http'],
  },
  {
    name: 'a service down from a, the agent\'s fresh "up" from before the failure: the restart waits for its next report',
    server: HTTP,
    steps: [
      { t: 0, self: { http: false }, reports: [{ service: 'http', up: true, at: -2 }] },
      { t: 1, self: { http: false } },
      { t: 2, self: { http: false }, reports: [{ service: 'http', up: false, at: 2 }] },
    ],
    runs: ['http'],
    check: (r) => expect(quorums(r).map((q) => q.note.judgement)).toEqual(['pending']),
  },
  {
    name: 'a service down from a, the agent lost: restarted as today (a restart needs no quorum)',
    server: HTTP,
    steps: [{ t: 0, self: { http: false } }],
    runs: ['http'],
  },
  {
    name: 'a disagreement clears by itself: the primary path comes back, Healthy, incident closed',
    server: HTTP,
    steps: [
      { t: 0, self: { http: false }, reports: [{ service: 'http', up: true, at: 0 }] },
      { t: 30, self: { http: true }, reports: [{ service: 'http', up: true, at: 30 }] },
    ],
    runs: [],
    check: (r) => {
      expect(r.history?.services.http?.state).toBe('Healthy');
      expect(r.history?.services.http?.quorum).toBeUndefined();
      expect(r.actions.some((a) => a.type === 'close-incident' && a.reason === 'recovered-by-itself')).toBe(true);
    },
  },
  {
    name: 'a vantage whose own breaker tripped is no vote',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 31 }], doubted: ['b'] }],
    runs: [],
    hold: ['ping', 'VantageLost'],
  },
  {
    name: 'three vantages, one lost: two failing votes are a quorum',
    vp: VP3,
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on', reports: [{ vantage: 'c', service: 'ping', up: false, at: 31 }] }],
    runs: ['host'],
    check: (r) => expect(quorums(r).at(-1)?.note.lost).toEqual(['b']),
  },
  {
    name: 'quorum.power 1: the daemon\'s own word is enough (the operator chose it)',
    vp: { ...VP, power: 1 },
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on' }],
    runs: ['host'],
  },
  {
    name: 'VantageLost is said to the operator once per incident however long it holds',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on' }, { t: 40, self: hostDown, bmc: 'on' }, { t: 50, self: hostDown, bmc: 'on' }],
    runs: [],
    notify: ['vantage-lost'],
    check: (r) => expect(quorums(r)).toHaveLength(1),
  },
  {
    name: 'the agent comes back after VantageLost with a failing vote: the power cycle goes ahead',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on' }, { t: 60, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 58 }] }],
    runs: ['host'],
    notify: ['vantage-lost'],
  },
  {
    name: 'BMC on, then off mid-incident (before the wait ends): powered on at once, the wait not awaited',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 10, self: hostDown, bmc: 'off' }],
    runs: ['host'],
    check: (r) => {
      expect(quorums(r).at(-1)?.note.judgement).toBe('power-on');
      expect(r.actions.find((a) => a.type === 'run-runbook')).toBeDefined();
    },
  },
  {
    name: 'BMC unknown and the agent sees the host answer since the failure: disputed, no power action (access-blocked)',
    steps: [{ t: 0, self: hostDown, bmc: 'unknown' }, { t: 31, self: hostDown, bmc: 'unknown', reports: [{ service: 'ping', up: true, at: 20 }] }],
    runs: [],
    escalation: ['ping', 'AccessBlocked'],
    notify: ['access-blocked'],
  },
  {
    name: 'a report slightly ahead of the daemon\'s clock (skew inside the bound) is a fresh vote',
    steps: [{ t: 0, self: hostDown, bmc: 'on' }, { t: 31, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 33 }] }],
    runs: ['host'],
  },
  {
    name: 'the agent\'s newest report wins: down after the wait, then up again: disputed, no power cycle',
    steps: [
      { t: 0, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: false, at: 0 }] },
      { t: 25, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: true, at: 25 }] },
      { t: 31, self: hostDown, bmc: 'on' },
    ],
    runs: [],
    escalation: ['ping', 'AccessBlocked'],
  },
  {
    name: 'the agent\'s "up" from before the failure, never renewed (the agent lost mid-incident): AwaitingVotes, then VantageLost once it ages out',
    steps: [
      { t: 0, self: hostDown, bmc: 'on', reports: [{ service: 'ping', up: true, at: -5 }] },
      { t: 31, self: hostDown, bmc: 'on' },
      { t: 90, self: hostDown, bmc: 'on' },
    ],
    runs: [],
    hold: ['ping', 'VantageLost'],
    notify: ['vantage-lost'],
    check: (r) => expect(quorums(r).map((q) => q.note.judgement)).toEqual(['pending', 'lost']),
  },
  {
    name: 'healthy everywhere: no quorum judgement at all',
    steps: [{ t: 0, self: allUp, reports: [{ service: 'ping', up: true, at: 0 }] }, { t: 30, self: allUp }],
    runs: [],
    check: (r) => expect(quorums(r)).toEqual([]),
  },
];

describe('decide: quorum across vantage points', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = run(c.steps, { ...(c.server !== undefined ? { server: c.server } : {}), ...('vp' in c ? { vp: c.vp } : {}) });
    expect(runbooks(r)).toEqual(c.runs);
    if (c.hold !== undefined) expect(hold(r, c.hold[0])).toBe(c.hold[1]);
    if (c.escalation !== undefined) expect(escalation(r, c.escalation[0])).toBe(c.escalation[1]);
    if (c.notify !== undefined) expect(notifies(r)).toEqual(c.notify);
    c.check?.(r);
  });
  test('at least 15 cases', () => expect(cases.length).toBeGreaterThanOrEqual(15));
});

describe("the board keeps the BMC's word until it is asked again", () => {
  // The fastest settings: a 0.5 s interval, the BMC asked again at most every 5 s.
  const fast = policyFromConfig({ probe: { intervalSeconds: 0.5, retryIntervalSeconds: 0.2 } });
  const bmcAt = (board: VantageBoard, now: number, powerActions: number[] = []): BmcPower | undefined =>
    board.contextFor(WEB, undefined, { ...emptyServerHistory(), powerActions }, now, 1, fast).bmc;

  test('used between two asks even when the interval is shorter (a powered-off host is powered on at once)', () => {
    const board = new VantageBoard(VP, { maxSkewMs: 30_000 });
    board.setBmc(WEB.name, 'off', s(0));
    expect(bmcAt(board, s(3))).toBe('off');
    expect(bmcAt(board, s(5))).toBe('off');
    expect(bmcAt(board, s(5.5))).toBeUndefined();
  });

  test('many servers disputed by one report are counted at once, not one per pass (the first is not taken for one customer\'s firewall)', () => {
    const board = new VantageBoard(VP, { maxSkewMs: 30_000 });
    const servers = ['acme/web01', 'acme/web02', 'acme/web03'].map((name) => ({ ...HTTP, name }));
    // Each server's pass saw http fail from the daemon's network (the agent's news not in yet).
    for (const d of servers) expect(board.contextFor(d, { http: { up: false, at: s(10), latencyMs: 1 } }, undefined, s(10), 3, fast).disputedServers).toBe(0);
    // One report: all three answer from the agent's network.
    board.accept('b', { vantage: 'b', sentAt: s(12), observations: servers.map((d) => ({ server: d.name, service: 'http' as const, up: true, at: s(11) })) }, s(12), () => true);
    // The first server's next pass already counts all three.
    const first = servers[0] as DesiredServer;
    expect(board.contextFor(first, { http: { up: false, at: s(10), latencyMs: 1 } }, undefined, s(12.1), 3, fast).disputedServers).toBe(3);
  });

  test('a word from before the newest power action is not used', () => {
    const board = new VantageBoard(VP, { maxSkewMs: 30_000 });
    board.setBmc(WEB.name, 'off', s(0));
    expect(bmcAt(board, s(2), [s(1)])).toBeUndefined();
    board.setBmc(WEB.name, 'on', s(3));
    expect(bmcAt(board, s(4), [s(1)])).toBe('on');
  });
});

describe('the controller with vantage points (the real pass: board → decide → journal)', () => {
  const board = (): VantageBoard => new VantageBoard(VP, { maxSkewMs: 30_000 });
  const web = server('web01', { services: ['ping', 'http'] });
  const down = { web01: { ping: false, http: false } };
  const journalOf = (r: ScenarioResult, type: string) => r.journal.filter((j) => j.type === type);

  test('the agent killed: VantageLost, no power cycle on one vantage\'s word, the votes journaled', async () => {
    const r = await runScenario([web], [{ t: 0, probes: down, bmc: { web01: 'on' } }, { t: 31, probes: down, bmc: { web01: 'on' } }, { t: 40, probes: down, bmc: { web01: 'on' } }], POLICY, { vantages: board() });
    expect(runs(r.actions).length).toBe(0);
    expect(holdOf(r, 'web01', 'ping')).toBe('VantageLost');
    expect(journalOf(r, 'quorum').map((j) => [j.judgement, j.lost])).toEqual([['lost', ['b']]]);
    expect(journalOf(r, 'notify').map((j) => j.kind)).toEqual(['vantage-lost']);
  });

  test('both vantages see the host fail after the wait: the power runbook runs, with both votes journaled', async () => {
    const r = await runScenario(
      [web],
      [
        { t: 0, probes: down, bmc: { web01: 'on' }, reports: [{ vantage: 'b', server: 'web01', service: 'ping', up: false, at: 0 }] },
        { t: 31, probes: down, bmc: { web01: 'on' }, reports: [{ vantage: 'b', server: 'web01', service: 'ping', up: false, at: 31 }] },
      ],
      POLICY,
      { vantages: board() },
    );
    expect(runs(r.actions).length).toBe(1);
    const q = journalOf(r, 'quorum').at(-1);
    expect(q?.judgement).toBe('power-cycle');
    expect((q?.votes as Array<{ vantage: string; up: boolean }>).map((v) => `${v.vantage}:${v.up}`)).toEqual(['a:false', 'b:false']);
  });

  test('a host its BMC reports off is powered on at once, before the destructive wait and without the agent', async () => {
    const r = await runScenario([web], [{ t: 0, probes: down, bmc: { web01: 'off' } }], POLICY, { vantages: board() });
    expect(runs(r.actions).length).toBe(1);
    expect(journalOf(r, 'quorum').map((j) => j.judgement)).toEqual(['power-on']);
  });

  test('down from the primary, up from the agent: access-blocked naming the missing network, no runbook', async () => {
    const only = server('web01', { services: ['http'] });
    const r = await runScenario([only], [{ t: 0, probes: { web01: { http: false } }, reports: [{ vantage: 'b', server: 'web01', service: 'http', up: true, at: 0 }] }], POLICY, { vantages: board() });
    expect(runs(r.actions).length).toBe(0);
    expect(escalationOf(r, 'web01', 'http')).toBe('AccessBlocked');
    expect(journalOf(r, 'notify').map((j) => [j.kind, j.missingNetworks])).toEqual([['access-blocked', [NET_A]]]);
  });
});
