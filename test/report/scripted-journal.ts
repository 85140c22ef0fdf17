/**
 * A scripted month of journal records (March 2026, simulated clock): heartbeats every 5 minutes
 * except in a clean two-hour stop (15th 00:00–02:00) and a 30-minute crash gap (25th 06:00–06:30);
 * web1 (ping, http) with three incidents, web2 added on the 10th, web3 removed on the 20th, and a
 * server of another customer.
 */
import type { JournalRecord } from '../../src/status/journal.ts';

export const T = (s: string): number => Date.parse(s);
export const S = 1000;
export const MIN = 60 * S;
export const H = 60 * MIN;
export const DAY = 24 * H;

interface Draft {
  at: number;
  order: number;
  rec: Omit<JournalRecord, 'seq' | 'ts'>;
}

/** The journal of a month: heartbeats every 5 minutes except in the gaps, and the scripted events. */
export function scriptedJournal(): JournalRecord[] {
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
    steps: [
      { id: 'login', kind: 'check', outcome: 'ok', startedAt: '2026-03-05T10:00:11.000Z', finishedAt: '2026-03-05T10:00:12.500Z' },
      { id: 'restart', kind: 'run', outcome: 'ok', command: '/etc/init.d/httpd restart', exitCode: 0, startedAt: '2026-03-05T10:00:12.500Z', finishedAt: '2026-03-05T10:01:30.000Z' },
    ],
    confirmedAt: T('2026-03-05T10:01:39Z'),
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


const CUSTOMER_OF: Record<string, string> = { web1: 'acme', web2: 'acme', web3: 'acme', other1: 'beta' };

/** The same month as the daemon journals it: every server named by its id, customer/name. */
export function withServerIds(records: readonly JournalRecord[]): JournalRecord[] {
  const id = (name: unknown): unknown => (typeof name === 'string' && CUSTOMER_OF[name] !== undefined ? `${CUSTOMER_OF[name]}/${name}` : name);
  return records.map((r) => {
    const out: JournalRecord = { ...r };
    if (r.server !== undefined) out.server = id(r.server);
    if (typeof r.incident === 'object' && r.incident !== null) out.incident = { ...(r.incident as object), server: id((r.incident as { server?: unknown }).server) };
    if (Array.isArray(r.servers)) out.servers = (r.servers as Array<{ name: string }>).map((s) => ({ ...s, name: id(s.name) }));
    return out;
  });
}
