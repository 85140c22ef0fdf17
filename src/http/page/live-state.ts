/**
 * What the status page keeps in memory beside the status model: the recent probe latencies of
 * each service (for the sparklines, one log for all: LatencyLog) and the SSE listeners told when
 * something changed.
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

/** The log holds this many points for each live service beyond POINTS: slack for services probed faster than the rest (retries). */
const SLACK = 1.125;
const MIN_CAPACITY = 1024;

/**
 * The recent latencies of every service, as one append-only log: a result writes the next entry
 * of three typed arrays (its time, its latency — NaN for a failed probe — and how many entries
 * back its service's previous one is) and its service's head. 10,000 servers × 6 services once
 * kept a 1 KB ring each; a result wrote into one of 60,000 rings spread over 60 MB, each write
 * the first to its page since the daemon last forked (fping) — a copy-on-write fault, 30–50 µs —
 * and a cache miss even without one. Writes here are sequential: one page every 256 results, and
 * the heads (8 bytes a service). The log keeps POINTS × SLACK entries a live service: a service
 * probed no more often than the others keeps its POINTS newest points; one not probed for that
 * many results (a suspended server) loses its oldest ones as the log wraps.
 */
class LatencyLog {
  capacity = 0;
  /** Entries ever written: the next one's sequence number (entry q lives at q % capacity while q ≥ written − capacity). */
  written = 0;
  at = new Float64Array(0);
  ms = new Float32Array(0);
  /** Entries back to the same service's previous point (0: none). */
  back = new Uint32Array(0);
  /** Per service slot: the sequence number of its newest entry (-1: none). */
  heads = new Float64Array(0);
  /** Entries below this were overwritten before the log last grew (its larger capacity does not bring them back). */
  private floor = 0;
  private slots = 0;
  private readonly free: number[] = [];

  /** A slot for a new service (a freed one first). */
  slot(): number {
    const reused = this.free.pop();
    const s = reused ?? this.slots++;
    if (s >= this.heads.length) {
      const heads = new Float64Array(Math.max(64, this.heads.length * 2)).fill(-1);
      heads.set(this.heads);
      this.heads = heads;
    }
    this.heads[s] = -1;
    const live = this.slots - this.free.length;
    if (live * POINTS * SLACK > this.capacity) this.grow(Math.max(MIN_CAPACITY, this.capacity * 2, Math.ceil(live * POINTS * SLACK)));
    return s;
  }

  release(s: number): void {
    this.heads[s] = -1;
    this.free.push(s);
  }

  push(s: number, at: number, ms: number): void {
    const q = this.written++;
    const i = q % this.capacity;
    const head = this.heads[s] as number;
    const back = q - head;
    this.at[i] = at;
    this.ms[i] = ms;
    this.back[i] = head >= 0 && back < this.capacity ? back : 0;
    this.heads[s] = q;
  }

  /** The slot's points, oldest first (at most POINTS). */
  points(s: number): LatencyPoint[] {
    const out: LatencyPoint[] = [];
    const oldest = Math.max(this.floor, this.written - this.capacity);
    let q = this.heads[s] ?? -1;
    while (q >= 0 && q >= oldest && out.length < POINTS) {
      const i = q % this.capacity;
      const ms = this.ms[i] as number;
      out.push({ at: this.at[i] as number, ms: Number.isNaN(ms) ? null : ms });
      const back = this.back[i] as number;
      if (back === 0) break;
      q -= back;
    }
    return out.reverse();
  }

  /** A larger log with the same entries at the same sequence numbers. */
  private grow(capacity: number): void {
    const at = new Float64Array(capacity);
    const ms = new Float32Array(capacity);
    const back = new Uint32Array(capacity);
    for (let q = Math.max(0, this.written - this.capacity); q < this.written; q++) {
      const from = q % this.capacity;
      const to = q % capacity;
      at[to] = this.at[from] as number;
      ms[to] = this.ms[from] as number;
      back[to] = this.back[from] as number;
    }
    this.floor = Math.max(this.floor, this.written - this.capacity);
    this.at = at;
    this.ms = ms;
    this.back = back;
    this.capacity = capacity;
  }
}

/** One server's services and their slots in the log (a handful: a linear search by name). */
interface ServerSlots {
  services: string[];
  slots: number[];
}

export class PageLiveState {
  private readonly log = new LatencyLog();
  /** Per server, its services' slots in the log (looked up by the server's name, no key built per result). */
  private readonly slots = new Map<string, ServerSlots>();
  private readonly listeners = new Set<ChangeListener>();
  private pending: string | undefined;
  /** The servers changed since listeners were last told; undefined once something fleet-wide changed. */
  private pendingServers: Set<string> | undefined = new Set();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  /** The `withinMs` the pending timer was armed with: a change allowed as long needs no clock read. */
  private timerWithin = 0;
  private version = 0;

  /** The controller's event sink (the daemon forwards every event here). */
  onEvent(e: ControllerEvent): void {
    switch (e.type) {
      case 'probe': {
        const r = e.result;
        // The probe's start as the controller recorded it; an event without it (tests, older callers) from the result's ISO time.
        const at = e.at ?? (Date.parse(r.startedAt) || Date.now());
        this.log.push(this.slotOf(e.server, r.service), at, r.up && !e.unknown ? r.latencyMs : Number.NaN);
        this.changedOne('probe', SPARKLINE_EVERY_MS, e.server);
        break;
      }
      case 'status-written':
      case 'transition':
      case 'incident-opened':
      case 'incident-closed':
      case 'remediation-started':
      case 'remediation-finished':
        this.changedOne(e.type, UPDATE_EVERY_MS, e.server);
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
    const own = this.slots.get(server);
    const k = own === undefined ? -1 : own.services.indexOf(service);
    return own === undefined || k < 0 ? [] : this.log.points(own.slots[k] as number);
  }

  /** Drops what belongs to servers no longer watched. */
  retain(servers: ReadonlySet<string>): void {
    for (const [server, own] of [...this.slots]) {
      if (servers.has(server)) continue;
      for (const s of own.slots) this.log.release(s);
      this.slots.delete(server);
    }
  }

  private slotOf(server: string, service: string): number {
    let own = this.slots.get(server);
    if (own === undefined) this.slots.set(server, (own = { services: [], slots: [] }));
    const services = own.services;
    for (let k = 0; k < services.length; k++) if (services[k] === service) return own.slots[k] as number;
    const s = this.log.slot();
    services.push(service);
    own.slots.push(s);
    return s;
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
    this.arm(reason, withinMs);
  }

  /** changed() about one server, without an array per call (every probe result comes here). */
  private changedOne(reason: string, withinMs: number, server: string): void {
    this.version++;
    this.pending ??= reason;
    this.pendingServers?.add(server);
    this.arm(reason, withinMs);
  }

  private arm(reason: string, withinMs: number): void {
    // A pending timer fires at most `timerWithin` after it was armed, so within `withinMs` of now when that is no shorter.
    if (this.timer !== undefined && (withinMs >= this.timerWithin || this.timerAt <= Date.now() + withinMs)) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = Date.now() + withinMs;
    this.timerWithin = withinMs;
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
