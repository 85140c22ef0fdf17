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
 *      sign of life); with replicas, any moment no replica had the server in its shard while
 *      running (each replica's journal says what it watched: timeline.ts);
 *    not probed — watched, but no trusted probe result yet (state Unknown, e.g. just added).
 *  - disputed, neither up nor down: the vantage points disagreed (`quorum` records with judgement
 *    `disputed`: down from one network, up from another) — from that judgement until the service
 *    answers again, another judgement replaces it, or the service is no longer watched. It is cut
 *    out of the down time, never counted as up.
 *  - availability = up / (up + down): the share of the time mamori could see the service.
 */
import { incidentPhases } from '../status/incident-phases.ts';
import type { JournalRecord } from '../status/journal.ts';
import { intersect, normalize, type Interval } from './intervals.ts';
import { availabilityOf, buildFleetTimeline, keyOf, mergeJournals, missingJournals, serverOfKey, timeOf, watchedBy, type Timeline } from './timeline.ts';
import { zonedMidnight } from './zoned-time.ts';
import type { MonthlyReport, ReportAttempt, ReportIncident, ReportServer } from './types.ts';

export { availabilityOf, buildFleetTimeline, buildTimeline, type Timeline } from './timeline.ts';

const RECOVERED_REASONS = new Set(['recovered', 'recovered-by-itself']);

/** One server of the desired state now: where its report goes. */
export interface DesiredReportServer {
  name: string;
  customer?: string;
  services: readonly string[];
  contact?: ReportServer['contact'];
}

export interface ReportInput {
  /** The journal of a mamori alone (or give `journals`). */
  records?: readonly JournalRecord[];
  /** Replicas: every replica's journal (each accounts for the servers it watched). */
  journals?: ReadonlyArray<readonly JournalRecord[]>;
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

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
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
  /** The journal that opened it, and when any journal last said something of it. */
  journal: number;
  lastAt: number;
}

/** The incidents of the records (in time order: one journal's seq order, or several merged). */
function incidentsOf(records: readonly JournalRecord[], source: readonly number[]): Map<string, IncidentDraft> {
  const byId = new Map<string, IncidentDraft>();
  const attemptOf = (d: IncidentDraft, n: number, at: number): ReportAttempt => {
    let a = d.attempts.get(n);
    if (a === undefined) {
      a = { attempt: n, startedAt: iso(at), powerActions: 0, destructive: false, steps: [] };
      d.attempts.set(n, a);
    }
    return a;
  };
  for (const [i, r] of records.entries()) {
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
        journal: source[i] ?? 0,
        lastAt: timeOf(r),
      });
      continue;
    }
    const id = str(r.incidentId);
    const d = id !== undefined ? byId.get(id) : undefined;
    if (d === undefined) continue;
    const at = timeOf(r);
    d.lastAt = Math.max(d.lastAt, at);
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

/**
 * Replicas: an incident still open in the journal of a replica that stopped watching its server
 * (it died, or the server moved to another's shard) and that no journal spoke of since ends there,
 * `handed-over`, once another replica watched the server after — the new owner's own incident
 * tells the rest. No time to recovery is counted for it. A mamori alone never hands over.
 */
function closeHandedOver(drafts: Map<string, IncidentDraft>, tl: Timeline): void {
  if (tl.watchers.length < 2) return;
  for (const d of drafts.values()) {
    if (d.closedAt !== undefined) continue;
    const mine = tl.watchers[d.journal];
    if (mine === undefined) continue;
    const span = watchedBy(mine, d.server).find(([, b]) => b > d.openedAt);
    const end = span?.[1] ?? d.openedAt;
    if (!Number.isFinite(end) || d.lastAt > end) continue;
    const after = tl.watchers.some((w, j) => j !== d.journal && watchedBy(w, d.server).some(([, b]) => b > end));
    if (!after) continue;
    d.closedAt = Math.max(end, d.openedAt);
    d.closeReason = 'handed-over';
  }
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
  const journals = input.journals ?? [input.records ?? []];
  const tl = buildFleetTimeline(journals, input.now);
  const desired = new Map(input.desired.map((d) => [d.name, d]));

  // The customer of a server: the applied manifests now, else the last journaled.
  const customerOf = (name: string): string | undefined => desired.get(name)?.customer ?? tl.customerOf.get(name);
  const names = new Set<string>();
  for (const d of input.desired) if (d.customer === input.customer) names.add(d.name);
  for (const [key, intervals] of tl.membership) {
    const name = serverOfKey(key);
    if (customerOf(name) === input.customer && intersect(intervals, period).length > 0) names.add(name);
  }

  const merged = mergeJournals(journals);
  const drafts = incidentsOf(merged.records, merged.source);
  closeHandedOver(drafts, tl);
  const servers: ReportServer[] = [];
  for (const name of [...names].sort()) {
    const d = desired.get(name);
    const services = new Set<string>(d?.services ?? []);
    for (const [key, intervals] of tl.membership) {
      const server = serverOfKey(key);
      const service = key.slice(server.length + 1);
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

  const missing = missingJournals(tl, start, end);
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
    ...(missing.length > 0 ? { missingJournals: missing } : {}),
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
