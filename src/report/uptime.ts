/**
 * Uptime history for the status page's bars: per service, the last 24 hours by the hour and the
 * last 30 days by the day (days start at 00:00 in the configured zone), each bucket counted the way
 * the monthly report counts (compute.ts): up, down, and unknown (not watched, daemon down, not
 * probed) — unknown is never up. Pure: a timeline built from the journal, a time and a zone in.
 */
import { availabilityOf, type Timeline } from './timeline.ts';
import { zonedMidnight, zoneOffsetMs } from './zoned-time.ts';

const HOUR = 3_600_000;

export interface UptimeBucket {
  /** Epoch ms; the last bucket ends at `now`. */
  start: number;
  end: number;
  upMs: number;
  downMs: number;
  /** The vantage points disagreed (compute.ts): neither up nor down. */
  disputedMs: number;
  unknownMs: number;
}

export interface UptimeHistory {
  hours: UptimeBucket[];
  days: UptimeBucket[];
  /** up / (up + down) over each span; null when nothing was seen. */
  availability24h: number | null;
  availability30d: number | null;
}

function bucket(tl: Timeline, key: string, start: number, end: number): UptimeBucket {
  const a = availabilityOf('', key, tl, end > start ? [[start, end]] : []);
  return { start, end, upMs: a.upMs, downMs: a.downMs, disputedMs: a.disputedMs, unknownMs: a.unknownMs };
}

function share(list: readonly UptimeBucket[]): number | null {
  const up = list.reduce((n, b) => n + b.upMs, 0);
  const down = list.reduce((n, b) => n + b.downMs, 0);
  return up + down > 0 ? up / (up + down) : null;
}

export function uptimeHistory(tl: Timeline, server: string, service: string, now: number, timeZone: string): UptimeHistory {
  const key = `${server}|${service}`;
  // The last bucket is the hour now is in (the one just ended, on the hour itself).
  const hourStart = Math.ceil(now / HOUR) * HOUR - HOUR;
  const hours: UptimeBucket[] = [];
  for (let i = 23; i >= 0; i--) {
    const start = hourStart - i * HOUR;
    hours.push(bucket(tl, key, start, Math.min(now, start + HOUR)));
  }
  const local = new Date(now + zoneOffsetMs(now, timeZone));
  const days: UptimeBucket[] = [];
  for (let i = 29; i >= 0; i--) {
    const y = local.getUTCFullYear();
    const m = local.getUTCMonth();
    const d = local.getUTCDate() - i;
    const start = zonedMidnight(y, m, d, timeZone);
    days.push(bucket(tl, key, start, Math.min(now, zonedMidnight(y, m, d + 1, timeZone))));
  }
  return { hours, days, availability24h: share(hours), availability30d: share(days) };
}
