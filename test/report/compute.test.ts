/**
 * A scripted month of journal records (simulated clock: every time is written down, nothing is
 * measured): three incidents with known durations, a clean two-hour daemon stop, a 30-minute crash
 * gap, a server added mid-month and one removed. The report's figures must match to the second.
 */
import { describe, expect, it } from 'vitest';
import { computeMonthlyReport, monthBounds } from '../../src/report/compute.ts';
import { DAY, H, MIN, S, scriptedJournal, T } from './scripted-journal.ts';

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
      disputedMs: 0,
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
      disputedMs: 0,
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
    expect(incidents[0]?.attempts[0]?.steps[1]).toMatchObject({ command: '/etc/init.d/httpd restart', exitCode: 0 });
    // Time to recovery phase by phase, in seconds after the first failing probe (10:00:00).
    expect(incidents[0]?.phases.map((p) => [p.name, p.offsetS])).toEqual([
      ['first failing probe', 0],
      ['confirmed Down', 10],
      ['runbook #1 started', 11],
      ['step login (ok), 1.5 s', 11],
      ['step restart (ok), 77.5 s', 12.5],
      ['outside probe confirmed the recovery', 99],
      ['runbook #1 finished (Recovered)', 100],
      ['Recovered', 120],
    ]);
    // An older journal's steps without times: the phases without steps.
    expect(incidents[1]?.phases.map((p) => p.kind)).toEqual(['first-failing-probe', 'confirmed-down', 'runbook-started', 'runbook-finished', 'runbook-started', 'runbook-finished', 'closed']);
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

describe('months of the configured zone', () => {
  it('a JST month starts at 00:00 JST (15:00 UTC the day before), and so does its report', () => {
    expect(monthBounds('2026-11', 'Asia/Tokyo')).toEqual({ start: T('2026-10-31T15:00:00Z'), end: T('2026-11-30T15:00:00Z') });
    expect(monthBounds('2026-11')).toEqual({ start: T('2026-11-01T00:00:00Z'), end: T('2026-12-01T00:00:00Z') });
    // A zone with daylight saving: March in New York starts at EST, April at EDT.
    expect(monthBounds('2026-03', 'America/New_York')).toEqual({ start: T('2026-03-01T05:00:00Z'), end: T('2026-04-01T04:00:00Z') });
  });

  it('an outage at 01:00 JST on the 1st belongs to the new JST month, not to the UTC month it falls in', () => {
    const at = (iso: string) => ({ ts: iso, at: T(iso) });
    let seq = 0;
    const rec = (iso: string, fields: Record<string, unknown>) => ({ seq: ++seq, ...at(iso), ...fields }) as unknown as NonNullable<Parameters<typeof computeMonthlyReport>[0]['records']>[number];
    const records = [
      rec('2026-10-20T00:00:00Z', { type: 'monitor-started', heartbeatMs: 86_400_000 * 40 }),
      rec('2026-10-20T00:00:00Z', { type: 'monitor-desired', servers: [{ name: 'web1', customer: 'acme', services: ['http'] }] }),
      rec('2026-10-20T00:00:10Z', { type: 'transition', server: 'web1', service: 'http', to: 'Healthy' }),
      // 2026-11-30T16:00Z is 2026-12-01 01:00 JST: an hour down in December (JST), in November (UTC).
      rec('2026-11-30T16:00:00Z', { type: 'transition', server: 'web1', service: 'http', to: 'Down' }),
      rec('2026-11-30T17:00:00Z', { type: 'transition', server: 'web1', service: 'http', to: 'Healthy' }),
      rec('2026-12-10T00:00:00Z', { type: 'monitor-heartbeat' }),
    ];
    const input = { records, customer: 'acme', desired: [], now: T('2027-01-05T00:00:00Z') };
    const novJst = computeMonthlyReport({ ...input, month: '2026-11', timeZone: 'Asia/Tokyo' });
    const decJst = computeMonthlyReport({ ...input, month: '2026-12', timeZone: 'Asia/Tokyo' });
    const novUtc = computeMonthlyReport({ ...input, month: '2026-11' });
    expect(novJst.period).toEqual({ start: '2026-10-31T15:00:00.000Z', end: '2026-11-30T15:00:00.000Z', partial: false, timeZone: 'Asia/Tokyo' });
    expect(novJst.servers[0]?.services[0]?.downMs).toBe(0);
    expect(decJst.servers[0]?.services[0]?.downMs).toBe(H);
    expect(novUtc.servers[0]?.services[0]?.downMs).toBe(H);
    // The whole JST November is up: 30 days to the millisecond.
    expect(novJst.servers[0]?.services[0]?.upMs).toBe(30 * DAY);
  });

  it('the Markdown and the mail say the month in its zone', async () => {
    const { formatReportMarkdown } = await import('../../src/report/format-markdown.ts');
    const r = computeMonthlyReport({ records: [], customer: 'acme', desired: [], now: T('2026-12-05T00:00:00Z'), month: '2026-11', timeZone: 'Asia/Tokyo' });
    const md = formatReportMarkdown(r);
    expect(md).toContain('Period: 2026-11-01 00:00:00 JST → 2026-12-01 00:00:00 JST.');
    expect(md).toContain('The month runs from 00:00 JST on its first day.');
  });
});
