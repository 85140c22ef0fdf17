/**
 * The monthly report as a pure function of the journal, the month and the desired state. No
 * clock (the report's `now` is an input), no disk: `mamori report` reads the journal and calls this.
 *
 * How time is counted, per server and service, over the month (of the configured zone) up to `now`:
 *  - up: the service's state (from the journal's `transition` records, at the probe's time) was
 *    Healthy or Recovered; down: Suspect, Down, Remediating or Escalated.
 *  - unknown, never up, for three reasons:
 *    not monitored — the server or service was not in the applied manifests (`monitor-desired`
 *      records): before it was added, after it was removed;
 *    daemon down — no mamori was watching: from a `monitor-stopped` to the next `monitor-started`,
 *      and any silence in the journal longer than two heartbeats (the whole silence, from the
 *      last record before it: a crash leaves no stop record, so its time is unknown from the last
 *      sign of life);
 *    not probed — watched, but no trusted probe result yet (state Unknown, e.g. just added).
 *  - disputed, neither up nor down: the vantage points disagreed (`quorum` records with judgement
 *    `disputed`: down from one network, up from another) — from that judgement until the service
 *    answers again, another judgement replaces it, or the service is no longer watched. It is cut
 *    out of the down time, never counted as up.
 *  - availability = up / (up + down): the share of the time mamori could see the service.
 */
import { incidentPhases } from '../status/incident-phases.ts';
import type { JournalRecord } from '../status/journal.ts';
import { DEFAULT_HEARTBEAT_MS, MONITOR_DESIRED, MONITOR_STARTED, MONITOR_STOPPED, SILENCE_HEARTBEATS, type MonitoredServer } from './coverage-records.ts';
import { intersect, normalize, total, type Interval } from './intervals.ts';
import { zonedMidnight } from './zoned-time.ts';
import type { MonthlyReport, ReportAttempt, ReportIncident, ReportServer, ServiceAvailability } from './types.ts';

const UP_STATES = new Set(['Healthy', 'Recovered']);
const DOWN_STATES = new Set(['Suspect', 'Down', 'Remediating', 'Escalated']);
const RECOVERED_REASONS = new Set(['recovered', 'recovered-by-itself']);

/** One server of the desired state now: where its report goes. */
export interface DesiredReportServer {
  name: string;
  customer?: string;
  services: readonly string[];
  contact?: ReportServer['contact'];
}

export interface ReportInput {
  records: readonly JournalRecord[];
  customer: string;
  /** YYYY-MM */
  month: string;
  /** The servers of the applied revision (contacts, and the customer of servers not yet journaled). */
  desired: readonly DesiredReportServer[];
  /** The report's time (epoch ms): the part of the month after it is not counted. */
  now: number;
  /** The zone whose months are counted (config mail.timeZone); UTC by default. */
  timeZone?: string;
}

/** The month from 00:00 on its first day to 00:00 on the next month's, both in `timeZone` (UTC by default). */
export function monthBounds(month: string, timeZone = 'UTC'): { start: number; end: number } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw new RangeError(`month must be YYYY-MM: ${JSON.stringify(month)}`);
  const year = Number(m[1]);
  const mon = Number(m[2]);
  return { start: zonedMidnight(year, mon - 1, 1, timeZone), end: zonedMidnight(year, mon, 1, timeZone) };
}

interface StateSegment {
  start: number;
  end: number;
  state: string;
}

export interface Timeline {
  coverage: Interval[];
  maxSilenceMs: number;
  /** server|service → the intervals it was in the applied manifests. */
  membership: Map<string, Interval[]>;
  segments: Map<string, StateSegment[]>;
  /** server|service → when the vantage points disagreed about it (normalized). */
  disputes: Map<string, Interval[]>;
  customerOf: Map<string, string>;
  firstSeen: Map<string, number>;
  lastSeen: Map<string, number>;
}

const keyOf = (server: string, service: string): string => `${server}|${service}`;

