/**
 * A scripted month of journal records (simulated clock: every time is written down, nothing is
 * measured): three incidents with known durations, a clean two-hour daemon stop, a 30-minute crash
 * gap, a server added mid-month and one removed. The report's figures must match to the second.
 */
import { describe, expect, it } from 'vitest';
import { computeMonthlyReport, monthBounds } from '../../src/report/compute.ts';
import type { JournalRecord } from '../../src/status/journal.ts';

const T = (s: string): number => Date.parse(s);
const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const DAY = 24 * H;

interface Draft {
  at: number;
  order: number;
  rec: Omit<JournalRecord, 'seq' | 'ts'>;
}

/** The journal of a month: heartbeats every 5 minutes except in the gaps, and the scripted events. */
function scriptedJournal(): JournalRecord[] {
  const drafts: Draft[] = [];
  const add = (iso: string | number, rec: Draft['rec'], order = 1): void => {
    const at = typeof iso === 'number' ? iso : T(iso);
    drafts.push({ at, order, rec: { ...rec, at } });
  };
  const desired = (iso: string, servers: Array<[string, string, string[]]>): void =>
    add(iso, { type: 'monitor-desired', servers: servers.map(([name, customer, services]) => ({ name, customer, services })) }, 0.5);
  const tr = (iso: string, server: string, service: string, from: string, to: string): void => add(iso, { type: 'transition', server, service, from, to, reason: 'test' });

  const start = T('2026-02-27T00:00:00Z');
  const stop = T('2026-03-15T00:00:00Z');
  const restart = T('2026-03-15T02:00:00Z');
  const crashLast = T('2026-03-25T06:00:00Z');
  const crashRestart = T('2026-03-25T06:30:00Z');
  const end = T('2026-04-02T00:00:00Z');
  for (let t = start; t <= end; t += 5 * MIN) {
    if (t > stop && t < restart) continue;
    if (t > crashLast && t < crashRestart) continue;
    if (t === start || t === restart || t === crashRestart) add(t, { type: 'monitor-started', heartbeatMs: 5 * MIN }, 0);
    else add(t, { type: 'monitor-heartbeat' }, 0.2);
  }
  add(stop, { type: 'monitor-stopped' }, 2);

  desired('2026-02-27T00:00:00Z', [
    ['web1', 'acme', ['ping', 'http']],
    ['web3', 'acme', ['http']],
    ['other1', 'beta', ['http']],
  ]);
  for (const [server, service] of [['web1', 'ping'], ['web1', 'http'], ['web3', 'http'], ['other1', 'http']] as const) tr('2026-02-27T00:00:10Z', server, service, 'Unknown', 'Healthy');

  // Incident 1: web1 http, down 10:00:00 → recovered 10:02:00 (120 s down); opened 10:00:10, TTR 110 s.
  tr('2026-03-05T10:00:00Z', 'web1', 'http', 'Healthy', 'Suspect');
  tr('2026-03-05T10:00:10Z', 'web1', 'http', 'Suspect', 'Down');
  add('2026-03-05T10:00:10Z', { type: 'incident-opened', server: 'web1', incident: { id: 'inc-1', server: 'web1', target: 'http', openedAt: T('2026-03-05T10:00:10Z'), detectedAt: T('2026-03-05T10:00:00Z'), attempts: [], notified: [] } });
  tr('2026-03-05T10:00:10Z', 'web1', 'http', 'Down', 'Remediating');
  add('2026-03-05T10:00:11Z', { type: 'started', server: 'web1', target: 'http', incidentId: 'inc-1', attempt: 1, destructive: false });
  add('2026-03-05T10:01:40Z', {
    type: 'finished', server: 'web1', target: 'http', incidentId: 'inc-1', attempt: 1, verdict: 'Recovered', acted: true, powerActions: 0, runbook: 'httpd-restart',
    steps: [{ id: 'restart', kind: 'run', outcome: 'ok', command: '/etc/init.d/httpd restart', exitCode: 0 }],
  });
  tr('2026-03-05T10:02:00Z', 'web1', 'http', 'Remediating', 'Recovered');
  add('2026-03-05T10:02:00Z', { type: 'incident-closed', server: 'web1', incidentId: 'inc-1', target: 'http', reason: 'recovered' });
  tr('2026-03-05T10:02:30Z', 'web1', 'http', 'Recovered', 'Healthy');

  // Server web2 added on the 10th, first probe 30 s later.
  desired('2026-03-10T00:00:00Z', [
    ['web1', 'acme', ['ping', 'http']],
    ['web2', 'acme', ['http']],
    ['web3', 'acme', ['http']],
    ['other1', 'beta', ['http']],
  ]);
  tr('2026-03-10T00:00:30Z', 'web2', 'http', 'Unknown', 'Healthy');

  // Incident 2: the host (ping) 03:00:00 → 03:15:00 (900 s down), two power attempts; TTR 890 s.
  tr('2026-03-12T03:00:00Z', 'web1', 'ping', 'Healthy', 'Suspect');
  tr('2026-03-12T03:00:10Z', 'web1', 'ping', 'Suspect', 'Down');
  add('2026-03-12T03:00:10Z', { type: 'incident-opened', server: 'web1', incident: { id: 'inc-2', server: 'web1', target: 'host', openedAt: T('2026-03-12T03:00:10Z'), detectedAt: T('2026-03-12T03:00:00Z'), attempts: [], notified: [] } });
  tr('2026-03-12T03:00:20Z', 'web1', 'ping', 'Down', 'Remediating');
  add('2026-03-12T03:00:20Z', { type: 'started', server: 'web1', target: 'host', incidentId: 'inc-2', attempt: 1, destructive: true });
  add('2026-03-12T03:05:00Z', { type: 'finished', server: 'web1', target: 'host', incidentId: 'inc-2', attempt: 1, verdict: 'VerifyFailed', acted: true, powerActions: 1, runbook: 'power-cycle', steps: [] });
  add('2026-03-12T03:05:10Z', { type: 'started', server: 'web1', target: 'host', incidentId: 'inc-2', attempt: 2, destructive: true });
  add('2026-03-12T03:10:00Z', { type: 'finished', server: 'web1', target: 'host', incidentId: 'inc-2', attempt: 2, verdict: 'Recovered', acted: true, powerActions: 1, runbook: 'power-cycle', steps: [] });
  tr('2026-03-12T03:15:00Z', 'web1', 'ping', 'Remediating', 'Healthy');
  add('2026-03-12T03:15:00Z', { type: 'incident-closed', server: 'web1', incidentId: 'inc-2', target: 'host', reason: 'recovered' });

  // Incident 3: web1 http 12:00:00 → 13:00:00 (3600 s down), escalated, back by itself; TTR 3590 s.
  tr('2026-03-20T12:00:00Z', 'web1', 'http', 'Healthy', 'Suspect');
  tr('2026-03-20T12:00:10Z', 'web1', 'http', 'Suspect', 'Down');
  add('2026-03-20T12:00:10Z', { type: 'incident-opened', server: 'web1', incident: { id: 'inc-3', server: 'web1', target: 'http', openedAt: T('2026-03-20T12:00:10Z'), detectedAt: T('2026-03-20T12:00:00Z'), attempts: [], notified: [] } });
  add('2026-03-20T12:00:20Z', { type: 'started', server: 'web1', target: 'http', incidentId: 'inc-3', attempt: 1, destructive: false });
  add('2026-03-20T12:01:00Z', { type: 'finished', server: 'web1', target: 'http', incidentId: 'inc-3', attempt: 1, verdict: 'StepFailed', acted: true, powerActions: 0, runbook: 'httpd-restart', steps: [] });
  add('2026-03-20T12:05:00Z', { type: 'started', server: 'web1', target: 'http', incidentId: 'inc-3', attempt: 2, destructive: false });
  add('2026-03-20T12:06:00Z', { type: 'interrupted', server: 'web1', target: 'http', incidentId: 'inc-3', attempt: 2, reason: 'stop-deadline' });
  add('2026-03-20T12:10:00Z', { type: 'escalated', server: 'web1', target: 'http', incidentId: 'inc-3', reason: 'AttemptsExhausted' });
  tr('2026-03-20T12:10:00Z', 'web1', 'http', 'Down', 'Escalated');
  tr('2026-03-20T13:00:00Z', 'web1', 'http', 'Escalated', 'Healthy');
  add('2026-03-20T13:00:00Z', { type: 'incident-closed', server: 'web1', incidentId: 'inc-3', target: 'http', reason: 'recovered-by-itself' });

  // web3 removed on the 20th at midnight.
  desired('2026-03-20T00:00:00Z', [
    ['web1', 'acme', ['ping', 'http']],
    ['web2', 'acme', ['http']],
    ['other1', 'beta', ['http']],
  ]);
  // An incident of another customer must not appear.
  add('2026-03-07T00:00:00Z', { type: 'incident-opened', server: 'other1', incident: { id: 'inc-x', server: 'other1', target: 'http', openedAt: T('2026-03-07T00:00:00Z'), detectedAt: T('2026-03-07T00:00:00Z'), attempts: [], notified: [] } });

  drafts.sort((a, b) => a.at - b.at || a.order - b.order);
  return drafts.map((d, i) => ({ ...d.rec, seq: i + 1, ts: new Date(d.at).toISOString() }) as JournalRecord);
}

