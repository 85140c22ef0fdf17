/**
 * Maintenance windows and suspensions are times when nothing is repaired, so each one must be
 * well formed and bounded: a one-time window ends after it starts, a recurring one has a valid
 * schedule, a known time zone and a duration, and none is longer than the operator's policy allows.
 */
import { Cron } from 'croner';
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import { findingAt } from '../finding.ts';

const DEFAULT_MAX_HOURS = 72;

function zoneKnown(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function scheduleError(schedule: string, zone: string): string | undefined {
  try {
    new Cron(schedule, { timezone: zone, paused: true, mode: '5-part' });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export const maintenanceCheck: SemanticCheck = {
  name: 'maintenance',
  check({ servers, policy }: CheckInput): Finding[] {
    const out: Finding[] = [];
    const maxHours = policy.doc.spec.maxMaintenanceHours ?? DEFAULT_MAX_HOURS;
    const tooLong = `longer than the ${maxHours} hours the operator's policy allows for one window (operator/policy.yaml, maxMaintenanceHours): nothing is repaired during a window`;
    for (const s of servers) {
      (s.doc.spec.maintenance ?? []).forEach((w, i) => {
        const at = `spec.maintenance[${i}]`;
        const once = w.start !== undefined || w.end !== undefined;
        const recurring = w.schedule !== undefined || w.durationMinutes !== undefined || w.timeZone !== undefined;
        if (once && recurring) {
          out.push(findingAt(s, at, 'maintenance-window', 'a window is either once (start and end) or recurring (schedule, durationMinutes, timeZone), not both'));
          return;
        }
        if (!once && !recurring) {
          out.push(findingAt(s, at, 'maintenance-window', 'a window needs start and end (once) or schedule and durationMinutes (recurring)'));
          return;
        }
        if (once) {
          if (w.start === undefined || w.end === undefined) {
            out.push(findingAt(s, at, 'maintenance-window', `a one-time window needs both start and end; ${w.start === undefined ? 'start' : 'end'} is missing`));
            return;
          }
          const startMs = Date.parse(w.start);
          const endMs = Date.parse(w.end);
          if (!(endMs > startMs)) out.push(findingAt(s, `${at}.end`, 'maintenance-window', `the window ends (${w.end}) before or when it starts (${w.start})`));
          else if (endMs - startMs > maxHours * 3_600_000) out.push(findingAt(s, `${at}.end`, 'maintenance-window', `the window is ${Math.round((endMs - startMs) / 360_000) / 10} hours, ${tooLong}`));
          return;
        }
        if (w.schedule === undefined || w.durationMinutes === undefined) {
          out.push(findingAt(s, at, 'maintenance-window', `a recurring window needs both schedule and durationMinutes; ${w.schedule === undefined ? 'schedule' : 'durationMinutes'} is missing`));
          return;
        }
        const zone = w.timeZone ?? 'UTC';
        if (!zoneKnown(zone)) {
          out.push(findingAt(s, `${at}.timeZone`, 'maintenance-window', `${zone} is not a time zone this system knows (an IANA name such as Asia/Tokyo)`));
          return;
        }
        const err = scheduleError(w.schedule, zone);
        if (err !== undefined) out.push(findingAt(s, `${at}.schedule`, 'maintenance-window', `the schedule is not a five-field cron expression (minute hour day month weekday): ${err}`));
        if (w.durationMinutes > maxHours * 60) out.push(findingAt(s, `${at}.durationMinutes`, 'maintenance-window', `${w.durationMinutes} minutes is ${tooLong}`));
      });
      const suspend = s.doc.spec.suspend;
      if (typeof suspend === 'object' && !Number.isFinite(Date.parse(suspend.until))) {
        out.push(findingAt(s, 'spec.suspend.until', 'maintenance-window', `${suspend.until} is not a time`));
      }
    }
    return out;
  },
};
