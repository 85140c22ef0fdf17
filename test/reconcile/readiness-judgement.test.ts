/**
 * The pure parts of the scheduled readiness check: a report judged (one cause, whose move it is),
 * one message per cause (and one recovery mail to whoever was told), and checks spread over the
 * interval.
 */
import { describe, expect, test } from 'vitest';
import { escalationClass, isServerWide, sameCause, ToldCauses } from '../../src/reconcile/fault-side.ts';
import { judgeReadiness, type ReadinessContext } from '../../src/reconcile/readiness-verdict.ts';
import { readinessStep } from '../../src/reconcile/readiness-notices.ts';
import { dueAt, nextSlot, slotOffset, startGraceMs } from '../../src/reconcile/readiness-schedule.ts';
import { mergeConditions } from '../../src/status/conditions.ts';
import type { Condition } from '../../src/status/model.ts';
import type { ReadinessReport } from '../../src/runbook/readiness.ts';

type Report = Pick<ReadinessReport, 'conditions' | 'problems'>;
type Status = 'True' | 'False' | 'Unknown';
const OK_LOGIN: { type: 'ManagementAccessDenied'; status: Status; reason: string; message: string } = { type: 'ManagementAccessDenied', status: 'False', reason: 'LoginAndSudoWork', message: 'ok' };
const OK_KEY: { type: 'HostKeyChanged'; status: Status; reason: string; message: string } = { type: 'HostKeyChanged', status: 'False', reason: 'HostKeyMatches', message: 'ok' };
function report(over: { login?: { status: Status; reason: string }; key?: { status: Status; reason: string }; problems?: Array<{ reason: string; message: string }> } = {}): Report {
  return {
    conditions: [
      { ...OK_LOGIN, ...over.login },
      { ...OK_KEY, ...over.key },
      { type: 'RecoveryNotReady', status: over.problems?.length ? 'True' : 'False', reason: over.problems?.[0]?.reason ?? 'Ready', message: '' },
    ],
    problems: over.problems ?? [],
  };
}
const UP: ReadinessContext = { hostAnswers: true, monitorSuspect: false };

