/**
 * The takeover's pure parts: which incidents are still open in etcd, and how long a new step on a
 * server waits for a previous owner's step that may still be under way.
 */
import { describe, expect, it } from 'vitest';
import { openIncidentsOf, type StepRecord } from '../../src/cluster/claims.ts';
import { hostEvidence, inFlightUntil, judgeInDoubt, quarantineUntil, type HostFact } from '../../src/cluster/takeover.ts';

const TTL = 3_000;
const DEADLINE = 10_000;

function step(over: Partial<StepRecord> & Pick<StepRecord, 'incident' | 'step'>): StepRecord {
  return { service: 'http', kind: 'restart', replica: 'r-1', token: 6, intentAt: 1_000, deadlineMs: DEADLINE, revision: 1, ...over };
}

const closed = (incident: string, at: number): StepRecord =>
  step({ incident, step: 'closed', kind: 'other', deadlineMs: 0, intentAt: at, outcome: { result: 'recovered', at, by: 'r-3', token: 9 } });

describe('openIncidentsOf', () => {
  it('an incident with steps and no closed record is open; a closed one is not', () => {
    const steps = [step({ incident: 'http@6', step: 'a#1' }), step({ incident: 'http@2', step: 'b#1', intentAt: 500 }), closed('http@2', 800)];
    expect(openIncidentsOf(steps)).toEqual([{ incident: 'http@6', service: 'http', lastIntentAt: 1_000, tokens: [6] }]);
  });

  it('keeps the newest intent and every token of an incident continued by a new owner, oldest incident first', () => {
    const steps = [
      step({ incident: 'host@9', step: 'x#1', service: 'host', kind: 'power', intentAt: 4_000 }),
      step({ incident: 'http@6', step: 'a#1', intentAt: 1_000 }),
      step({ incident: 'http@6', step: 'a#2', token: 11, replica: 'r-2', intentAt: 2_500 }),
    ];
    expect(openIncidentsOf(steps)).toEqual([
      { incident: 'http@6', service: 'http', lastIntentAt: 2_500, tokens: [6, 11] },
      { incident: 'host@9', service: 'host', lastIntentAt: 4_000, tokens: [6] },
    ]);
  });
});

describe('inFlightUntil: a new step waits for a previous owner that may still be mid-command', () => {
  const now = 5_000;
  it('a step without an outcome under another claim holds the server until its quarantine', () => {
    const s = step({ incident: 'http@6', step: 'a#1' });
    expect(inFlightUntil([s], 20, now, TTL)).toEqual({ until: 1_000 + DEADLINE, record: s });
  });

  it('a step judged by another replica (its own may still be paused) holds it too', () => {
    // The CI failure's shape: r-3 closed r-1's step when the service answered; r-1's restart of a
    // later fault must not start while r-1's old command could still land.
    const s = step({ incident: 'http@6', step: 'a#1', outcome: { result: 'in-doubt-answered', at: 3_000, by: 'r-3', token: 9 } });
    expect(inFlightUntil([s, closed('http@6', 3_000)], 20, now, TTL)?.until).toBe(1_000 + DEADLINE);
  });

  it('the same replica name restarted is another claim: judged by its new token, still held', () => {
    const s = step({ incident: 'http@6', step: 'a#1', outcome: { result: 'in-doubt-escalated', at: 3_000, by: 'r-1', token: 14 } });
    expect(inFlightUntil([s], 20, now, TTL)).toBeDefined();
  });

  it('a step finished by its own claim, one of ours, one past its quarantine, or a close record holds nothing', () => {
    const own = step({ incident: 'http@6', step: 'a#1', outcome: { result: 'Recovered', at: 2_000, by: 'r-1', token: 6 } });
    const ours = step({ incident: 'http@20', step: 'c#1', token: 20 });
    const old = step({ incident: 'http@3', step: 'd#1', intentAt: -20_000 });
    expect(inFlightUntil([own, ours, old, closed('http@6', 2_000)], 20, now, TTL)).toBeUndefined();
  });

  it('a power step holds the TTL longer than its deadline (the BMC checks no token); the latest wins', () => {
    const r = step({ incident: 'http@6', step: 'a#1' });
    const p = step({ incident: 'host@7', step: 'p#1', kind: 'power', service: 'host', intentAt: 900 });
    expect(quarantineUntil(p, TTL)).toBe(900 + TTL + DEADLINE);
    expect(inFlightUntil([r, p], 20, now, TTL)).toEqual({ until: 900 + TTL + DEADLINE, record: p });
  });
});

