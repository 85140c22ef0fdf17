/**
 * Recurring maintenance windows and suspensions that end by themselves, judged by decide: a
 * window read in Asia/Tokyo (no daylight saving) and in America/New_York across both of its
 * daylight-saving changes, where a window lasts its elapsed duration, not a span of wall-clock
 * hours.
 */
import { describe, expect, test } from 'vitest';
import type { ServiceName } from '../../src/manifest/types.ts';
import { currentWindow, nextWindow, windowAt } from '../../src/reconcile/maintenance.ts';
import type { DesiredServer, MaintenanceWindow } from '../../src/reconcile/types.ts';
import { holdOf, type Pass, runs, runScenario, server, T0 } from './scenario.ts';
import { serverStatusOf } from '../../src/reconcile/status-view.ts';
import { formatStatusTable } from '../../src/cli/status.ts';
import { renderServer } from '../../src/http/page/render.ts';
import type { PageData } from '../../src/http/page/page-data.ts';
import type { ServerStatus } from '../../src/status/model.ts';

const at = (iso: string): number => Date.parse(iso);
/** Seconds after the scenarios' T0 (2026-11-25T00:00Z, a Wednesday: 09:00 in Tokyo). */
const sec = (iso: string): number => (at(iso) - T0) / 1000;

/** n passes of web01 with http failing, 5 s apart, from `iso`. */
function httpFailing(iso: string, n = 4): Pass[] {
  const probes: Partial<Record<ServiceName, boolean>> = { ping: true, http: false, ssh: true, smtp: true };
  return Array.from({ length: n }, (_, i) => ({ t: sec(iso) + i * 5, probes: { web01: probes } }));
}

function recurring(schedule: string, timeZone: string, minutes: number, reason?: string): MaintenanceWindow {
  return { kind: 'recurring', schedule, timeZone, durationMs: minutes * 60_000, ...(reason !== undefined ? { reason } : {}) };
}

async function judge(windows: MaintenanceWindow[], iso: string, over: Partial<DesiredServer> = {}): Promise<{ runs: number; hold: string | undefined }> {
  const r = await runScenario([server('web01', { maintenance: windows, ...over })], httpFailing(iso));
  return { runs: runs(r.actions).length, hold: holdOf(r, 'web01', 'http') };
}

describe('recurring windows in Asia/Tokyo (JST, no daylight saving)', () => {
  // Every Wednesday 09:00–10:00 JST = 00:00–01:00Z.
  const wed = recurring('0 9 * * 3', 'Asia/Tokyo', 60, 'weekly patching');

  test.each([
    { when: 'inside the window (Wednesday 09:30 JST)', iso: '2026-11-25T00:30:00Z', held: true },
    { when: 'a week later, inside the next occurrence', iso: '2026-12-02T00:10:00Z', held: true },
    { when: 'after it ended (10:05 JST)', iso: '2026-11-25T01:05:00Z', held: false },
    { when: 'the same time on a Thursday', iso: '2026-11-26T00:30:00Z', held: false },
    { when: 'Wednesday 09:00 UTC (18:00 JST): UTC is not the zone', iso: '2026-11-25T09:00:00Z', held: false },
  ])('$when: held=$held', async ({ iso, held }) => {
    const r = await judge([wed], iso);
    expect(r.hold).toBe(held ? 'Maintenance' : undefined);
    expect(r.runs).toBe(held ? 0 : 1);
  });

  test('a window that closes while the service is still down lets the repair start', async () => {
    // Starts failing at 09:59:45 JST; the window ends at 10:00:00.
    const r = await runScenario([server('web01', { maintenance: [wed] })], httpFailing('2026-11-25T00:59:45Z', 6));
    expect(runs(r.actions).map((a) => a.target)).toEqual(['http']);
    expect(r.perPass.findIndex((p) => p.some((a) => a.type === 'run-runbook'))).toBeGreaterThanOrEqual(3);
  });

  test('the status shows the next window while none is in force', () => {
    const d = server('web01', { maintenance: [wed] });
    expect(currentWindow(d, at('2026-11-25T02:00:00Z'))).toBeUndefined();
    expect(nextWindow(d, at('2026-11-25T02:00:00Z'))).toEqual({ startMs: at('2026-12-02T00:00:00Z'), endMs: at('2026-12-02T01:00:00Z'), reason: 'weekly patching' });
  });
});

