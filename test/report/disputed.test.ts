/**
 * Disputed time in the monthly report (#25): while the vantage points disagree — down from one
 * network, up from another — the time is counted as disputed, never as up or down. A scripted
 * journal (simulated clock) with three disagreements that end three ways: the service answering
 * again, another judgement (the other vantage now fails too), and the server leaving the manifests.
 */
import { describe, expect, it } from 'vitest';
import { computeMonthlyReport, buildTimeline } from '../../src/report/compute.ts';
import { formatReportMarkdown } from '../../src/report/format-markdown.ts';
import { uptimeHistory } from '../../src/report/uptime.ts';
import type { JournalRecord } from '../../src/status/journal.ts';
import { DAY, MIN, S, T } from './scripted-journal.ts';

let seq = 0;
const rec = (iso: string, fields: Record<string, unknown>): JournalRecord => ({ seq: ++seq, ts: iso, at: T(iso), ...fields }) as unknown as JournalRecord;
const tr = (iso: string, server: string, to: string): JournalRecord => rec(iso, { type: 'transition', server, service: 'http', to, reason: 'test' });
const votes = (primaryUp: boolean, secondUp: boolean, iso: string) => [
  { vantage: 'primary', network: '210.224.172.0/24', up: primaryUp, at: T(iso) },
  { vantage: 'second', network: '210.188.224.0/24', up: secondUp, at: T(iso) },
];
const quorum = (iso: string, server: string, judgement: string, secondUp: boolean): JournalRecord =>
  rec(iso, { type: 'quorum', server, service: 'http', judgement, votes: votes(false, secondUp, iso), lost: [], ...(judgement === 'disputed' ? { missingNetworks: ['210.224.172.0/24'] } : {}) });
const desired = (iso: string, names: string[]): JournalRecord => rec(iso, { type: 'monitor-desired', servers: names.map((name) => ({ name, customer: 'acme', services: ['http'] })) });

const records: JournalRecord[] = [
  // One long heartbeat: the daemon watched all month.
  rec('2026-03-01T00:00:00Z', { type: 'monitor-started', heartbeatMs: 40 * DAY }),
  desired('2026-03-01T00:00:00Z', ['web1', 'web2']),
  tr('2026-03-01T00:00:00Z', 'web1', 'Healthy'),
  tr('2026-03-01T00:00:00Z', 'web2', 'Healthy'),
  // 1. web1 fails from the primary network only (a customer firewall): 20 s down while confirming,
  //    then 30 min disputed (escalated AccessBlocked, no runbook) until it answers again.
  tr('2026-03-05T10:00:00Z', 'web1', 'Suspect'),
  tr('2026-03-05T10:00:10Z', 'web1', 'Down'),
  quorum('2026-03-05T10:00:20Z', 'web1', 'disputed', true),
  tr('2026-03-05T10:00:20Z', 'web1', 'Escalated'),
  tr('2026-03-05T10:30:20Z', 'web1', 'Healthy'),
  // 2. Disputed for 10 min, then the second vantage fails too (another judgement): down again, 10 min more.
  tr('2026-03-06T12:00:00Z', 'web1', 'Down'),
  quorum('2026-03-06T12:00:05Z', 'web1', 'disputed', true),
  quorum('2026-03-06T12:10:05Z', 'web1', 'pending', false),
  tr('2026-03-06T12:20:05Z', 'web1', 'Healthy'),
  // 3. web2 disputed from 00:00:00, removed from the manifests at 00:30:00 while still disputed; back on the 8th.
  tr('2026-03-07T00:00:00Z', 'web2', 'Down'),
  quorum('2026-03-07T00:00:00Z', 'web2', 'disputed', true),
  desired('2026-03-07T00:30:00Z', ['web1']),
  desired('2026-03-08T00:00:00Z', ['web1', 'web2']),
  tr('2026-03-08T00:00:00Z', 'web2', 'Healthy'),
  // Still failing at the end of the record, disputed, and never judged again.
  tr('2026-03-31T23:00:00Z', 'web2', 'Down'),
  quorum('2026-03-31T23:50:00Z', 'web2', 'disputed', true),
  rec('2026-04-01T00:00:00Z', { type: 'monitor-heartbeat' }),
];

const now = T('2026-04-01T00:00:00Z');
const report = computeMonthlyReport({ records, customer: 'acme', month: '2026-03', now, desired: [] });
const http = (server: string) => report.servers.find((s) => s.name === server)?.services.find((v) => v.service === 'http');
const MONTH = 31 * DAY;

describe('disputed time in the monthly report', () => {
  it('counts the vantages\' disagreement as disputed, apart from up, down and unknown', () => {
    expect(http('web1')).toMatchObject({ downMs: 20 * S + 5 * S + 10 * MIN, disputedMs: 30 * MIN + 10 * MIN, unknownMs: 0 });
    expect(http('web2')).toMatchObject({ downMs: 50 * MIN, disputedMs: 30 * MIN + 10 * MIN });
    // Not in the manifests from 00:30 on the 7th to the 8th: unknown, and no longer disputed.
    expect(http('web2')?.unknown.notMonitoredMs).toBe(DAY - 30 * MIN);
    for (const server of ['web1', 'web2']) {
      const v = http(server);
      if (v === undefined) throw new Error(`${server} missing`);
      expect(v.upMs + v.downMs + v.disputedMs + v.unknownMs).toBe(MONTH);
      // Availability leaves disputed time out: it was neither up nor down.
      expect(v.availability).toBeCloseTo(v.upMs / (v.upMs + v.downMs), 12);
    }
  });

  it('shows it in the report and in the uptime buckets', () => {
    const md = formatReportMarkdown(report);
    expect(md).toContain('| Server | Service | Availability | Up | Down | Disputed | Unknown |');
    expect(md).toMatch(/\| web1 \| http \| [0-9.]+ % \| [^|]+ \| 10m 25s \| 40m 0s \| 0s \|/);
    expect(md).toContain('Disputed: mamori\'s vantage points disagreed');
    const day = uptimeHistory(buildTimeline(records, T('2026-03-05T23:59:59Z')), 'web1', 'http', T('2026-03-05T23:59:59Z'), 'UTC').hours.find((b) => b.start === T('2026-03-05T10:00:00Z'));
    expect(day).toMatchObject({ downMs: 20 * S, disputedMs: 30 * MIN, upMs: 30 * MIN - 20 * S });
  });
});
