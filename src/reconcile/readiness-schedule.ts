/**
 * When each server's readiness is checked: every interval, at its own offset inside it (a stable
 * hash of its id), so that a fleet's checks are spread evenly instead of all at the top of the
 * hour; at once when its manifest or one of its secrets changes. Never in the first moments after
 * a start (a restarted daemon does not re-check its whole fleet at once). Pure: no clock.
 */
import { stableHash32 } from '../stable-hash.ts';

/** The server's offset inside each interval, in [0, intervalMs). */
export function slotOffset(id: string, intervalMs: number): number {
  return Math.floor((stableHash32(id) / 0x1_0000_0000) * intervalMs);
}

/** The first of the server's slots (k·interval + offset) strictly after `after`. */
export function nextSlot(id: string, intervalMs: number, after: number): number {
  const offset = slotOffset(id, intervalMs);
  const k = Math.floor((after - offset) / intervalMs) + 1;
  return k * intervalMs + offset;
}

/** How long after a start no check begins: half an interval, at most 15 minutes. */
export function startGraceMs(intervalMs: number): number {
  return Math.min(intervalMs / 2, 15 * 60_000);
}

export interface DueInput {
  id: string;
  intervalMs: number;
  /** When this daemon started. */
  startedAt: number;
  /** The last check's start, if any since this daemon started. */
  lastCheckedAt?: number;
  /** Its manifest or a secret changed at this time (after the last check). */
  changedAt?: number;
}

/** When the server's next check is due. */
export function dueAt(input: DueInput): number {
  const grace = input.startedAt + startGraceMs(input.intervalMs);
  const regular = nextSlot(input.id, input.intervalMs, input.lastCheckedAt ?? input.startedAt);
  const changed = input.changedAt !== undefined && (input.lastCheckedAt === undefined || input.changedAt > input.lastCheckedAt) ? input.changedAt : Number.POSITIVE_INFINITY;
  return Math.max(grace, Math.min(regular, changed));
}
