/**
 * Alerts to Prometheus Alertmanager, level-based, as its v2 API expects from any client: every
 * alert that holds is posted again each `resendMs` with `endsAt` four intervals ahead (so an alert
 * whose sender died resolves by itself), and an alert that stopped holding is posted once with
 * `endsAt` = now. Nothing is queued on disk: the alerts are recomputed from the daemon's state at
 * each round, so an Alertmanager that restarts has every firing alert back within one interval,
 * and a round that fails is simply the next round's work. A resolution that could not be
 * delivered is kept (bounded) and posted again until it is.
 *
 * Rounds sample the state, so an incident shorter than the gap between two rounds (httpd killed and
 * restarted by mamori within a second) would fall between them and never reach Alertmanager. The
 * daemon therefore hands `nudge` the alerts that hold at each change: one that no round has posted
 * yet is posted firing by the next round even if it no longer holds, and resolved by the round after.
 */
import type { Logger } from '../log.ts';

export interface AlertState {
  /** Identity: alertname plus the labels that name what it is about (server, service, customer, reason, severity). */
  labels: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
  /** When the condition began (RFC 3339). */
  startsAt: string;
}

export interface AlertmanagerOptions {
  /** Each Alertmanager of the cluster, without /api/v2. */
  urls: readonly string[];
  resendMs: number;
  timeoutMs: number;
  /** The alerts that hold now. */
  collect: () => readonly AlertState[];
  logger: Logger;
  /** A link back to mamori for each alert (the status page). */
  generatorURL?: string;
  now?: () => number;
}

interface PostedAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** Resolutions kept for a later round when every Alertmanager was down: bounded. */
const MAX_PENDING_RESOLVED = 10_000;
/** The closest two rounds come when changes ask for them (each round reads the whole fleet). */
const MIN_GAP_MS = 1000;
/** Alerts seen at a change and not yet posted, kept for the next round: bounded. */
const MAX_GLIMPSED = 10_000;

export function alertKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

export class AlertmanagerClient {
  private readonly firing = new Map<string, AlertState>();
  private readonly pendingResolved = new Map<string, PostedAlert>();
  /** Alerts that held at a change since the last round, by key: each is posted firing at least once. */
  private readonly glimpsed = new Map<string, AlertState>();
  private timer: NodeJS.Timeout | undefined;
  private nudgeTimer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private again = false;
  private lastRoundAt = 0;
  private readonly now: () => number;
  /** Rounds whose post reached no Alertmanager, for metrics. */
  failedRounds = 0;
  lastSuccessAt: number | undefined;

  constructor(private readonly options: AlertmanagerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.sendNow();
    this.timer = setInterval(() => void this.sendNow(), this.options.resendMs);
    this.timer.unref();
  }

  /** One round now (rounds never overlap; a call during a round gets one more after it). */
  sendNow(): Promise<void> {
    if (this.round !== undefined) {
      this.again = true;
      return this.round;
    }
    this.lastRoundAt = this.now();
    this.round = this.sendRound().finally(() => {
      this.round = undefined;
      if (this.again && this.timer !== undefined) {
        this.again = false;
        void this.sendNow();
      }
    });
    return this.round;
  }

  /**
   * Something changed: post soon rather than at the next interval, at most one round per
   * `MIN_GAP_MS` (a fleet's storm of transitions is one round, not one per transition). `held`: the
   * alerts that hold right now for what changed; one not posted yet is posted firing by the next
   * round even if it has stopped holding by then (a repair faster than the gap between rounds).
   */
  nudge(held: readonly AlertState[] = []): void {
    if (this.timer === undefined) return;
    for (const a of held) {
      const key = alertKey(a.labels);
      if (!this.firing.has(key) && (this.glimpsed.size < MAX_GLIMPSED || this.glimpsed.has(key))) this.glimpsed.set(key, a);
    }
    if (this.nudgeTimer !== undefined) return;
    const wait = Math.max(0, this.lastRoundAt + MIN_GAP_MS - this.now());
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      void this.sendNow();
    }, wait);
    this.nudgeTimer.unref();
  }

  /**
   * Stops the rounds and waits for one in flight. Nothing is resolved at stop: what holds may still
   * hold, and its endsAt lets Alertmanager resolve it if mamori does not come back.
   */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.nudgeTimer !== undefined) clearTimeout(this.nudgeTimer);
    this.timer = undefined;
    this.nudgeTimer = undefined;
    this.glimpsed.clear();
    await this.round;
  }

  private async sendRound(): Promise<void> {
    const now = this.now();
    const nowIso = new Date(now).toISOString();
    const endsAt = new Date(now + 4 * this.options.resendMs).toISOString();
    const holding = new Map<string, AlertState>();
    for (const a of this.options.collect()) holding.set(alertKey(a.labels), a);
    const body: PostedAlert[] = [];
    for (const [key, a] of holding) {
      this.pendingResolved.delete(key);
      body.push(this.posted(a, a.startsAt, endsAt));
    }
    // Held at a change since the last round, never posted, and over already: firing now (so
    // Alertmanager sees the incident), counted as firing so that the next round resolves it.
    const brief = new Map<string, AlertState>();
    for (const [key, a] of this.glimpsed) {
      if (holding.has(key) || this.firing.has(key)) continue;
      this.pendingResolved.delete(key);
      body.push(this.posted(a, a.startsAt, endsAt));
      brief.set(key, a);
    }
    this.glimpsed.clear();
    for (const [key, a] of this.firing) {
      if (holding.has(key)) continue;
      this.pendingResolved.set(key, this.posted(a, a.startsAt, nowIso));
    }
    while (this.pendingResolved.size > MAX_PENDING_RESOLVED) {
      const oldest = this.pendingResolved.keys().next().value;
      if (oldest === undefined) break;
      this.pendingResolved.delete(oldest);
    }
    body.push(...this.pendingResolved.values());
    this.firing.clear();
    for (const [k, a] of holding) this.firing.set(k, a);
    for (const [k, a] of brief) this.firing.set(k, a);
    if (body.length === 0) return;
    const delivered = await this.postToAll(body);
    if (delivered) {
      this.pendingResolved.clear();
      this.lastSuccessAt = now;
    } else {
      this.failedRounds++;
    }
    // Their resolution follows as soon as rounds may, not a whole interval later.
    if (brief.size > 0) this.nudge();
  }

  private posted(a: AlertState, startsAt: string, endsAt: string): PostedAlert {
    return {
      labels: { ...a.labels },
      annotations: { ...(a.annotations ?? {}) },
      startsAt,
      endsAt,
      ...(this.options.generatorURL !== undefined ? { generatorURL: this.options.generatorURL } : {}),
    };
  }

  /** True when at least one Alertmanager took the batch (they gossip among themselves). */
  private async postToAll(body: PostedAlert[]): Promise<boolean> {
    const json = JSON.stringify(body);
    const results = await Promise.all(
      this.options.urls.map(async (url) => {
        const target = `${url.replace(/\/+$/, '')}/api/v2/alerts`;
        try {
          const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json, signal: AbortSignal.timeout(this.options.timeoutMs) });
          await res.arrayBuffer();
          if (res.ok) return true;
          this.options.logger.warn({ alertmanager: url, status: res.status }, 'alertmanager refused the alerts');
          return false;
        } catch (err) {
          this.options.logger.warn({ alertmanager: url, err: (err as Error).message }, 'alertmanager unreachable');
          return false;
        }
      }),
    );
    return results.some((ok) => ok);
  }
}
