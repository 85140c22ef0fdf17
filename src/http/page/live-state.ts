/**
 * What the status page keeps in memory beside the status model: a bounded ring of recent probe
 * latencies per service (for the sparklines) and the SSE listeners told when something changed.
 * Bounded: POINTS per service, and servers that left are forgotten. Transcripts are not kept
 * here: the page reads the controller's (src/reconcile/transcripts.ts).
 */
import type { ControllerEvent } from '../../reconcile/controller.ts';

export const POINTS = 60;
/** State changes are told to browsers at most this often: a probe round of 500 servers is one update. */
export const UPDATE_EVERY_MS = 300;
/** New latency points alone (nothing changed state) redraw the sparklines this often. */
export const SPARKLINE_EVERY_MS = 5000;

export interface LatencyPoint {
  at: number;
  /** null: the probe failed (drawn as a gap and a red tick). */
  ms: number | null;
}

/** `servers`: the servers that changed in the batch; undefined when the change is fleet-wide. A reader hears only of what they may see. */
export type ChangeListener = (reason: string, servers: ReadonlySet<string> | undefined) => void;

/**
 * One service's ring: POINTS (time, latency) pairs in one Float64Array (NaN latency: a failed
 * probe), written in place. 10,000 servers × 6 services kept 60 point objects each (3.6 million
 * objects, ~200 MB, each probe one more for the collector); a ring is one ~1 KB array.
 */
class LatencyRing {
  readonly data = new Float64Array(POINTS * 2);
  /** Points written so far (the newest is at (count - 1) % POINTS). */
  count = 0;

  push(at: number, ms: number | null): void {
    const i = (this.count % POINTS) * 2;
    this.data[i] = at;
    this.data[i + 1] = ms === null ? Number.NaN : ms;
    this.count++;
  }

  /** Oldest first. */
  points(): LatencyPoint[] {
    const n = Math.min(this.count, POINTS);
    const out: LatencyPoint[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const i = ((this.count - n + k) % POINTS) * 2;
      const ms = this.data[i + 1] as number;
      out[k] = { at: this.data[i] as number, ms: Number.isNaN(ms) ? null : ms };
    }
    return out;
  }
}

export class PageLiveState {
  private readonly latency = new Map<string, LatencyRing>();
  private readonly listeners = new Set<ChangeListener>();
  private pending: string | undefined;
  /** The servers changed since listeners were last told; undefined once something fleet-wide changed. */
  private pendingServers: Set<string> | undefined = new Set();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private version = 0;

  /** The controller's event sink (the daemon forwards every event here). */
  onEvent(e: ControllerEvent): void {
    switch (e.type) {
      case 'probe': {
        const key = `${e.server}|${e.result.service}`;
        let ring = this.latency.get(key);
        if (ring === undefined) this.latency.set(key, (ring = new LatencyRing()));
        ring.push(Date.parse(e.result.startedAt) || Date.now(), e.result.up && !e.unknown ? e.result.latencyMs : null);
        this.changed('probe', SPARKLINE_EVERY_MS, e.server);
        break;
      }
      case 'status-written':
      case 'transition':
      case 'incident-opened':
      case 'incident-closed':
      case 'remediation-started':
      case 'remediation-finished':
        this.changed(e.type, UPDATE_EVERY_MS, e.server);
        break;
      case 'mass-failure-paused':
        this.changed(e.type, UPDATE_EVERY_MS, ...e.episode.servers);
        break;
      case 'mass-failure-cleared':
        this.changed(e.type);
        break;
      default:
        break;
    }
  }

  latencies(server: string, service: string): readonly LatencyPoint[] {
    return this.latency.get(`${server}|${service}`)?.points() ?? [];
  }

  /** Drops what belongs to servers no longer watched. */
  retain(servers: ReadonlySet<string>): void {
    for (const key of [...this.latency.keys()]) if (!servers.has(key.slice(0, key.indexOf('|')))) this.latency.delete(key);
  }

  /** A number that moves on every change: the page's fragments say which state they show. */
  get currentVersion(): number {
    return this.version;
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Something the page shows changed (about `servers`; none: the whole fleet): listeners hear of it within `withinMs`, once per batch. */
  changed(reason: string, withinMs = UPDATE_EVERY_MS, ...servers: string[]): void {
    this.version++;
    this.pending ??= reason;
    if (servers.length === 0) this.pendingServers = undefined;
    else for (const s of servers) this.pendingServers?.add(s);
    if (this.timer !== undefined && this.timerAt <= Date.now() + withinMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = Date.now() + withinMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const why = this.pending ?? reason;
      const which = this.pendingServers;
      this.pending = undefined;
      this.pendingServers = new Set();
      for (const l of [...this.listeners]) {
        try {
          l(why, which);
        } catch {
          this.listeners.delete(l);
        }
      }
    }, withinMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