const MONTH = 31 * DAY;
const GAPS = 2 * H + 30 * MIN;

describe('monthly report from a scripted journal', () => {
  const records = scriptedJournal();
  const report = computeMonthlyReport({
    records,
    customer: 'acme',
    month: '2026-03',
    now: T('2026-04-02T00:00:00Z'),
    desired: [
      { name: 'web1', customer: 'acme', services: ['ping', 'http'], contact: { email: 'ops@acme.example', locale: 'en' } },
      { name: 'web2', customer: 'acme', services: ['http'], contact: { email: 'ops@acme.example', locale: 'en' } },
      { name: 'other1', customer: 'beta', services: ['http'] },
    ],
  });
  const svc = (server: string, service: string) => report.servers.find((s) => s.name === server)?.services.find((x) => x.service === service);

  it('lists the customer’s servers only, removed ones included', () => {
    expect(report.servers.map((s) => s.name)).toEqual(['web1', 'web2', 'web3']);
    expect(report.period).toEqual({ start: '2026-03-01T00:00:00.000Z', end: '2026-04-01T00:00:00.000Z', partial: false, timeZone: 'UTC' });
    expect(report.maxSilenceMs).toBe(10 * MIN);
  });

  it('web1 http: two outages down, both gaps unknown, the rest up — to the second', () => {
    expect(svc('web1', 'http')).toEqual({
      service: 'http',
      upMs: MONTH - GAPS - 120 * S - 3600 * S,
      downMs: 3720 * S,
      unknownMs: GAPS,
      unknown: { notMonitoredMs: 0, daemonDownMs: GAPS, notProbedMs: 0 },
      availability: (MONTH - GAPS - 3720 * S) / (MONTH - GAPS),
    });
    expect(svc('web1', 'http')?.upMs).toBe(2_665_680 * S);
  });

  it('web1 ping: the host outage', () => {
    expect(svc('web1', 'ping')).toMatchObject({ upMs: 2_668_500 * S, downMs: 900 * S, unknownMs: GAPS });
  });

  it('web2, added on the 10th: nine days not monitored, 30 s not probed, never up before', () => {
    expect(svc('web2', 'http')).toEqual({
      service: 'http',
      upMs: 1_891_770 * S,
      downMs: 0,
      unknownMs: 9 * DAY + 30 * S + GAPS,
      unknown: { notMonitoredMs: 9 * DAY, daemonDownMs: GAPS, notProbedMs: 30 * S },
      availability: 1,
    });
    expect(report.servers.find((s) => s.name === 'web2')?.monitoredFrom).toBe('2026-03-10T00:00:00.000Z');
  });

  it('web3, removed on the 20th: the rest of the month unknown, only the gap before removal counted as daemon down', () => {
    expect(svc('web3', 'http')).toMatchObject({
      upMs: 1_634_400 * S, // 19 days − 2 h
      downMs: 0,
      unknown: { notMonitoredMs: 12 * DAY, daemonDownMs: 2 * H, notProbedMs: 0 },
    });
    expect(report.servers.find((s) => s.name === 'web3')?.monitoredUntil).toBe('2026-03-20T00:00:00.000Z');
  });

  it('incidents with time to recovery, attempts, verdicts and power actions', () => {
    const incidents = report.servers.find((s) => s.name === 'web1')?.incidents ?? [];
    expect(incidents.map((i) => [i.id, i.target, i.closeReason, i.timeToRecoveryMs])).toEqual([
      ['inc-1', 'http', 'recovered', 110 * S],
      ['inc-2', 'host', 'recovered', 890 * S],
      ['inc-3', 'http', 'recovered-by-itself', 3590 * S],
    ]);
    expect(incidents[1]?.attempts.map((a) => [a.attempt, a.verdict, a.powerActions, a.destructive])).toEqual([
      [1, 'VerifyFailed', 1, true],
      [2, 'Recovered', 1, true],
    ]);
    expect(incidents[2]?.attempts.map((a) => a.verdict)).toEqual(['StepFailed', 'Interrupted']);
    expect(incidents[2]?.escalations).toEqual([{ at: '2026-03-20T12:10:00.000Z', reason: 'AttemptsExhausted' }]);
    expect(incidents[0]?.attempts[0]?.steps[0]).toMatchObject({ command: '/etc/init.d/httpd restart', exitCode: 0 });
    expect(report.totals).toEqual({ servers: 3, incidents: 3, recovered: 3, attempts: 5, powerActions: 2, meanTimeToRecoveryMs: Math.round(((110 + 890 + 3590) * S) / 3) });
  });

  it('a month not over is counted up to now, and the daemon still running counts until now', () => {
    const mid = computeMonthlyReport({ records: records.filter((r) => Date.parse(r.ts) <= T('2026-03-05T10:03:00Z')), customer: 'acme', month: '2026-03', now: T('2026-03-05T10:03:00Z'), desired: [] });
    expect(mid.period.partial).toBe(true);
    const http = mid.servers.find((s) => s.name === 'web1')?.services.find((s) => s.service === 'http');
    expect(http?.downMs).toBe(120 * S);
    expect((http?.upMs ?? 0) + (http?.downMs ?? 0)).toBe(T('2026-03-05T10:03:00Z') - T('2026-03-01T00:00:00Z'));
  });

  it('a journal without coverage records is all unknown, never up', () => {
    const legacy = records.filter((r) => !String(r.type).startsWith('monitor-'));
    const r = computeMonthlyReport({ records: legacy, customer: 'acme', month: '2026-03', now: T('2026-04-02T00:00:00Z'), desired: [{ name: 'web1', customer: 'acme', services: ['http'] }] });
    expect(r.servers[0]?.services[0]).toMatchObject({ upMs: 0, downMs: 0, unknownMs: MONTH, availability: null });
  });

  it('refuses a month that is not YYYY-MM', () => {
    expect(() => monthBounds('2026-13')).toThrow(/YYYY-MM/);
    expect(monthBounds('2026-02')).toEqual({ start: T('2026-02-01T00:00:00Z'), end: T('2026-03-01T00:00:00Z') });
  });
});
