/**
 * Writes to the state folder while it may be full or failing (state-health.ts):
 * - the journal is watched (its failures make the folder unwritable; a pass whose records did not
 *   go in is retried by the controller, and no runbook starts without its `started` record);
 * - status files and notifications that cannot be written wait in memory, bounded and counted, and
 *   are written in order when writes succeed again. Only what is still waiting is lost if the
 *   daemon dies (`unwritten`, exposed in /metrics and /api/status).
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { Logger } from '../log.ts';
import type { Notification, Notifier } from '../notify/types.ts';
import { isStorageError, type StateHealth } from '../status/state-health.ts';
import type { Journal } from '../status/journal.ts';
import type { ServerStatus } from '../status/model.ts';
import type { StatusStore } from '../status/store.ts';

/** The journal, reporting each write's success or failure to the folder's health. */
export function watchedJournal(journal: Journal, health: StateHealth): Journal {
  const watch = async <T>(p: Promise<T>): Promise<T> => {
    try {
      const out = await p;
      health.succeeded('journal');
      return out;
    } catch (err) {
      if (isStorageError(err)) health.failed('journal', err);
      throw err;
    }
  };
  return {
    dir: journal.dir,
    append: (entry) => watch(journal.append(entry)),
    ...(journal.appendBatch !== undefined ? { appendBatch: (entries: Parameters<NonNullable<Journal['appendBatch']>>[0]) => watch((journal.appendBatch as NonNullable<Journal['appendBatch']>)(entries)) } : {}),
    close: () => journal.close(),
  };
}

/** Status files: a write that fails waits in memory (the newest per server) and is written later. */
export class BufferedStatusStore implements StatusStore {
  readonly dir: string;
  private readonly waiting = new Map<string, ServerStatus>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly inner: StatusStore,
    private readonly health: StateHealth,
    private readonly logger: Logger,
  ) {
    this.dir = inner.dir;
    health.register('status', this);
  }

  size(): number {
    return this.waiting.size;
  }

  async write(status: ServerStatus): Promise<void> {
    const name = serverIdOf(status);
    try {
      await this.inner.write(status);
      this.waiting.delete(name);
      this.health.succeeded('status');
    } catch (err) {
      if (!isStorageError(err)) throw err;
      // One per server (the newest): bounded by the fleet's size.
      this.waiting.delete(name);
      this.waiting.set(name, status);
      this.health.failed('status', err);
    }
  }

  read(server: string): Promise<ServerStatus | undefined> {
    const w = this.waiting.get(server);
    return w !== undefined ? Promise.resolve(w) : this.inner.read(server);
  }

  list(): Promise<ServerStatus[]> {
    return this.inner.list();
  }

  async ids(): Promise<string[]> {
    if (this.inner.ids !== undefined) return this.inner.ids();
    return (await this.inner.list()).map(serverIdOf);
  }

  async archive(server: string, nowIso?: string): Promise<void> {
    this.waiting.delete(server);
    await this.inner.archive(server, nowIso);
  }

  /** Writes what waits, oldest first; throws at the first failure (the rest keeps waiting). */
  flush(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        for (const [name, status] of [...this.waiting]) {
          if (this.waiting.get(name) !== status) continue;
          await this.inner.write(status);
          if (this.waiting.get(name) === status) this.waiting.delete(name);
        }
        if (this.waiting.size === 0) this.logger.info({}, 'waiting status files written');
      } catch (err) {
        this.health.failed('status', err);
        throw err;
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }
}

export const MAX_WAITING_NOTIFICATIONS = 10_000;

/**
 * Notifications: one the outbox cannot store waits in memory (in order, at most `max`; beyond
 * that the oldest is dropped, counted and logged) and is queued again when writes succeed.
 */
export class BufferedNotifier implements Notifier {
  private readonly waiting: Notification[] = [];
  private flushing: Promise<void> | undefined;
  dropped = 0;

  constructor(
    private readonly inner: Notifier,
    private readonly health: StateHealth,
    private readonly logger: Logger,
    private readonly max = MAX_WAITING_NOTIFICATIONS,
  ) {
    health.register('notification', this);
  }

  size(): number {
    return this.waiting.length;
  }

  async notify(n: Notification): Promise<void> {
    if (this.waiting.length > 0) {
      // Keep the order: this one goes after those already waiting.
      this.hold(n);
      void this.flush().catch(() => undefined);
      return;
    }
    try {
      await this.inner.notify(n);
      this.health.succeeded('outbox');
    } catch (err) {
      if (!isStorageError(err)) throw err;
      this.health.failed('outbox', err);
      this.hold(n);
    }
  }

  private hold(n: Notification): void {
    if (this.waiting.some((w) => w.id === n.id)) return;
    this.waiting.push(n);
    if (this.waiting.length > this.max) {
      const lost = this.waiting.shift();
      this.dropped++;
      this.logger.error({ notification: lost?.id, kind: lost?.kind, dropped: this.dropped }, 'notification dropped: too many waiting for the state folder');
    }
  }

  flush(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        while (this.waiting.length > 0) {
          const n = this.waiting[0] as Notification;
          await this.inner.notify(n);
          this.waiting.shift();
          this.logger.info({ notification: n.id, kind: n.kind }, 'waiting notification queued');
        }
        this.health.succeeded('outbox');
      } catch (err) {
        if (isStorageError(err)) this.health.failed('outbox', err);
        else {
          // Not the disk: this one will never go in; do not let it block the others.
          const bad = this.waiting.shift();
          this.logger.error({ err, notification: bad?.id }, 'notification not queued');
        }
        throw err;
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }
}