describe('judging a readiness report', () => {
  test.each([
    ['a removed key', 'LoginRefused', 'customer', true, report({ login: { status: 'True', reason: 'LoginRefused' } })],
    ['sudo refused', 'SudoRefused', 'customer', true, report({ login: { status: 'True', reason: 'SudoRefused' } })],
    ['a changed host key', 'HostKeyChanged', 'customer', true, report({ login: { status: 'Unknown', reason: 'HostKeyMismatch' }, key: { status: 'True', reason: 'HostKeyMismatch' } })],
    ['SSH blocked while the host answers', 'NetworkBlocked', 'customer', true, report({ login: { status: 'Unknown', reason: 'Unreachable' }, key: { status: 'Unknown', reason: 'Unreachable' } })],
    ['a wrong pass phrase', 'PassphraseRefused', 'customer', false, report({ problems: [{ reason: 'PassphraseRefused', message: 'refused' }] })],
    ['the login secret missing', 'SecretMissing', 'provider', true, report({ login: { status: 'Unknown', reason: 'CredentialsMissing' }, problems: [{ reason: 'SecretMissing', message: 'spec.access.credentials' }] })],
    ['a runbook secret missing', 'SecretMissing', 'provider', true, report({ problems: [{ reason: 'SecretMissing', message: 'spec.secrets.sslPassphrase' }] })],
    ['the BMC silent', 'ConsoleBroken', 'provider', false, report({ problems: [{ reason: 'BmcUnreachable', message: 'no answer' }] })],
    ['no console profile', 'ConsoleBroken', 'provider', false, report({ problems: [{ reason: 'ConsoleProfileMissing', message: 'no profile' }] })],
  ] as const)('%s: %s (%s side)', (_name, cause, side, serverWide, r) => {
    expect(judgeReadiness(r, UP)).toMatchObject({ status: 'False', cause, side, serverWide });
  });

  test('a server-wide cause wins over a per-service one (one cause per server)', () => {
    const r = report({ login: { status: 'True', reason: 'LoginRefused' }, problems: [{ reason: 'BmcUnreachable', message: 'x' }] });
    expect(judgeReadiness(r, UP)).toMatchObject({ cause: 'LoginRefused' });
  });

  test('no SSH and no answer to any probe: not judged (the host is down: the probes deal with it)', () => {
    const r = report({ login: { status: 'Unknown', reason: 'Unreachable' } });
    expect(judgeReadiness(r, { hostAnswers: false, monitorSuspect: false })).toMatchObject({ status: 'Unknown', reason: 'HostUnreachable' });
  });

  test("no SSH on many servers at once: mamori's own network (provider side)", () => {
    const r = report({ login: { status: 'Unknown', reason: 'Unreachable' } });
    expect(judgeReadiness(r, { hostAnswers: true, monitorSuspect: true })).toMatchObject({ status: 'False', cause: 'MonitorNetwork', side: 'provider' });
  });

  test('everything answers: True', () => {
    expect(judgeReadiness(report(), UP).status).toBe('True');
  });

  test('escalations from repairs are classed the same way', () => {
    expect(escalationClass('SecretMissing')).toEqual({ side: 'provider', serverWide: true });
    expect(escalationClass('ConsoleUnavailable')?.side).toBe('provider');
    expect(escalationClass('ManagementAccessDenied')).toEqual({ side: 'customer', serverWide: true });
    expect(escalationClass('PassphraseRequired')).toEqual({ side: 'customer', serverWide: false });
    expect(escalationClass('BudgetExhausted')).toBeUndefined();
    expect(isServerWide('HostKeyChanged')).toBe(true);
    expect(isServerWide('AccessBlocked')).toBe(false);
  });

  test('a repair and the readiness check finding one fault are one cause (told once)', () => {
    expect(sameCause('SecretMissing', 'SecretMissing')).toBe(true);
    expect(sameCause('ManagementAccessDenied', 'LoginRefused')).toBe(true);
    expect(sameCause('ConsoleUnavailable', 'ConsoleBroken')).toBe(true);
    expect(sameCause('SecretMissing', 'LoginRefused')).toBe(false);
    expect(sameCause('BudgetExhausted', 'SecretMissing')).toBe(false);
  });

  test('the first to tell a fault tells it; the same teller may again; the other stays quiet until it is released', () => {
    const told = new ToldCauses();
    expect(told.claim('acme/web01', 'SecretMissing', 'inc-1')).toBe(true);
    expect(told.claim('acme/web01', 'SecretMissing', 'inc-1')).toBe(true);
    expect(told.claim('acme/web01', 'SecretMissing', 'readiness')).toBe(false);
    expect(told.claim('acme/web02', 'SecretMissing', 'readiness')).toBe(true);
    expect(told.claim('acme/web01', 'LoginRefused', 'readiness')).toBe(true);
    expect(told.claim('acme/web01', 'ManagementAccessDenied', 'inc-2')).toBe(false);
    expect(told.claim('acme/web01', 'BudgetExhausted', 'inc-3')).toBe(true);
    told.release('acme/web01', 'inc-1');
    expect(told.claim('acme/web01', 'SecretMissing', 'readiness')).toBe(true);
    told.release('acme/web01');
    expect(told.claim('acme/web01', 'ManagementAccessDenied', 'inc-2')).toBe(true);
  });
});

