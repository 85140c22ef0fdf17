/**
 * The monthly report over several replicas' journals (#24). The scripted month of one daemon's
 * journal is split over three replicas' journals as three replicas would have written it: each
 * journals its own start/heartbeat/stop and the manifests it applied, its shard whenever it changes
 * (`monitor-shard`), and the events of the servers it owned at the time; a server handed over is
 * looked at by its new owner at once (its first probe journals the state it finds). The report over
 * the three journals must equal the single daemon's report exactly. Then the faults a fleet has: a
 * replica that crashes (the time until another takes its servers over is unknown, never up, and its
 * open incident ends handed-over), a journal not given (named; its servers' time unknown), and two
 * replicas watching one server at once and disagreeing (down).
 */
import { describe, expect, it } from 'vitest';
import { computeMonthlyReport, type DesiredReportServer } from '../../src/report/compute.ts';
import type { MonthlyReport } from '../../src/report/types.ts';
import type { JournalRecord } from '../../src/status/journal.ts';
import { DAY, H, MIN, S, scriptedJournal, T } from './scripted-journal.ts';

const REPLICAS = ['r-1', 'r-2', 'r-3'] as const;
type Replica = (typeof REPLICAS)[number];
const HANDOVER = T('2026-03-12T12:00:00Z');
const GAPS = 2 * H + 30 * MIN;
const NOW = T('2026-04-02T00:00:00Z');

const DESIRED: DesiredReportServer[] = [
  { name: 'web1', customer: 'acme', services: ['ping', 'http'], contact: { email: 'ops@acme.example', locale: 'en' } },
  { name: 'web2', customer: 'acme', services: ['http'], contact: { email: 'ops@acme.example', locale: 'en' } },
  { name: 'other1', customer: 'beta', services: ['http'] },
];

/** Who owns a server when: web1 moves from r-1 to r-2 on the 12th at noon. */
function ownerAt(server: string, t: number): Replica {
  if (server === 'web1') return t < HANDOVER ? 'r-1' : 'r-2';
  if (server === 'web2') return 'r-3';
  if (server === 'web3') return 'r-2';
  return 'r-1';
}

interface Draft {
  ts: string;
  type: string;
  [field: string]: unknown;
}

/** The single journal's events written by three replicas, as each would have journaled its part. */
function splitOverReplicas(single: readonly JournalRecord[]): Record<Replica, Draft[]> {
  const out: Record<Replica, Draft[]> = { 'r-1': [], 'r-2': [], 'r-3': [] };
  let desiredNow: Array<{ name: string; services: string[] }> = [];
  const state = new Map<string, string>();
  let handedOver = false;
  const shards = (t: number): void => {
    for (const r of REPLICAS) {
      const servers = desiredNow.filter((s) => ownerAt(s.name, t) === r).map((s) => s.name).sort();
      out[r].push({ type: 'monitor-shard', ts: new Date(t).toISOString(), replica: r, members: [...REPLICAS], servers });
    }
  };
  for (const rec of [...single].sort((a, b) => a.seq - b.seq)) {
    const t = Date.parse(rec.ts);
    const { seq: _seq, ...body } = rec;
    if (!handedOver && t >= HANDOVER) {
      handedOver = true;
      shards(HANDOVER);
      // The new owner's first look at web1 journals what it finds.
      for (const svc of ['ping', 'http']) {
        out['r-2'].push({ type: 'transition', ts: new Date(HANDOVER).toISOString(), server: 'web1', service: svc, from: 'Unknown', to: state.get(`web1|${svc}`) ?? 'Unknown', reason: 'test', at: HANDOVER });
      }
    }
    switch (rec.type) {
      case 'monitor-started':
        for (const r of REPLICAS) out[r].push({ ...body, replica: r });
        shards(t);
        break;
      case 'monitor-heartbeat':
      case 'monitor-stopped':
        for (const r of REPLICAS) out[r].push({ ...body });
        break;
      case 'monitor-desired':
        for (const r of REPLICAS) out[r].push({ ...body });
        desiredNow = (rec.servers as Array<{ name: string; services: string[] }>).map((s) => ({ name: s.name, services: s.services }));
        shards(t);
        break;
      default: {
        const server = typeof rec.server === 'string' ? rec.server : 'other1';
        if (rec.type === 'transition') state.set(`${server}|${String(rec.service)}`, String(rec.to));
        out[ownerAt(server, t)].push({ ...body });
      }
    }
  }
  return out;
}

/** Each replica's journal numbered as its own file would be. */
function numbered(drafts: readonly Draft[]): JournalRecord[] {
  return [...drafts].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts)).map((d, i) => ({ ...d, seq: i + 1 }) as JournalRecord);
}

function reportOf(input: { records?: JournalRecord[]; journals?: JournalRecord[][] }, customer = 'acme'): MonthlyReport {
  return computeMonthlyReport({ ...input, customer, month: '2026-03', now: NOW, desired: DESIRED });
}

