/**
 * When a server's repairs are held on purpose: maintenance windows (once, or recurring by a cron
 * schedule read in an IANA time zone) and `spec.suspend` (for ever, or until a time). Pure: the
 * clock comes in as `now`; croner only computes calendar times.
 *
 * A recurring window lasts `durationMs` of elapsed time from each start, so a window that crosses
 * a daylight-saving change still lasts as long as it says. A start that falls in the hour a
 * spring-forward skips is moved to the first minute that exists (croner's rule, as cron does).
 */
import { Cron } from 'croner';
import type { DesiredServer, MaintenanceWindow } from './types.ts';

/** A window in force at `now`, or the next one to begin: what the status page and `mamori status` show. */
export interface WindowTimes {
  startMs: number;
  endMs: number;
  reason?: string;
}

const CRON_CACHE_MAX = 4096;
const cronCache = new Map<string, Cron>();
/** Longer than any daylight-saving shift in the time zone database (one hour, or thirty minutes). */
const DST_MARGIN_MS = 2 * 3_600_000;
const MAX_STARTS_SEARCHED = 7 * 24 * 60 + 2 * 60 + 1;

/** One compiled schedule per (expression, zone): a fleet shares a few schedules, not one each. */
function cronOf(schedule: string, timeZone: string): Cron {
  const key = `${timeZone} ${schedule}`;
  let c = cronCache.get(key);
  if (c === undefined) {
    // Bounded: schedules come from manifests, and a long-running daemon sees them change.
    if (cronCache.size >= CRON_CACHE_MAX) cronCache.clear();
    c = new Cron(schedule, { timezone: timeZone, paused: true, mode: '5-part' });
    cronCache.set(key, c);
  }
  return c;
}

/** The first start strictly after `afterMs`, or undefined when the schedule never fires again. */
function nextStart(w: Extract<MaintenanceWindow, { kind: 'recurring' }>, afterMs: number): number | undefined {
  const next = cronOf(w.schedule, w.timeZone).nextRun(new Date(afterMs));
  return next === null ? undefined : next.getTime();
}

function withReason(startMs: number, endMs: number, reason: string | undefined): WindowTimes {
  return reason === undefined ? { startMs, endMs } : { startMs, endMs, reason };
}

/** The occurrence of `w` in force at `now` (the one that ends last), or undefined. */
export function windowAt(w: MaintenanceWindow, now: number): WindowTimes | undefined {
  if (w.kind !== 'recurring') return now >= w.startMs && now < w.endMs ? withReason(w.startMs, w.endMs, w.reason) : undefined;
  // A start s is in force when s <= now < s + duration. The search begins a margin earlier than
  // now - duration: a start moved forward by a spring-forward gap is only found by a search that
  // begins before the gap. Bounded: a schedule fires at most once a minute, a window lasts at most
  // a week.
  let s = nextStart(w, now - w.durationMs - DST_MARGIN_MS);
  let found: number | undefined;
  for (let i = 0; s !== undefined && s <= now && i < MAX_STARTS_SEARCHED; i++) {
    if (s + w.durationMs > now) found = s;
    s = nextStart(w, s);
  }
  return found === undefined ? undefined : withReason(found, found + w.durationMs, w.reason);
}

/** The next occurrence of `w` that starts after `now`, or undefined. */
export function nextWindowOf(w: MaintenanceWindow, now: number): WindowTimes | undefined {
  if (w.kind !== 'recurring') return w.startMs > now ? withReason(w.startMs, w.endMs, w.reason) : undefined;
  const s = nextStart(w, now);
  return s === undefined ? undefined : withReason(s, s + w.durationMs, w.reason);
}

/** The window in force at `now` that ends last, across all of a server's windows. */
export function currentWindow(server: DesiredServer, now: number): WindowTimes | undefined {
  let best: WindowTimes | undefined;
  for (const w of server.maintenance) {
    const t = windowAt(w, now);
    if (t !== undefined && (best === undefined || t.endMs > best.endMs)) best = t;
  }
  return best;
}

/** The soonest window that starts after `now`. */
export function nextWindow(server: DesiredServer, now: number): WindowTimes | undefined {
  let best: WindowTimes | undefined;
  for (const w of server.maintenance) {
    const t = nextWindowOf(w, now);
    if (t !== undefined && (best === undefined || t.startMs < best.startMs)) best = t;
  }
  return best;
}

/** The reason repairs are held by a maintenance window at `now`, or undefined. */
export function isInMaintenance(server: DesiredServer, now: number): string | undefined {
  if (server.maintenance.length === 0) return undefined;
  const w = currentWindow(server, now);
  return w === undefined ? undefined : (w.reason ?? 'maintenance window');
}

/** Whether `spec.suspend` holds repairs at `now` (a suspend with `until` ends by itself). */
export function isSuspended(server: DesiredServer, now: number): boolean {
  return server.suspend && (server.suspendUntilMs === undefined || now < server.suspendUntilMs);
}