describe('recurring windows in America/New_York (daylight saving)', () => {
  // Every Sunday 01:00 local for 120 elapsed minutes.
  const sun = recurring('0 1 * * 0', 'America/New_York', 120);

  test.each([
    // Spring forward, 2027-03-14: 01:00 EST = 06:00Z; 120 minutes later is 08:00Z = 04:00 EDT.
    { when: 'spring forward, 03:30 EDT (07:30Z): still inside the 2 elapsed hours', iso: '2027-03-14T07:30:00Z', held: true },
    { when: 'spring forward, 04:05 EDT (08:05Z): over', iso: '2027-03-14T08:05:00Z', held: false },
    // Fall back, 2027-11-07: 01:00 EDT = 05:00Z; 120 minutes later is 07:00Z = 02:00 EST.
    { when: 'fall back, 01:30 EST (06:30Z), the repeated hour: inside', iso: '2027-11-07T06:30:00Z', held: true },
    { when: 'fall back, 02:05 EST (07:05Z): over', iso: '2027-11-07T07:05:00Z', held: false },
    { when: 'an ordinary Sunday in summer, 01:30 EDT (05:30Z)', iso: '2027-07-04T05:30:00Z', held: true },
    { when: 'an ordinary Sunday in winter, 01:30 EST (06:30Z)', iso: '2027-01-10T06:30:00Z', held: true },
    { when: 'the winter window seen at summer offsets (05:30Z in January = 00:30 EST)', iso: '2027-01-10T05:30:00Z', held: false },
  ])('$when: held=$held', async ({ iso, held }) => {
    const r = await judge([sun], iso);
    expect(r.hold).toBe(held ? 'Maintenance' : undefined);
    expect(r.runs).toBe(held ? 0 : 1);
  });

  test('a start in the hour that spring-forward skips (02:30) begins at the first minute that exists', () => {
    const w = recurring('30 2 * * 0', 'America/New_York', 30);
    expect(windowAt(w, at('2027-03-14T07:00:00Z'))).toBeUndefined(); // 03:00 EDT: not yet
    expect(windowAt(w, at('2027-03-14T07:45:00Z'))).toEqual({ startMs: at('2027-03-14T07:30:00Z'), endMs: at('2027-03-14T08:00:00Z') });
  });
});

describe('overlapping and one-time windows together', () => {
  test('the occurrence that ends last is the one in force', () => {
    // Every 30 minutes, 45 minutes long: at 00:40 both the 00:00 and the 00:30 occurrences hold.
    const w = recurring('*/30 * * * *', 'UTC', 45);
    expect(windowAt(w, at('2026-11-25T00:40:00Z'))).toEqual({ startMs: at('2026-11-25T00:30:00Z'), endMs: at('2026-11-25T01:15:00Z') });
  });

  test('a one-time window and a recurring one: either holds', async () => {
    const once: MaintenanceWindow = { startMs: at('2026-11-30T00:00:00Z'), endMs: at('2026-11-30T03:00:00Z'), reason: 'disk swap' };
    const wed = recurring('0 9 * * 3', 'Asia/Tokyo', 60);
    expect((await judge([once, wed], '2026-11-30T01:00:00Z')).hold).toBe('Maintenance');
    expect((await judge([once, wed], '2026-11-25T00:30:00Z')).hold).toBe('Maintenance');
    expect((await judge([once, wed], '2026-11-27T00:30:00Z')).runs).toBe(1);
  });
});

describe('suspend with until', () => {
  test('holds repairs until the time, then repairs resume by themselves', async () => {
    const until = at('2026-11-25T01:00:00Z');
    expect(await judge([], '2026-11-25T00:30:00Z', { suspend: true, suspendUntilMs: until })).toEqual({ runs: 0, hold: 'Suspended' });
    expect((await judge([], '2026-11-25T01:00:00Z', { suspend: true, suspendUntilMs: until })).runs).toBe(1);
  });

  test('suspend without until holds for ever', async () => {
    expect((await judge([], '2027-11-25T00:30:00Z', { suspend: true })).hold).toBe('Suspended');
  });
});

describe('the status shows the window in force and the next one', () => {
  const wed = recurring('0 9 * * 3', 'Asia/Tokyo', 60, 'weekly patching');
  const statusAt = (iso: string) => serverStatusOf({ desired: server('web01', { maintenance: [wed] }), history: undefined, revision: 'r1', now: at(iso), customer: 'acme' });

  test('between windows: the next one, in the status file, `mamori status` and the page', () => {
    const s = statusAt('2026-11-25T02:00:00Z');
    expect(s.maintenance).toEqual({ next: { start: '2026-12-02T00:00:00.000Z', end: '2026-12-02T01:00:00.000Z', reason: 'weekly patching' } });
    expect(s.conditions.find((c) => c.type === 'Suspended')).toMatchObject({ status: 'False' });
    expect(formatStatusTable([s])).toContain('next-maintenance:2026-12-02T00:00:00.000Z');
    const page = renderServer(pageData([s], at('2026-11-25T02:00:00Z')), 'web01', { showTranscripts: false, version: 1 }).value;
    expect(page).toContain('data-maintenance="next"');
    expect(page).toContain('Next maintenance window <time datetime="2026-12-02T00:00:00.000Z">2026-12-02 00:00:00 UTC</time>');
  });

  test('inside a window: the condition says Maintenance until its end, and the page says so', () => {
    const s = statusAt('2026-11-25T00:30:00Z');
    expect(s.maintenance?.current).toEqual({ start: '2026-11-25T00:00:00.000Z', end: '2026-11-25T01:00:00.000Z', reason: 'weekly patching' });
    expect(s.conditions.find((c) => c.type === 'Suspended')).toMatchObject({ status: 'True', reason: 'Maintenance', message: 'weekly patching until 2026-11-25T01:00:00.000Z: probes go on, nothing is repaired' });
    expect(renderServer(pageData([s], at('2026-11-25T00:30:00Z')), 'web01', { showTranscripts: false, version: 1 }).value).toContain('data-maintenance="current"');
  });

  test('a server without windows has no maintenance field', () => {
    expect(serverStatusOf({ desired: server('web01'), history: undefined, revision: 'r1', now: T0 }).maintenance).toBeUndefined();
  });
});

function pageData(servers: ServerStatus[], now: number): PageData {
  return { now, servers, massFailure: [], latencies: () => [], transcripts: () => [] };
}
