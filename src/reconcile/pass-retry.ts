/**
 * Servers whose last pass failed (a journal append, a status write, a bug): each is retried with
 * exponential backoff — from the retry interval, doubling, never longer than one probe interval —
 * so that a server is never left without a next probe time, and a failing disk is not hammered.
 */
import type { Policy } from './types.ts';

export interface PassFailure {
  /** Consecutive failed passes. */
  failures: number;
  /** When the first of them failed (ms). */
  since: number;
  /** The newest error, as a short text without secrets (an errno code and message). */
  error: string;
}

/** The wait before the next pass after `failures` failed ones: retryMs · 2^(n-1), at most intervalMs, ±10 % jitter. */
export function passBackoffMs(failures: number, policy: Pick<Policy, 'retryMs' | 'intervalMs'>, random: () => number): number {
  const base = Math.min(policy.intervalMs, policy.retryMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.max(1, Math.round(base * (0.9 + 0.2 * random())));
}

export function errorSummary(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return (typeof code === 'string' ? `${code}: ${err.message}` : err.message).slice(0, 300);
  }
  return String(err).slice(0, 300);
}

export class PassFailures {
  private readonly failing = new Map<string, PassFailure>();

  /** Records a failed pass; returns the server's failure record. */
  failed(server: string, now: number, err: unknown): PassFailure {
    const prev = this.failing.get(server);
    const next: PassFailure = { failures: (prev?.failures ?? 0) + 1, since: prev?.since ?? now, error: errorSummary(err) };
    this.failing.set(server, next);
    return next;
  }

  /** A pass succeeded: true when the server was failing before (its status changes back). */
  succeeded(server: string): boolean {
    return this.failing.delete(server);
  }

  get(server: string): PassFailure | undefined {
    return this.failing.get(server);
  }

  forget(server: string): void {
    this.failing.delete(server);
  }

  get size(): number {
    return this.failing.size;
  }
}