function timeOf(r: JournalRecord): number {
  return typeof r.at === 'number' ? r.at : Date.parse(r.ts);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function serversOf(r: JournalRecord): MonitoredServer[] {
  const list = Array.isArray(r.servers) ? (r.servers as unknown[]) : [];
  return list.flatMap((s) => {
    if (typeof s !== 'object' || s === null) return [];
    const o = s as Record<string, unknown>;
    const name = str(o.name);
    if (name === undefined) return [];
    const services = Array.isArray(o.services) ? o.services.filter((x): x is string => typeof x === 'string') : [];
    const customer = str(o.customer);
    return [{ name, services, ...(customer !== undefined ? { customer } : {}) }];
  });
}

/** One pass over the journal: when mamori ran, what it watched, and each service's states. */
export function buildTimeline(records: readonly JournalRecord[], now: number): Timeline {
  const coverage: Interval[] = [];
  let running = false;
  let lastAlive = 0;
  let maxSilenceMs = DEFAULT_HEARTBEAT_MS * SILENCE_HEARTBEATS;
  const membership = new Map<string, Interval[]>();
  const openSince = new Map<string, number>();
  const segments = new Map<string, StateSegment[]>();
  const current = new Map<string, StateSegment>();
  const customerOf = new Map<string, string>();
  const firstSeen = new Map<string, number>();
  const lastSeen = new Map<string, number>();
  const disputes = new Map<string, Interval[]>();
  const disputedSince = new Map<string, number>();
  const endDispute = (key: string, at: number): void => {
    const since = disputedSince.get(key);
    if (since === undefined) return;
    disputedSince.delete(key);
    const list = disputes.get(key) ?? [];
    list.push([since, Math.max(since, at)]);
    disputes.set(key, list);
  };

  const setState = (key: string, at: number, state: string): void => {
    const cur = current.get(key);
    if (cur !== undefined) cur.end = at;
    const next = { start: at, end: Infinity, state };
    current.set(key, next);
    const list = segments.get(key) ?? [];
    list.push(next);
    segments.set(key, list);
  };

  for (const r of [...records].sort((a, b) => a.seq - b.seq)) {
    const t = Date.parse(r.ts);
    if (Number.isNaN(t)) continue;
    if (r.type === MONITOR_STARTED) {
      running = true;
      lastAlive = t;
      if (typeof r.heartbeatMs === 'number' && r.heartbeatMs > 0) maxSilenceMs = r.heartbeatMs * SILENCE_HEARTBEATS;
    } else if (running) {
      if (t - lastAlive <= maxSilenceMs) coverage.push([lastAlive, t]);
      lastAlive = Math.max(lastAlive, t);
      if (r.type === MONITOR_STOPPED) running = false;
    }

    if (r.type === MONITOR_DESIRED) {
      const wanted = new Set<string>();
      for (const s of serversOf(r)) {
        if (s.customer !== undefined) customerOf.set(s.name, s.customer);
        for (const svc of s.services) wanted.add(keyOf(s.name, svc));
      }
      for (const [key, since] of [...openSince]) {
        if (wanted.has(key)) continue;
        openSince.delete(key);
        const list = membership.get(key) ?? [];
        list.push([since, t]);
        membership.set(key, list);
        lastSeen.set(key.split('|')[0] as string, t);
        const cur = current.get(key);
        if (cur !== undefined) cur.end = t;
        current.delete(key);
        endDispute(key, t);
      }
      for (const key of wanted) {
        if (openSince.has(key)) continue;
        openSince.set(key, t);
        const server = key.split('|')[0] as string;
        if (!firstSeen.has(server)) firstSeen.set(server, t);
        lastSeen.delete(server);
        // Added (or added again): the reconciler starts it from Unknown.
        setState(key, t, 'Unknown');
      }
    } else if (r.type === 'transition') {
      const server = str(r.server);
      const service = str(r.service);
      const to = str(r.to);
      if (server !== undefined && service !== undefined && to !== undefined) {
        setState(keyOf(server, service), timeOf(r), to);
        // Answering again (or not judged at all) ends a disagreement.
        if (!DOWN_STATES.has(to)) endDispute(keyOf(server, service), timeOf(r));
      }
    } else if (r.type === 'quorum') {
      const server = str(r.server);
      const service = str(r.service);
      if (server !== undefined && service !== undefined) {
        const key = keyOf(server, service);
        if (r.judgement === 'disputed') {
          if (!disputedSince.has(key)) disputedSince.set(key, timeOf(r));
        } else endDispute(key, timeOf(r));
      }
    }
  }
  if (running && now - lastAlive <= maxSilenceMs && now > lastAlive) coverage.push([lastAlive, now]);
  for (const [key, since] of openSince) {
    const list = membership.get(key) ?? [];
    list.push([since, Infinity]);
    membership.set(key, list);
  }
  for (const [key, list] of membership) membership.set(key, normalize(list));
  for (const key of [...disputedSince.keys()]) endDispute(key, Infinity);
  for (const [key, list] of disputes) disputes.set(key, normalize(list));
  return { coverage: normalize(coverage), maxSilenceMs, membership, segments, disputes, customerOf, firstSeen, lastSeen };
}

export function availabilityOf(service: string, key: string, tl: Timeline, period: Interval[]): ServiceAvailability {
  const whole = total(period);
  const member = intersect(tl.membership.get(key) ?? [], period);
  const covered = intersect(member, tl.coverage);
  const segs = tl.segments.get(key) ?? [];
  const pick = (states: Set<string>): Interval[] => normalize(segs.filter((s) => states.has(s.state)).map((s) => [s.start, s.end] as Interval));
  const upMs = total(intersect(covered, pick(UP_STATES)));
  const failing = intersect(covered, pick(DOWN_STATES));
  // Failing from mamori's own network while another vantage saw it answer: neither up nor down.
  const disputedMs = total(intersect(failing, tl.disputes.get(key) ?? []));
  const downMs = total(failing) - disputedMs;
  const notMonitoredMs = whole - total(member);
  const daemonDownMs = total(member) - total(covered);
  const notProbedMs = total(covered) - upMs - downMs - disputedMs;
  return {
    service,
    upMs,
    downMs,
    disputedMs,
    unknownMs: notMonitoredMs + daemonDownMs + notProbedMs,
    unknown: { notMonitoredMs, daemonDownMs, notProbedMs },
    availability: upMs + downMs > 0 ? upMs / (upMs + downMs) : null,
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

interface IncidentDraft {
  server: string;
  id: string;
  target: string;
  openedAt: number;
  detectedAt: number;
  closedAt?: number;
  closeReason?: string;
  escalations: Array<{ at: number; reason: string }>;
  attempts: Map<number, ReportAttempt>;
}

function incidentsOf(records: readonly JournalRecord[]): Map<string, IncidentDraft> {
  const byId = new Map<string, IncidentDraft>();
  const attemptOf = (d: IncidentDraft, n: number, at: number): ReportAttempt => {
    let a = d.attempts.get(n);
    if (a === undefined) {
      a = { attempt: n, startedAt: iso(at), powerActions: 0, destructive: false, steps: [] };
      d.attempts.set(n, a);
    }
    return a;
  };
  for (const r of [...records].sort((a, b) => a.seq - b.seq)) {
    if (r.type === 'incident-opened') {
      const inc = r.incident as Record<string, unknown> | undefined;
      const id = str(inc?.id);
      const server = str(r.server);
      if (inc === undefined || id === undefined || server === undefined) continue;
      const openedAt = typeof inc.openedAt === 'number' ? inc.openedAt : timeOf(r);
      byId.set(id, {
        server,
        id,
        target: str(inc.target) ?? '?',
        openedAt,
        detectedAt: typeof inc.detectedAt === 'number' ? inc.detectedAt : openedAt,
        escalations: [],
        attempts: new Map(),
      });
      continue;
    }
    const id = str(r.incidentId);
    const d = id !== undefined ? byId.get(id) : undefined;
    if (d === undefined) continue;
    const at = timeOf(r);
    const n = typeof r.attempt === 'number' ? r.attempt : 0;
    switch (r.type) {
      case 'incident-closed':
        d.closedAt = at;
        d.closeReason = str(r.reason) ?? 'closed';
        break;
      case 'escalated':
        d.escalations.push({ at, reason: str(r.reason) ?? 'Escalated' });
        break;
      case 'started': {
        const a = attemptOf(d, n, at);
        a.startedAt = iso(at);
        a.destructive = r.destructive === true;
        break;
      }
      case 'finished': {
        const a = attemptOf(d, n, at);
        a.finishedAt = iso(at);
        const verdict = str(r.verdict);
        if (verdict !== undefined) a.verdict = verdict;
        const runbook = str(r.runbook);
        if (runbook) a.runbook = runbook;
        a.powerActions = typeof r.powerActions === 'number' ? r.powerActions : 0;
        a.steps = Array.isArray(r.steps) ? (r.steps as ReportAttempt['steps']) : [];
        if (typeof r.confirmedAt === 'number') a.confirmedAt = iso(r.confirmedAt);
        break;
      }
      case 'interrupted': {
        const a = attemptOf(d, n, at);
        a.finishedAt = iso(at);
        a.verdict = 'Interrupted';
        break;
      }
      default:
        break;
    }
  }
  return byId;
}

/** The incident's phases (first failing probe … Recovered), as the status file shows them. */
function phasesOf(i: Omit<ReportIncident, 'phases'>): ReportIncident['phases'] {
  return incidentPhases({
    id: i.id,
    service: i.target,
    detectedAt: i.detectedAt,
    openedAt: i.openedAt,
    attempts: i.attempts.map((a) => ({
      n: a.attempt,
      startedAt: a.startedAt,
      ...(a.finishedAt !== undefined ? { finishedAt: a.finishedAt } : {}),
      ...(a.verdict !== undefined ? { verdict: a.verdict } : {}),
      steps: a.steps.flatMap((st) => (st.startedAt !== undefined && st.finishedAt !== undefined ? [{ id: st.id, startedAt: st.startedAt, finishedAt: st.finishedAt, outcome: st.outcome }] : [])),
      ...(a.confirmedAt !== undefined ? { confirmedAt: a.confirmedAt } : {}),
    })),
    ...(i.closedAt !== undefined ? { closedAt: i.closedAt } : {}),
    ...(i.closeReason !== undefined ? { closeReason: i.closeReason } : {}),
  }).map((p) => ({ kind: p.kind, name: p.name, at: p.at, offsetS: p.offsetS }));
}

export function computeMonthlyReport(input: ReportInput): MonthlyReport {
  const timeZone = input.timeZone ?? 'UTC';
  const { start, end: monthEnd } = monthBounds(input.month, timeZone);
  const end = Math.max(start, Math.min(monthEnd, input.now));
  const period: Interval[] = end > start ? [[start, end]] : [];
  const tl = buildTimeline(input.records, input.now);
  const desired = new Map(input.desired.map((d) => [d.name, d]));

  // The customer of a server: the applied manifests now, else the last journaled.
  const customerOf = (name: string): string | undefined => desired.get(name)?.customer ?? tl.customerOf.get(name);
  const names = new Set<string>();
  for (const d of input.desired) if (d.customer === input.customer) names.add(d.name);
  for (const [key, intervals] of tl.membership) {
    const name = key.split('|')[0] as string;
    if (customerOf(name) === input.customer && intersect(intervals, period).length > 0) names.add(name);
  }

  const drafts = incidentsOf(input.records);
  const servers: ReportServer[] = [];
  for (const name of [...names].sort()) {
    const d = desired.get(name);
    const services = new Set<string>(d?.services ?? []);
    for (const [key, intervals] of tl.membership) {
      const [server, service] = key.split('|') as [string, string];
      if (server === name && intersect(intervals, period).length > 0) services.add(service);
    }
    const memberAll = normalize([...services].flatMap((s) => tl.membership.get(keyOf(name, s)) ?? []));
    const inPeriod = intersect(memberAll, period);
    const incidents: ReportIncident[] = [...drafts.values()]
      .filter((x) => x.server === name && x.openedAt < end && (x.closedAt === undefined || x.closedAt >= start))
      .sort((a, b) => a.openedAt - b.openedAt)
      .map((x) => ({
        id: x.id,
        server: x.server,
        target: x.target,
        detectedAt: iso(x.detectedAt),
        openedAt: iso(x.openedAt),
        ...(x.closedAt !== undefined ? { closedAt: iso(x.closedAt) } : {}),
        ...(x.closeReason !== undefined ? { closeReason: x.closeReason } : {}),
        ...(x.closedAt !== undefined && x.closeReason !== undefined && RECOVERED_REASONS.has(x.closeReason) ? { timeToRecoveryMs: x.closedAt - x.openedAt } : {}),
        escalations: x.escalations.map((e) => ({ at: iso(e.at), reason: e.reason })),
        attempts: [...x.attempts.values()].sort((a, b) => a.attempt - b.attempt),
      }))
      .map((i) => ({ ...i, phases: phasesOf(i) }));
    const first = inPeriod[0];
    const last = inPeriod[inPeriod.length - 1];
    servers.push({
      name,
      ...(d?.contact !== undefined ? { contact: d.contact } : {}),
      ...(first !== undefined ? { monitoredFrom: iso(first[0]) } : {}),
      ...(last !== undefined ? { monitoredUntil: iso(last[1]) } : {}),
      services: [...services].map((s) => availabilityOf(s, keyOf(name, s), tl, period)),
      incidents,
    });
  }

  const all = servers.flatMap((s) => s.incidents);
  const ttrs = all.flatMap((i) => (i.timeToRecoveryMs !== undefined ? [i.timeToRecoveryMs] : []));
  const attempts = all.flatMap((i) => i.attempts);
  return {
    kind: 'MonthlyReport',
    customer: input.customer,
    month: input.month,
    period: { start: iso(start), end: iso(end), partial: end < monthEnd, timeZone },
    generatedAt: iso(input.now),
    maxSilenceMs: tl.maxSilenceMs,
    servers,
    totals: {
      servers: servers.length,
      incidents: all.length,
      recovered: ttrs.length,
      attempts: attempts.length,
      powerActions: attempts.reduce((n, a) => n + a.powerActions, 0),
      meanTimeToRecoveryMs: ttrs.length > 0 ? Math.round(ttrs.reduce((a, b) => a + b, 0) / ttrs.length) : null,
    },
  };
}
