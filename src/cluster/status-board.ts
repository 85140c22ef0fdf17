/**
 * The fleet's status in etcd: each server's owner publishes its status under `status/<server>`
 * when it changes (statusChangeKey: not on every probe), and every replica reads the prefix once
 * and then watches it, so any replica shows the whole fleet with each server's owner.
 *
 * One writer per server: a replica writes only servers it owns, and only while its member key is
 * bound to its current lease (one transaction), so a replica cut off past its TTL writes nothing.
 * Writes are coalesced per server (the newest status wins) and retried while etcd is unreachable.
 */
import type { Logger } from 'pino';
import { serverKey } from '../reconcile/coordinator.ts';
import type { ControllerEvent } from '../reconcile/loop-types.ts';
import type { ServerStatus } from '../status/model.ts';
import { cmp, op, type EtcdSession } from './etcd-session.ts';
import type { ClusterKeys } from './keys.ts';
import { parseStatusDoc, probedStatus, statusChangeKey } from './status-merge.ts';

interface Doc {
  status: ServerStatus;
  changeKey: string;
  modRevision: number;
}

export interface StatusBoardCounters {
  puts: number;
  deletes: number;
  /** Publishes that changed nothing (no write). */
  unchanged: number;
  refused: number;
  failed: number;
}

const BATCH = 32;
const RETRY_MS = 1000;

export class StatusBoard {
  private readonly docs = new Map<string, Doc>();
  /** The newest status to write per server key (null: delete it), and what is being written now. */
  private readonly pending = new Map<string, { status: ServerStatus; changeKey: string } | null>();
  private readonly inFlight = new Map<string, string | null>();
  private draining: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(key: string, status: ServerStatus | undefined) => void>();
  private started = false;
  private stopped = false;
  /** The newest etcd revision of a status change seen (a put or a delete under the prefix). */
  revision = 0;
  readonly counters: StatusBoardCounters = { puts: 0, deletes: 0, unchanged: 0, refused: 0, failed: 0 };

  constructor(
    private readonly session: EtcdSession,
    private readonly keys: ClusterKeys,
    private readonly replica: string,
    private readonly owns: (key: string) => boolean,
    private readonly log: Logger,
  ) {}

  /** Reads what the owners published and watches it. Throws when etcd is unreachable. */
  async start(): Promise<void> {
    if (this.started) return;
    const snap = await this.session.range(this.keys.status);
    for (const kv of snap.kvs) this.apply(kv.key, kv.value, kv.modRevision);
    for (const kv of snap.kvs) this.revision = Math.max(this.revision, kv.modRevision);
    await this.session.watchPrefix(this.keys.status, snap.revision + 1, (e) => {
      if (e.type === 'put') this.apply(e.kv.key, e.kv.value, e.kv.modRevision);
      else this.remove(e.key, e.modRevision);
    });
    this.started = true;
    if (this.pending.size > 0) this.kick();
  }

  /** Told of every published status that arrives (a put or a delete), by server key. */
  onChange(fn: (key: string, status: ServerStatus | undefined) => void): void {
    this.listeners.add(fn);
  }

  /** What the owners published, by server key. */
  published(): ReadonlyMap<string, ServerStatus> {
    const out = new Map<string, ServerStatus>();
    for (const [k, d] of this.docs) out.set(k, d.status);
    return out;
  }

  get size(): number {
    return this.docs.size;
  }

  /** The status published for a server, if any. */
  get(key: string): ServerStatus | undefined {
    return this.docs.get(key)?.status;
  }

  /**
   * Whether this replica owns the server and etcd does not hold its word yet (a server it just
   * took over, or never published): its next probe publishes it even if its own status did not change.
   */
  wantsFirstWord(key: string): boolean {
    if (this.pending.has(key) || this.inFlight.has(key)) return false;
    return this.docs.get(key)?.status.owner !== this.replica && this.owns(key);
  }

  /**
   * The owner's status of a server: written when it differs from what etcd holds (or is about to).
   * A status from before this replica's first probe of it does not replace a published one.
   */
  publish(key: string, status: ServerStatus): void {
    if (this.stopped || !this.owns(key)) return;
    const doc: ServerStatus = { ...status, owner: this.replica };
    delete doc.publishedBy;
    const changeKey = statusChangeKey(doc);
    const held = this.docs.get(key);
    if (!probedStatus(doc) && held !== undefined) return;
    const latest = this.pending.has(key) ? (this.pending.get(key)?.changeKey ?? null) : this.inFlight.has(key) ? this.inFlight.get(key) : held?.changeKey;
    if (latest === changeKey) {
      this.counters.unchanged++;
      return;
    }
    this.pending.set(key, { status: doc, changeKey });
    this.kick();
  }

