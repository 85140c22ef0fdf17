/**
 * The journals as a timeline (pure): what was in the manifests when, when each mamori watched
 * which server, and what each saw of each service. One journal (mamori alone) or several (one per
 * replica): every second of a service is counted the same way — see compute.ts for the rules.
 *
 * With replicas each journal accounts for its own watching: `monitor-started {replica}` begins a
 * life that watches only the servers of its `monitor-shard` records; its heartbeats bound it as
 * they bound a lone daemon. A server is covered at a moment when some replica ran and had it in
 * its shard; a moment when none did is unknown ("daemon down" — no mamori watched it), never up.
 * What a replica saw counts only while it watched: its states of a server it handed over stop
 * counting at the hand-over. Two replicas watching at once (a hand-over, a replica cut off from
 * etcd still probing its last shard) that disagree count as down: availability is never overstated.
 * The manifests in force at a moment are those of the newest `monitor-desired` record of any journal.
 * A disagreement of the vantage points (`quorum` … `disputed`) is the journal's that recorded it.
 */
import type { JournalRecord } from '../status/journal.ts';
import { DEFAULT_HEARTBEAT_MS, MONITOR_DESIRED, MONITOR_SHARD, MONITOR_STARTED, MONITOR_STOPPED, SILENCE_HEARTBEATS, type MonitoredServer } from './coverage-records.ts';
import { intersect, normalize, subtract, total, type Interval } from './intervals.ts';
import type { ServiceAvailability } from './types.ts';

const UP_STATES = new Set(['Healthy', 'Recovered']);
const DOWN_STATES = new Set(['Suspect', 'Down', 'Remediating', 'Escalated']);

interface StateSegment {
  start: number;
  end: number;
  state: string;
}

/** One journal's own account: when its mamori ran, what it watched, what it saw. */
export interface Watcher {
  /** The replica that wrote it (undefined: a mamori alone). */
  replica: string | undefined;
  /** When it ran (start/heartbeat/stop records; a silence past the allowance is a gap). */
  coverage: Interval[];
  /** When it watched every server of the manifests (a life without a replica name). */
  everything: Interval[];
  /** Replicas: server id → when it was in this replica's shard. */
  shard: Map<string, Interval[]>;
  /** server|service → the states it saw. */
  segments: Map<string, StateSegment[]>;
  /** server|service → when its vantage points disagreed about it (normalized; compute.ts: disputed). */
  disputes: Map<string, Interval[]>;
  /** The members its shard records named, with when (the report names replicas whose journal is missing). */
  memberViews: Array<{ at: number; members: string[] }>;
  /** server id → when it watched it (coverage ∩ shard), computed on first use. */
  watchedCache: Map<string, Interval[]>;
}

export interface Timeline {
  /** When any of the journals' mamori ran. */
  coverage: Interval[];
  maxSilenceMs: number;
  /** server|service → the intervals it was in the applied manifests. */
  membership: Map<string, Interval[]>;
  customerOf: Map<string, string>;
  firstSeen: Map<string, number>;
  lastSeen: Map<string, number>;
  /** One per journal, in the order given. */
  watchers: Watcher[];
}

export const keyOf = (server: string, service: string): string => `${server}|${service}`;

/** The server of a server|service key (server ids hold '/', never '|'). */
export const serverOfKey = (key: string): string => key.slice(0, key.lastIndexOf('|'));