const at = (iso: string): string => new Date(T(iso)).toISOString();
const svcOf = (r: MonthlyReport, server: string, service: string) => r.servers.find((s) => s.name === server)?.services.find((x) => x.service === service);

describe('the monthly report over three replicas’ journals', () => {
  const single = scriptedJournal();
  const split = splitOverReplicas(single);
  const journals = REPLICAS.map((r) => numbered(split[r]));

  it('the split is real: each journal holds only its own servers’ events, and every event is in one', () => {
    const events = (j: JournalRecord[]): JournalRecord[] => j.filter((r) => !r.type.startsWith('monitor-') && !(r.type === 'transition' && r.from === 'Unknown' && Date.parse(r.ts) === HANDOVER));
    expect(journals.map((j) => events(j).length).reduce((a, b) => a + b, 0)).toBe(single.filter((r) => !r.type.startsWith('monitor-')).length);
    for (const [i, r] of REPLICAS.entries()) {
      for (const e of events(journals[i] as JournalRecord[])) expect(ownerAt(typeof e.server === 'string' ? e.server : 'other1', Date.parse(e.ts))).toBe(r);
    }
    expect(events(journals[0] as JournalRecord[]).some((e) => e.server === 'web1')).toBe(true);
    expect(events(journals[1] as JournalRecord[]).some((e) => e.server === 'web1')).toBe(true);
  });

  it('equals the single daemon’s report of the same events, exactly (both customers)', () => {
    for (const customer of ['acme', 'beta']) {
      const one = reportOf({ records: single }, customer);
      const three = reportOf({ journals }, customer);
      expect(three).toEqual(one);
      // And in any order the journals are given.
      expect(reportOf({ journals: [...journals].reverse() }, customer)).toEqual(one);
    }
    // The figures are the scripted month's (test/report/compute.test.ts checks them to the second).
    expect(svcOf(reportOf({ journals }), 'web1', 'http')).toMatchObject({ upMs: 2_665_680 * S, downMs: 3720 * S, unknown: { notMonitoredMs: 0, daemonDownMs: GAPS, notProbedMs: 0 } });
    expect(reportOf({ journals }).missingJournals).toBeUndefined();
  });

  it('a replica that crashes: the time until another takes its server over is unknown (daemon down), never up; its open incident ends handed-over', () => {
    const crash = T('2026-03-22T00:00:00Z');
    const takeover = crash + 15 * S;
    const back = T('2026-03-22T06:00:00Z');
    const r2 = split['r-2'].filter((d) => Date.parse(d.ts) < crash || Date.parse(d.ts) >= back);
    const r1 = [...split['r-1']];
    const iso = (t: number): string => new Date(t).toISOString();
    // r-2 sees web1's http fail and opens an incident, then dies (its last record: 23:55's heartbeat).
    r2.push(
      { type: 'transition', ts: at('2026-03-21T23:50:00Z'), server: 'web1', service: 'http', from: 'Healthy', to: 'Suspect', reason: 'test', at: T('2026-03-21T23:50:00Z') },
      { type: 'transition', ts: at('2026-03-21T23:50:10Z'), server: 'web1', service: 'http', from: 'Suspect', to: 'Down', reason: 'test', at: T('2026-03-21T23:50:10Z') },
      { type: 'incident-opened', ts: at('2026-03-21T23:50:10Z'), server: 'web1', incident: { id: 'inc-h', server: 'web1', target: 'http', openedAt: T('2026-03-21T23:50:10Z'), detectedAt: T('2026-03-21T23:50:00Z') }, at: T('2026-03-21T23:50:10Z') },
    );
    // 15 s later r-1 has web1 (the lease expired), finds http still down, repairs it by 00:10.
    r1.push(
      { type: 'monitor-shard', ts: iso(takeover), replica: 'r-1', members: ['r-1', 'r-3'], servers: ['other1', 'web1'] },
      { type: 'transition', ts: iso(takeover), server: 'web1', service: 'ping', from: 'Unknown', to: 'Healthy', reason: 'test', at: takeover },
      { type: 'transition', ts: iso(takeover), server: 'web1', service: 'http', from: 'Unknown', to: 'Down', reason: 'test', at: takeover },
      { type: 'incident-opened', ts: iso(takeover), server: 'web1', incident: { id: 'inc-h2', server: 'web1', target: 'http', openedAt: takeover, detectedAt: takeover }, at: takeover },
      { type: 'transition', ts: at('2026-03-22T00:10:00Z'), server: 'web1', service: 'http', from: 'Down', to: 'Healthy', reason: 'test', at: T('2026-03-22T00:10:00Z') },
      { type: 'incident-closed', ts: at('2026-03-22T00:10:00Z'), server: 'web1', incidentId: 'inc-h2', target: 'http', reason: 'recovered', at: T('2026-03-22T00:10:00Z') },
      // r-2 is back at 06:00 and web1 is its again.
      { type: 'monitor-shard', ts: iso(back), replica: 'r-1', members: [...REPLICAS], servers: ['other1'] },
    );
    r2.push(
      { type: 'monitor-started', ts: iso(back), heartbeatMs: 5 * MIN, replica: 'r-2' },
      { type: 'monitor-shard', ts: iso(back), replica: 'r-2', members: [...REPLICAS], servers: ['web1'] },
      { type: 'transition', ts: iso(back), server: 'web1', service: 'ping', from: 'Unknown', to: 'Healthy', reason: 'test', at: back },
      { type: 'transition', ts: iso(back), server: 'web1', service: 'http', from: 'Unknown', to: 'Healthy', reason: 'test', at: back },
    );
    // The restart record sorts before the same instant's heartbeat (a started begins the life).
    const r2j = numbered(r2).sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts) || (a.type === 'monitor-started' ? -1 : b.type === 'monitor-started' ? 1 : 0)).map((r, i) => ({ ...r, seq: i + 1 }));
    const report = reportOf({ journals: [numbered(r1), r2j, numbered(split['r-3'])] });
    const silence = takeover - T('2026-03-21T23:55:00Z'); // from r-2's last sign of life: 315 s
    expect(silence).toBe(315 * S);
    expect(svcOf(report, 'web1', 'ping')).toMatchObject({ upMs: 2_668_500 * S - silence, downMs: 900 * S, unknown: { notMonitoredMs: 0, daemonDownMs: GAPS + silence, notProbedMs: 0 } });
    // http: down 23:50–23:55 (r-2) and 00:00:15–00:10 (r-1); the 315 s between seen by nobody.
    expect(svcOf(report, 'web1', 'http')).toMatchObject({ upMs: 2_665_680 * S - 20 * MIN, downMs: 3720 * S + 300 * S + 585 * S, unknown: { notMonitoredMs: 0, daemonDownMs: GAPS + silence, notProbedMs: 0 } });
    const incidents = report.servers.find((s) => s.name === 'web1')?.incidents ?? [];
    expect(incidents.filter((i) => i.id.startsWith('inc-h')).map((i) => [i.id, i.closeReason, i.closedAt, i.timeToRecoveryMs])).toEqual([
      ['inc-h', 'handed-over', at('2026-03-21T23:55:00Z'), undefined],
      ['inc-h2', 'recovered', at('2026-03-22T00:10:00Z'), 585 * S],
    ]);
    // web2 (r-3) and web1 before the crash: untouched.
    expect(svcOf(report, 'web2', 'http')).toEqual(svcOf(reportOf({ records: single }), 'web2', 'http'));
  });

  it('a replica whose journal is not given: named, and the time only it watched is unknown — never up', () => {
    const report = reportOf({ journals: [journals[0] as JournalRecord[], journals[2] as JournalRecord[]] });
    expect(report.missingJournals).toEqual(['r-2']);
    const http = svcOf(report, 'web1', 'http');
    const afterHandover = T('2026-04-01T00:00:00Z') - HANDOVER;
    // From the hand-over to r-2 on, nobody whose journal we have watched web1.
    expect(http?.unknown.daemonDownMs).toBe(afterHandover);
    expect(http?.upMs).toBe(HANDOVER - T('2026-03-01T00:00:00Z') - 120 * S);
    expect(svcOf(report, 'web3', 'http')).toMatchObject({ upMs: 0, downMs: 0, unknown: { notMonitoredMs: 12 * DAY, daemonDownMs: 19 * DAY, notProbedMs: 0 } });
  });

  it('two replicas watching one server at once and disagreeing: down, never up', () => {
    // r-1, cut off from etcd, keeps its last shard for 10 minutes after the hand-over and sees http down.
    const r1 = split['r-1'].filter((d) => !(d.type === 'monitor-shard' && Date.parse(d.ts) === HANDOVER));
    const iso = (t: number): string => new Date(t).toISOString();
    r1.push(
      { type: 'transition', ts: iso(HANDOVER + MIN), server: 'web1', service: 'http', from: 'Healthy', to: 'Suspect', reason: 'test', at: HANDOVER + MIN },
      { type: 'monitor-shard', ts: iso(HANDOVER + 10 * MIN), replica: 'r-1', members: [...REPLICAS], servers: ['other1'] },
    );
    const report = reportOf({ journals: [numbered(r1), journals[1] as JournalRecord[], journals[2] as JournalRecord[]] });
    expect(svcOf(report, 'web1', 'http')).toMatchObject({ upMs: 2_665_680 * S - 9 * MIN, downMs: 3720 * S + 9 * MIN, unknown: { daemonDownMs: GAPS, notProbedMs: 0 } });
    expect(svcOf(report, 'web1', 'ping')).toEqual(svcOf(reportOf({ records: single }), 'web1', 'ping'));
  });
});