  /** A server gone from the desired state: its published status is deleted by its owner. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.docs.keys()) if (!keys.has(key) && this.owns(key)) this.pending.set(key, null);
    for (const key of [...this.pending.keys()]) if (!keys.has(key) && this.pending.get(key) !== null) this.pending.delete(key);
    if (this.pending.size > 0) this.kick();
  }

  /** Resolves once nothing waits to be written (or after `timeoutMs`). */
  async flush(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while ((this.pending.size > 0 || this.draining !== undefined) && Date.now() < end) {
      this.kick();
      await Promise.race([this.draining ?? Promise.resolve(), new Promise((r) => setTimeout(r, 100).unref())]);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private kick(): void {
    if (!this.started || this.draining !== undefined || this.pending.size === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending.size > 0 && !this.stopped && this.retryTimer === undefined) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, RETRY_MS);
        this.retryTimer.unref();
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      const batch = [...this.pending.entries()].slice(0, BATCH);
      for (const [key, v] of batch) {
        this.pending.delete(key);
        this.inFlight.set(key, v?.changeKey ?? null);
      }
      const results = await Promise.all(batch.map(([key, v]) => this.write(key, v)));
      for (const [key] of batch) this.inFlight.delete(key);
      if (results.includes('failed')) {
        // etcd unreachable: the newest of each is written again on the retry (unless a newer came meanwhile).
        batch.forEach(([key, v], i) => {
          if (results[i] === 'failed' && !this.pending.has(key)) this.pending.set(key, v);
        });
        return;
      }
    }
  }

  private async write(key: string, v: { status: ServerStatus; changeKey: string } | null): Promise<'ok' | 'refused' | 'failed'> {
    const lease = this.session.leaseId;
    // Owned now, and a live member on our current lease: else another replica writes it.
    if (lease === undefined || (v !== null && !this.owns(key))) {
      this.counters.refused++;
      return 'refused';
    }
    const etcdKey = this.keys.statusOf(key);
    const guard = cmp.leaseIs(this.keys.member(this.replica), lease);
    try {
      const res = await this.session.txn([guard], [v === null ? op.del(etcdKey) : op.put(etcdKey, JSON.stringify(v.status))]);
      if (!res.succeeded) {
        this.counters.refused++;
        this.log.warn({ server: key, replica: this.replica }, 'status not published: this replica is not a member on its current lease');
        return 'refused';
      }
      if (v === null) {
        this.counters.deletes++;
        this.remove(etcdKey, res.revision);
      } else {
        this.counters.puts++;
        this.setDoc(key, { status: v.status, changeKey: v.changeKey, modRevision: res.revision });
      }
      return 'ok';
    } catch {
      this.counters.failed++;
      return 'failed';
    }
  }

  private apply(etcdKey: string, value: string, modRevision: number): void {
    const key = etcdKey.slice(this.keys.status.length);
    const status = parseStatusDoc(value, key);
    if (status === undefined) {
      this.log.warn({ key: etcdKey }, 'published status unreadable; ignored');
      return;
    }
    this.setDoc(key, { status, changeKey: statusChangeKey(status), modRevision });
  }

  private setDoc(key: string, doc: Doc): void {
    const held = this.docs.get(key);
    // The watch may bring our own write after we recorded it: never step back to an older revision.
    if (held !== undefined && held.modRevision >= doc.modRevision) return;
    this.docs.set(key, doc);
    this.revision = Math.max(this.revision, doc.modRevision);
    if (held?.changeKey !== doc.changeKey || held.status.owner !== doc.status.owner) for (const fn of this.listeners) fn(key, doc.status);
  }

  private remove(etcdKey: string, modRevision: number): void {
    const key = etcdKey.slice(this.keys.status.length);
    this.revision = Math.max(this.revision, modRevision);
    const held = this.docs.get(key);
    if (held === undefined || held.modRevision > modRevision) return;
    this.docs.delete(key);
    for (const fn of this.listeners) fn(key, undefined);
  }
}

/**
 * The controller's events as the owner's publications (the daemon and the bench wire it): a status
 * written is published when it changed (the board compares), and a probe publishes once when etcd
 * does not hold this owner's word for the server yet (a server just taken over).
 */
export function publishOnEvent(board: StatusBoard, statusOf: (server: string) => ServerStatus | undefined, e: ControllerEvent): void {
  if (e.type !== 'status-written' && e.type !== 'probe') return;
  const key = serverKey(e.server, undefined);
  if (e.type === 'probe' && !board.wantsFirstWord(key)) return;
  const status = statusOf(e.server);
  if (status !== undefined) board.publish(key, status);
}
