/**
 * The status files: each server's file rendered from the fleet state (status-view.ts) and written
 * through the store, and the files of servers nobody probes any more (removed, outside the target
 * networks, no valid manifest), which say so and are archived after UNMONITORED_RETENTION_MS.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerStatus } from '../status/model.ts';
import type { ControllerEvent, LoopContext } from './loop-types.ts';
import type { PassFailures } from './pass-retry.ts';
import type { ServerEntry } from './fleet-state.ts';
import { serverStatusOf, type StatusViewInput } from './status-view.ts';
import { UNMONITORED_RETENTION_MS, unmonitoredOf, unmonitoredStatus, type Unmonitored } from './unmonitored.ts';

/** Status files written at once by writeAll. */
export const WRITE_ALL_AT_ONCE = 16;

/**
 * The oldest a server's status may be when the views (the API, the page) read it though nothing it
 * is made of changed: its time-dependent parts (a certificate's days left, `updatedAt`) move on.
 */
export const VIEW_MAX_AGE_MS = 15_000;

/** A server's file being written; `again`: written once more when this write ends. */
interface WriteSlot {
  again: boolean;
  done: Promise<void>;
}

/** A server's status as the views last read it, and what it was made of. */
interface ViewEntry {
  status: ServerStatus;
  input: StatusViewInput;
  entry: ServerEntry;
  observedSeq: number | undefined;
}

/** Every input but the clock is the same object (histories, conditions, episodes are replaced, never changed in place). */
function sameInput(a: StatusViewInput, b: StatusViewInput): boolean {
  let n = 0;
  for (const k in b) {
    n++;
    if (k !== 'now' && a[k as keyof StatusViewInput] !== b[k as keyof StatusViewInput]) return false;
  }
  for (const _ in a) n--;
  return n === 0;
}

export interface StatusFilesDeps {
  /** Servers whose last pass failed (their status says so). */
  readonly passFailures: PassFailures;
  emit(e: ControllerEvent): void;
}

export class StatusFiles {
  /** The manifests revision the files name. */
  revision = '';
  /** Servers with a status file that nobody probes any more: their status says so (unmonitored.ts). */
  readonly unmonitored = new Map<string, Unmonitored>();

  constructor(
    private readonly ctx: LoopContext,
    private readonly deps: StatusFilesDeps,
  ) {}

  statusOf(name: string): ServerStatus | undefined {
    const entry = this.ctx.fleet.servers.get(name);
    return entry === undefined ? undefined : serverStatusOf(this.inputOf(name, entry));
  }

  /**
   * What a server's status is made of, as it stands now. Every key is present, undefined when it
   * does not apply (the same as absent to serverStatusOf): one allocation of one shape, made for
   * each server at every view request — conditional spreads here were a third of `/api/servers`'
   * time at 10,000 servers, and the shapes they made sent sameInput's reads megamorphic.
   */
  private inputOf(name: string, entry: ServerEntry): StatusViewInput {
    const { fleet, o } = this.ctx;
    const passFailures = this.deps.passFailures;
    return {
      observed: entry.observed,
      desired: entry.desired,
      history: fleet.historyOf(name),
      revision: this.revision,
      now: this.ctx.clock.now(),
      customer: entry.doc.metadata.customer,
      pausedBy: fleet.pausedBy(name, o.policy),
      previous: entry.conditions,
      lastTransition: entry.lastTransition,
      manifestInvalid: entry.manifestInvalid,
      passFailing: passFailures.size > 0 ? passFailures.get(name) : undefined,
      certificates: o.certificates,
      readiness: entry.readiness,
    };
  }

  /**
   * A server's status for the views (`/api/status`, `/api/servers`, the page): statusOf, kept while
   * nothing it is made of changed and for at most VIEW_MAX_AGE_MS. Building 10,000 statuses took
   * 0.6–0.8 s of the event loop on every request, and a client polling one server through
   * `/api/servers` every 100 ms starved the probes of the whole fleet; now a request rebuilds only the
   * servers probed or changed since the last one. A server with maintenance windows is always
   * rebuilt (a window opens and closes on the clock alone).
   */
  viewOf(name: string): ServerStatus | undefined {
    const entry = this.ctx.fleet.servers.get(name);
    if (entry === undefined) {
      this.views.delete(name);
      return undefined;
    }
    const input = this.inputOf(name, entry);
    const v = this.views.get(name);
    if (
      v !== undefined &&
      v.entry === entry &&
      v.observedSeq === entry.observedSeq &&
      input.now - v.input.now < VIEW_MAX_AGE_MS &&
      entry.desired.maintenance.length === 0 &&
      sameInput(v.input, input)
    ) {
      return v.status;
    }
    const status = serverStatusOf(input);
    this.views.set(name, { status, input, entry, observedSeq: entry.observedSeq });
    return status;
  }

  /** Forgets the views' statuses of servers no longer in the fleet (called once a view of the whole fleet was built). */
  pruneViews(): void {
    const servers = this.ctx.fleet.servers;
    if (this.views.size <= servers.size) return;
    for (const name of this.views.keys()) if (!servers.has(name)) this.views.delete(name);
  }

  private readonly views = new Map<string, ViewEntry>();