export function timeOf(r: JournalRecord): number {
  return typeof r.at === 'number' ? r.at : Date.parse(r.ts);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function serversOf(r: JournalRecord): MonitoredServer[] {
  const list = Array.isArray(r.servers) ? (r.servers as unknown[]) : [];
  return list.flatMap((s) => {
    if (typeof s !== 'object' || s === null) return [];
    const o = s as Record<string, unknown>;
    const name = str(o.name);
    if (name === undefined) return [];
    const services = strings(o.services);
    const customer = str(o.customer);
    return [{ name, services, ...(customer !== undefined ? { customer } : {}) }];
  });
}

/** The server|service keys a `monitor-desired` record names. */
function wantedOf(r: JournalRecord): Set<string> {
  const wanted = new Set<string>();
  for (const s of serversOf(r)) for (const svc of s.services) wanted.add(keyOf(s.name, svc));
  return wanted;
}

/**
 * Several journals as one stream in time order: each journal in its own order (seq), merged by
 * record time, ties to the journal given first. One journal comes back in seq order, as it was.
 */
export function mergeJournals(journals: ReadonlyArray<readonly JournalRecord[]>): { records: JournalRecord[]; source: number[] } {
  const sorted = journals.map((j) => [...j].sort((a, b) => a.seq - b.seq));
  if (sorted.length === 1) return { records: sorted[0] as JournalRecord[], source: (sorted[0] as JournalRecord[]).map(() => 0) };
  const times = sorted.map((j) => j.map((r) => Date.parse(r.ts)));
  const heads = sorted.map(() => 0);
  const records: JournalRecord[] = [];
  const source: number[] = [];
  for (;;) {
    let pick = -1;
    let best = Infinity;
    for (let j = 0; j < sorted.length; j++) {
      const i = heads[j] as number;
      if (i >= (sorted[j] as JournalRecord[]).length) continue;
      // An unreadable time goes out at once: it sits where its journal put it.
      const t = Number.isNaN((times[j] as number[])[i]) ? -Infinity : ((times[j] as number[])[i] as number);
      if (pick < 0 || t < best) {
        pick = j;
        best = t;
      }
    }
    if (pick < 0) break;
    const i = heads[pick] as number;
    records.push((sorted[pick] as JournalRecord[])[i] as JournalRecord);
    source.push(pick);
    heads[pick] = i + 1;
  }
  return { records, source };
}

/** One journal's own pass (records in seq order). */
function watcherOf(records: readonly JournalRecord[], now: number): { watcher: Watcher; maxSilenceMs: number } {
  const coverage: Interval[] = [];
  let running = false;
  let lastAlive = 0;
  let maxSilenceMs = DEFAULT_HEARTBEAT_MS * SILENCE_HEARTBEATS;
  let replica: string | undefined;
  const everything: Interval[] = [];
  let everythingSince: number | undefined;
  const shard = new Map<string, Interval[]>();
  const shardSince = new Map<string, number>();
  const memberViews: Watcher['memberViews'] = [];
  const segments = new Map<string, StateSegment[]>();
  const current = new Map<string, StateSegment>();
  let wanted = new Set<string>();
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
  const endShard = (server: string, since: number, t: number): void => {
    const list = shard.get(server) ?? [];
    list.push([since, t]);
    shard.set(server, list);
  };
  const endLife = (t: number): void => {
    for (const [server, since] of shardSince) endShard(server, since, t);
    shardSince.clear();
    if (everythingSince !== undefined) everything.push([everythingSince, t]);
    everythingSince = undefined;
  };

  for (const r of records) {
    const t = Date.parse(r.ts);
    if (Number.isNaN(t)) continue;
    if (r.type === MONITOR_STARTED) {
      running = true;
      lastAlive = t;
      if (typeof r.heartbeatMs === 'number' && r.heartbeatMs > 0) maxSilenceMs = r.heartbeatMs * SILENCE_HEARTBEATS;
      // A new life: what the last one watched ends here (its coverage ended at its last record).
      endLife(t);
      const name = str(r.replica);
      if (name !== undefined) replica = name;
      else everythingSince = t;
    } else if (running) {
      if (t - lastAlive <= maxSilenceMs) coverage.push([lastAlive, t]);
      lastAlive = Math.max(lastAlive, t);
      if (r.type === MONITOR_STOPPED) running = false;
    }

    if (r.type === MONITOR_SHARD) {
      const name = str(r.replica);
      if (name !== undefined) replica = name;
      const members = strings(r.members);
      memberViews.push({ at: t, members });
      const owned = new Set(strings(r.servers));
      for (const [server, since] of [...shardSince]) {
        if (owned.has(server)) continue;
        endShard(server, since, t);
        shardSince.delete(server);
      }
      for (const server of owned) if (!shardSince.has(server)) shardSince.set(server, t);
    } else if (r.type === MONITOR_DESIRED) {
      const next = wantedOf(r);
      for (const key of wanted) {
        if (next.has(key)) continue;
        const cur = current.get(key);
        if (cur !== undefined) cur.end = t;
        current.delete(key);
        endDispute(key, t);
      }
      // Added (or added again): the reconciler starts it from Unknown.
      for (const key of next) if (!wanted.has(key)) setState(key, t, 'Unknown');
      wanted = next;
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
  endLife(Infinity);
  for (const [server, list] of shard) shard.set(server, normalize(list));
  for (const key of [...disputedSince.keys()]) endDispute(key, Infinity);
  for (const [key, list] of disputes) disputes.set(key, normalize(list));
  return {
    watcher: { replica, coverage: normalize(coverage), everything: normalize(everything), shard, segments, disputes, memberViews, watchedCache: new Map() },
    maxSilenceMs,
  };
}

/** When the journal's mamori watched the server: it ran, and the server was its to watch. */
export function watchedBy(w: Watcher, server: string): Interval[] {
  let v = w.watchedCache.get(server);
  if (v === undefined) {
    const mine = w.everything.length === 0 ? (w.shard.get(server) ?? []) : normalize([...w.everything, ...(w.shard.get(server) ?? [])]);
    v = intersect(w.coverage, mine);
    w.watchedCache.set(server, v);
  }
  return v;
}

/** The journals (one per replica, or one alone) as one timeline; `now` bounds a running mamori's coverage. */
export function buildFleetTimeline(journals: ReadonlyArray<readonly JournalRecord[]>, now: number): Timeline {
  const watchers: Watcher[] = [];
  let maxSilenceMs = 0;
  for (const j of journals) {
    const w = watcherOf([...j].sort((a, b) => a.seq - b.seq), now);
    watchers.push(w.watcher);
    maxSilenceMs = Math.max(maxSilenceMs, w.maxSilenceMs);
  }
  if (watchers.length === 0) maxSilenceMs = DEFAULT_HEARTBEAT_MS * SILENCE_HEARTBEATS;

  // The manifests: the newest monitor-desired record of any journal is in force.
  const membership = new Map<string, Interval[]>();
  const openSince = new Map<string, number>();
  const customerOf = new Map<string, string>();
  const firstSeen = new Map<string, number>();
  const lastSeen = new Map<string, number>();
  for (const r of mergeJournals(journals).records) {
    if (r.type !== MONITOR_DESIRED) continue;
    const t = Date.parse(r.ts);
    if (Number.isNaN(t)) continue;
    for (const s of serversOf(r)) if (s.customer !== undefined) customerOf.set(s.name, s.customer);
    const wanted = wantedOf(r);
    for (const [key, since] of [...openSince]) {
      if (wanted.has(key)) continue;
      openSince.delete(key);
      const list = membership.get(key) ?? [];
      list.push([since, t]);
      membership.set(key, list);
      lastSeen.set(serverOfKey(key), t);
    }
    for (const key of wanted) {
      if (openSince.has(key)) continue;
      openSince.set(key, t);
      const server = serverOfKey(key);
      if (!firstSeen.has(server)) firstSeen.set(server, t);
      lastSeen.delete(server);
    }
  }
  for (const [key, since] of openSince) {
    const list = membership.get(key) ?? [];
    list.push([since, Infinity]);
    membership.set(key, list);
  }
  for (const [key, list] of membership) membership.set(key, normalize(list));
  return { coverage: normalize(watchers.flatMap((w) => w.coverage)), maxSilenceMs, membership, customerOf, firstSeen, lastSeen, watchers };
}

/** One journal (a mamori alone) as a timeline. */
export function buildTimeline(records: readonly JournalRecord[], now: number): Timeline {
  return buildFleetTimeline([records], now);
}

export function availabilityOf(service: string, key: string, tl: Timeline, period: Interval[]): ServiceAvailability {
  const whole = total(period);
  const server = serverOfKey(key);
  const member = intersect(tl.membership.get(key) ?? [], period);
  const seen: Interval[] = [];
  const up: Interval[] = [];
  const down: Interval[] = [];
  const disputed: Interval[] = [];
  for (const w of tl.watchers) {
    const mine = intersect(member, watchedBy(w, server));
    if (mine.length === 0) continue;
    seen.push(...mine);
    const segs = w.segments.get(key) ?? [];
    const pick = (states: Set<string>): Interval[] => normalize(segs.filter((s) => states.has(s.state)).map((s) => [s.start, s.end] as Interval));
    up.push(...intersect(mine, pick(UP_STATES)));
    const failing = intersect(mine, pick(DOWN_STATES));
    down.push(...failing);
    // Failing from mamori's own network while another vantage saw it answer: neither up nor down.
    disputed.push(...intersect(failing, w.disputes.get(key) ?? []));
  }
  const covered = normalize(seen);
  const failing = normalize(down);
  // Watched twice and seen both ways: failing (never overstate availability).
  const ups = subtract(normalize(up), failing);
  const upMs = total(ups);
  const disputedMs = total(intersect(failing, normalize(disputed)));
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

/**
 * Replicas named in the journals' shard records over the period (the last view before it and
 * every one within it) whose own journal is not among those given: their watching is not
 * counted, so the servers they watched read as unknown there.
 */
export function missingJournals(tl: Timeline, start: number, end: number): string[] {
  const have = new Set(tl.watchers.flatMap((w) => (w.replica !== undefined ? [w.replica] : [])));
  const named = new Set<string>();
  for (const w of tl.watchers) {
    let before: string[] | undefined;
    for (const v of w.memberViews) {
      if (v.at < start) before = v.members;
      else if (v.at < end) for (const m of v.members) named.add(m);
    }
    for (const m of before ?? []) named.add(m);
  }
  return [...named].filter((m) => !have.has(m)).sort();
}