describe('one message per cause', () => {
  const T = ['2026-12-06T10:00:00.000Z', '2026-12-06T10:01:00.000Z', '2026-12-06T10:02:00.000Z', '2026-12-06T10:03:00.000Z', '2026-12-06T10:04:00.000Z'];
  /** Runs verdicts through readinessStep the way the loop does (the condition merged as the status file keeps it). */
  function run(verdicts: Array<Parameters<typeof readinessStep>[2]>): Array<Array<{ kind: string; audience: string; id: string }>> {
    let prev: Condition | undefined;
    return verdicts.map((v, i) => {
      const now = T[i] ?? T[0]!;
      const step = readinessStep('acme/web01', prev, v, now);
      if (step.condition !== undefined) prev = mergeConditions(prev ? [prev] : [], [step.condition], now)[0];
      return step.mails.map(({ kind, audience, id }) => ({ kind, audience, id }));
    });
  }
  const ready = { status: 'True' as const, message: 'ok' };
  const login = judgeReadiness(report({ login: { status: 'True', reason: 'LoginRefused' } }), UP);
  const secret = judgeReadiness(report({ problems: [{ reason: 'SecretMissing', message: 'x' }] }), UP);
  const down = { status: 'Unknown' as const, reason: 'HostUnreachable', message: 'down' };

  test('customer side: one not-ready to the customer, nothing while it stays, one recovery mail', () => {
    const mails = run([ready, login, login, login, ready]);
    expect(mails).toEqual([
      [],
      [{ kind: 'not-ready', audience: 'customer', id: `readiness:acme/web01:LoginRefused:${T[1]}:not-ready` }],
      [],
      [],
      [{ kind: 'readiness-restored', audience: 'customer', id: `readiness:acme/web01:LoginRefused:${T[1]}:restored:customer` }],
    ]);
  });

  test('provider side: the operator at once and a plain mail to the customer; recovery to both', () => {
    const mails = run([secret, secret, ready]);
    expect(mails[0]?.map((m) => `${m.kind}>${m.audience}`)).toEqual(['provider-fault>operator', 'provider-working>customer']);
    expect(mails[1]).toEqual([]);
    expect(mails[2]?.map((m) => `${m.kind}>${m.audience}`)).toEqual(['readiness-restored>operator', 'readiness-restored>customer']);
  });

  test('the host going down meanwhile changes nothing: no recovery mail, no second mail', () => {
    expect(run([login, down, login, down, ready]).map((m) => m.length)).toEqual([1, 0, 0, 0, 1]);
  });

  test('a first check that is already fine says nothing', () => {
    expect(run([ready, ready])).toEqual([[], []]);
  });
});

describe('checks spread over the interval', () => {
  const H = 3_600_000;
  test('offsets of 1,000 servers fill every tenth of the interval', () => {
    const tenths = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) {
      const o = slotOffset(`acme/web${i}`, H);
      expect(o).toBeGreaterThanOrEqual(0);
      expect(o).toBeLessThan(H);
      tenths[Math.floor((o / H) * 10)]! += 1;
    }
    for (const n of tenths) expect(n).toBeGreaterThan(60);
  });

  test('a server is checked once per interval, at its own offset', () => {
    const id = 'acme/web01';
    const first = nextSlot(id, H, 0);
    expect(nextSlot(id, H, first)).toBe(first + H);
    expect(first % H).toBe(slotOffset(id, H));
  });

  test('not in the first moments after a start; at once (after that) when the manifest or a secret changes', () => {
    const start = 10 * H;
    expect(dueAt({ id: 'a/b', intervalMs: H, startedAt: start })).toBeGreaterThanOrEqual(start + startGraceMs(H));
    expect(dueAt({ id: 'a/b', intervalMs: H, startedAt: start, changedAt: start + 1 })).toBe(start + startGraceMs(H));
    const last = start + H;
    expect(dueAt({ id: 'a/b', intervalMs: H, startedAt: start, lastCheckedAt: last, changedAt: last + 5 })).toBe(last + 5);
    expect(dueAt({ id: 'a/b', intervalMs: H, startedAt: start, lastCheckedAt: last })).toBe(nextSlot('a/b', H, last));
    expect(startGraceMs(24 * H)).toBe(15 * 60_000);
  });
});