  /**
   * Writes a server's file (the first time, after reading the old one's conditions and last
   * transition). One write per server at a time: a write asked for while one runs is done once
   * that one ended, from the state as it is then, and every caller waiting meanwhile shares it. Two
   * writes side by side could land in the wrong order: the status is made before the folder is
   * made and the file replaced, and those awaits finish in any order on a busy thread pool. In CI a
   * file made before a server's first commit (no services, NotProbedYet) replaced the one its
   * transitions wrote after, and stayed so while the server was Healthy.
   */
  write(name: string): Promise<void> {
    const running = this.writing.get(name);
    if (running !== undefined) {
      running.again = true;
      return running.done;
    }
    const slot: WriteSlot = { again: false, done: Promise.resolve() };
    this.writing.set(name, slot);
    slot.done = (async () => {
      try {
        do {
          slot.again = false;
          await this.writeOnce(name);
        } while (slot.again);
      } finally {
        this.writing.delete(name);
      }
    })();
    return slot.done;
  }

  /** Servers whose file is being written, and whether another write was asked for meanwhile. */
  private readonly writing = new Map<string, WriteSlot>();

  private async writeOnce(name: string): Promise<void> {
    const { fleet, o } = this.ctx;
    const entry = fleet.servers.get(name);
    if (entry === undefined) return;
    if (!entry.loaded) {
      entry.loaded = true;
      try {
        const old = await o.store.read(name);
        if (old !== undefined) {
          entry.conditions ??= old.conditions;
          entry.lastTransition ??= old.lastTransition;
        }
      } catch (err) {
        o.logger.warn({ err, server: name }, 'old status file unreadable');
      }
    }
    const status = this.statusOf(name);
    if (status === undefined) return;
    entry.conditions = status.conditions;
    const made = { observedSeq: entry.observedSeq, history: fleet.historyOf(name) };
    try {
      await o.store.write(status);
      entry.written = made;
      this.deps.emit({ type: 'status-written', server: name });
    } catch (err) {
      o.logger.error({ err, server: name }, 'status file not written');
    }
  }

  /**
   * Writes every server's status file (at start, and after a new revision), WRITE_ALL_AT_ONCE at a
   * time: one after the other, 10,000 files waited 10,000 fsyncs in a row (the daemon took minutes
   * to start); a few at once share the disk's flushes. Each server's own writes stay in order.
   */
  async writeAll(options: { sweep?: boolean } = {}): Promise<void> {
    const names = [...this.ctx.fleet.servers.keys()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) await this.write(names[next++] as string);
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_ALL_AT_ONCE, names.length) }, worker));
    if (options.sweep !== false) await this.sweepUnmonitored();
    for (const name of this.unmonitored.keys()) await this.writeUnmonitored(name);
  }

  /** The sweep and the files of servers nobody probes, without rewriting the probed ones' (the start). */
  async writeUnmonitoredAll(): Promise<void> {
    await this.sweepUnmonitored();
    for (const name of this.unmonitored.keys()) await this.writeUnmonitored(name);
  }

  /** A server nobody probes now, and why; its file is written at once when `write`. */
  markUnmonitored(u: Unmonitored, write: boolean): void {
    this.unmonitored.set(u.name, u);
    this.ctx.o.logger.warn({ server: u.name, reason: u.reason }, 'server not monitored');
    if (write) void this.writeUnmonitored(u.name);
  }

  private async writeUnmonitored(name: string): Promise<void> {
    const u = this.unmonitored.get(name);
    const o = this.ctx.o;
    if (u === undefined || this.ctx.fleet.servers.has(name)) return;
    try {
      const prev = await o.store.read(name).catch(() => undefined);
      await o.store.write(unmonitoredStatus(u, this.revision, this.ctx.clock.now(), prev));
    } catch (err) {
      o.logger.error({ err, server: name }, 'status file not written');
    }
  }

  /**
   * Status files of servers that are not in the desired state (after a restart: removed while the
   * daemon was down, or invalid with no last good manifest) say so; a removed server's file is
   * archived after UNMONITORED_RETENTION_MS.
   */
  private async sweepUnmonitored(): Promise<void> {
    const o = this.ctx.o;
    const servers = this.ctx.fleet.servers;
    let files: ServerStatus[];
    try {
      // Only the files of servers not watched are read (the store lists ids without parsing them).
      if (o.store.ids !== undefined) {
        files = [];
        for (const id of await o.store.ids()) {
          if (servers.has(id) || this.unmonitored.has(id)) continue;
          const s = await o.store.read(id);
          if (s !== undefined) files.push(s);
        }
      } else files = await o.store.list();
    } catch (err) {
      o.logger.warn({ err }, 'status folder unreadable');
      return;
    }
    const now = this.ctx.clock.now();
    for (const s of files) {
      const name = serverIdOf(s);
      if (servers.has(name) || this.unmonitored.has(name)) continue;
      const was = unmonitoredOf(s);
      if (was !== undefined && now - was.since > UNMONITORED_RETENTION_MS) {
        await o.store.archive(name).catch((err: unknown) => o.logger.warn({ err, server: name }, 'status file not archived'));
        continue;
      }
      const customer = s.metadata.customer;
      this.unmonitored.set(name, {
        name,
        ...(customer !== undefined ? { customer } : {}),
        ...(was ?? { reason: 'NotInDesiredState' as const, message: 'not in the applied manifests (removed, or invalid with no last good manifest)', since: now }),
      });
      if (was === undefined) o.logger.warn({ server: name, reason: 'NotInDesiredState' }, 'server not monitored');
    }
  }
}