describe('judgeInDoubt', () => {
  it('waits the quarantine, then the service answering means recovered, else escalates', () => {
    const s = step({ incident: 'http@6', step: 'a#1' });
    expect(judgeInDoubt(s, { serviceUp: true, host: 'unknown' }, 5_000, TTL)).toEqual({ kind: 'wait', until: 11_000 });
    expect(judgeInDoubt(s, { serviceUp: true, host: 'unknown' }, 11_000, TTL)).toEqual({ kind: 'recovered' });
    expect(judgeInDoubt(s, { serviceUp: false, host: 'unknown' }, 11_000, TTL).kind).toBe('escalate');
  });

  it('the host showing the step ran: not repeated, a verify window from when it ran, then a person decides', () => {
    const s = step({ incident: 'http@6', step: 'a#1' });
    expect(judgeInDoubt(s, { serviceUp: false, host: 'acted', hostAt: 3_000 }, 12_000, TTL, 30_000)).toEqual({ kind: 'verify', until: 33_000 });
    const late = judgeInDoubt(s, { serviceUp: false, host: 'acted', hostAt: 3_000, detail: 'the process started after the intent' }, 33_000, TTL, 30_000);
    expect(late.kind).toBe('escalate');
    expect(late.kind === 'escalate' && late.reason).toContain('ran under the previous owner r-1 (the process started after the intent)');
    // The answer still wins over anything the host says.
    expect(judgeInDoubt(s, { serviceUp: true, host: 'acted', hostAt: 3_000 }, 12_000, TTL, 30_000)).toEqual({ kind: 'recovered' });
  });

  it('the host showing the step did not run, the service down: issued once by the new owner — never before the quarantine', () => {
    const p = step({ incident: 'host@6', step: 'p#1', kind: 'power', service: 'host' });
    expect(judgeInDoubt(p, { serviceUp: false, host: 'not-acted' }, 1_000 + DEADLINE + TTL - 1, TTL)).toEqual({ kind: 'wait', until: 1_000 + DEADLINE + TTL });
    expect(judgeInDoubt(p, { serviceUp: false, host: 'not-acted' }, 1_000 + DEADLINE + TTL, TTL)).toEqual({ kind: 'reissue' });
  });
});

describe('hostEvidence: what the host says about a step in doubt (intent at 100 s)', () => {
  const intent = 100_000;
  const restart = step({ incident: 'http@6', step: 'a#1', intentAt: intent });
  const power = step({ incident: 'host@6', step: 'p#1', kind: 'power', service: 'host', intentAt: intent });
  const table: Array<[string, StepRecord, HostFact, 'acted' | 'not-acted' | 'unknown']> = [
    ['restart: the process started after the intent', restart, { kind: 'process', startedAt: intent + 5_000 }, 'acted'],
    ['restart: the process runs since before the intent', restart, { kind: 'process', startedAt: intent - 60_000 }, 'not-acted'],
    ['restart: started within the margin of the intent', restart, { kind: 'process', startedAt: intent + 1_000 }, 'unknown'],
    ['restart: no process (a restart may have run and died)', restart, { kind: 'no-process' }, 'unknown'],
    ['restart: the host rebooted after the intent', restart, { kind: 'booted', at: intent + 30_000 }, 'acted'],
    ['restart: the host up since long before says nothing of a restart', restart, { kind: 'booted', at: intent - 86_400_000 }, 'unknown'],
    ['restart: the BMC reports off', restart, { kind: 'power', state: 'off' }, 'unknown'],
    ['restart: no login', restart, { kind: 'unknown', why: 'no SSH login (Unreachable)' }, 'unknown'],
    ['power: the BMC reports the host off', power, { kind: 'power', state: 'off' }, 'not-acted'],
    ['power: the BMC reports on, no boot time', power, { kind: 'power', state: 'on' }, 'unknown'],
    ['power: booted after the intent', power, { kind: 'booted', at: intent + 20_000 }, 'acted'],
    ['power: up since before the intent (not cycled)', power, { kind: 'booted', at: intent - 3_600_000 }, 'not-acted'],
    ['power: booted within the margin', power, { kind: 'booted', at: intent - 1_000 }, 'unknown'],
    ['power: a process start says nothing of power', power, { kind: 'process', startedAt: intent + 5_000 }, 'unknown'],
    ['power: the BMC cannot be asked', power, { kind: 'unknown', why: 'no BMC' }, 'unknown'],
  ];
  it.each(table)('%s', (_what, record, fact, want) => {
    const ev = hostEvidence(record, fact);
    expect(ev.host).toBe(want);
    expect(ev.detail.length).toBeGreaterThan(0);
    if (want === 'acted') expect(ev.at).toBeGreaterThan(intent);
  });
});
