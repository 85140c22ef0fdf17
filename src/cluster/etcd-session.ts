/**
 * The one module that talks to etcd (the `etcd3` client): a session lease kept alive, ranges,
 * transactions and prefix watches — nothing else (no locks, no elections: etcd's own docs say
 * its lock "cannot be used as mutual exclusion by itself"; fencing is ours, in transactions).
 *
 * Self-fencing runs on this process's own monotonic clock: `lastKeepaliveSent` is when the last
 * keepalive that etcd acknowledged was *sent* (the server's TTL started no earlier), so
 * `sinceKeepalive()` never understates how long the lease may have been gone. The client's own
 * `lost` event comes up to 2 × TTL late and is not relied on.
 */
import { performance } from 'node:perf_hooks';
import { Etcd3, type IKeyValue, type ICompare, type IOptions, type IRequestOp, type Lease, type Watcher } from 'etcd3';
import { MamoriError } from '../errors.ts';

export interface EtcdSessionOptions {
  endpoints: readonly string[];
  /** The session lease's TTL in seconds. */
  ttlSeconds: number;
  /** Deadline of each unary call (ms); a stream (watch, keepalive) has none. */
  callTimeoutMs: number;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string;
}

export interface RangeResult {
  revision: number;
  kvs: KeyValue[];
}

export interface TxnResult {
  succeeded: boolean;
  revision: number;
}

export type WatchEvent = { type: 'put'; kv: KeyValue } | { type: 'delete'; key: string; modRevision: number };

/** The key just after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = b[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

function toKv(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: String(kv.lease),
  };
}

/** Compares for a transaction, named for what they mean. */
export const cmp = {
  absent: (key: string): ICompare => ({ key: Buffer.from(key), target: 'Version', result: 'Equal', version: 0 }),
  createdAt: (key: string, revision: number): ICompare => ({ key: Buffer.from(key), target: 'Create', result: 'Equal', create_revision: revision }),
  modifiedAt: (key: string, revision: number): ICompare => ({ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: revision }),
  leaseIs: (key: string, lease: string): ICompare => ({ key: Buffer.from(key), target: 'Lease', result: 'Equal', lease }),
  /** No key under the prefix was written after `revision` (a deletion is not seen: it only lowers counts). */
  prefixUnchangedSince: (prefix: string, revision: number): ICompare => ({
    key: Buffer.from(prefix), range_end: prefixEnd(prefix), target: 'Mod', result: 'Less', mod_revision: revision + 1,
  }),
};

export const op = {
  put: (key: string, value: string, lease?: string): IRequestOp => ({
    request_put: { key: Buffer.from(key), value: Buffer.from(value), ...(lease !== undefined ? { lease } : {}) },
  }),
  del: (key: string): IRequestOp => ({ request_delete_range: { key: Buffer.from(key) } }),
};

type WatchBackoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>;

/**
 * The watch stream's reconnect delays: doubling from 100 ms up to `maxMs`. The client's default
 * grows to 30 s (decorrelated jitter): after etcd was down for a few TTLs, a replica's member watch
 * came back up to ~10 s after etcd did, so a replica killed then was seen gone 8–10 s late instead
 * of one TTL. Capped at a quarter of the TTL, a deletion is seen within that of etcd being back.
 */
export function cappedBackoff(maxMs: number, durationMs = 100): WatchBackoff {
  const d = Math.min(maxMs, durationMs);
  return { duration: d, next: () => cappedBackoff(maxMs, d * 2) };
}

export type SessionEvent = 'keepalive' | 'keepalive-failed' | 'lease-renewed';

export class EtcdSession {
  readonly client: Etcd3;
  private lease: Lease | undefined;
  private leaseIdValue: string | undefined;
  private grantedAt = 0;
  private lastSent = Number.NEGATIVE_INFINITY;
  /** Send times of keepalives not yet answered, oldest first (each answer credits its own send). */
  private fired: number[] = [];
  private readonly watchers = new Set<Watcher>();
  private closed = false;
  private readonly listeners = new Set<(e: SessionEvent) => void>();

  constructor(readonly options: EtcdSessionOptions, private readonly now: () => number = () => performance.now()) {
    const timeout = options.callTimeoutMs;
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      dialTimeout: timeout,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      faultHandling: { watchBackoff: cappedBackoff(Math.max(250, Math.min(2_000, (options.ttlSeconds * 1000) / 4))) },
    });
  }

  onEvent(fn: (e: SessionEvent) => void): void {
    this.listeners.add(fn);
  }

  private emit(e: SessionEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  /** The current session lease's id (hex-free decimal string), once granted. */
  get leaseId(): string | undefined {
    return this.leaseIdValue;
  }

  /** Milliseconds since the last acknowledged keepalive (or the grant) was sent. */
  sinceKeepalive(): number {
    return this.now() - this.lastSent;
  }

  /**
   * Grants a fresh session lease (the old one, if any, is dropped: past its TTL it is gone on the
   * server too, and whatever was bound to it with it).
   */
  async grantLease(): Promise<string> {
    if (this.lease !== undefined) {
      const old = this.lease;
      this.lease = undefined;
      old.removeAllListeners();
      old.revoke().catch(() => undefined);
    }
    const sentAt = this.now();
    const lease = this.client.lease(this.options.ttlSeconds, { autoKeepAlive: true });
    lease.on('lost', () => undefined); // fencing runs on our own clock; the late event is only noted
    const id = await lease.grant().catch((err: unknown) => {
      lease.removeAllListeners();
      throw new MamoriError('MAMORI_CLUSTER_UNAVAILABLE', undefined, { cause: err });
    });
    this.lease = lease;
    this.leaseIdValue = id;
    this.grantedAt = sentAt;
    this.lastSent = sentAt;
    this.fired = [];
    lease.on('keepaliveFired', () => {
      if (this.fired.length < 64) this.fired.push(this.now());
    });
    lease.on('keepaliveSucceeded', (res) => {
      const sent = this.fired.shift();
      if (Number(res.TTL) <= 0 || sent === undefined) return; // gone on the server: not a renewal
      this.lastSent = Math.max(this.lastSent, sent);
      this.emit('keepalive');
    });
    lease.on('keepaliveFailed', () => {
      this.fired = [];
      this.emit('keepalive-failed');
    });
    this.emit('lease-renewed');
    return id;
  }

  get leaseGrantedAt(): number {
    return this.grantedAt;
  }

  async range(prefix: string): Promise<RangeResult> {
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) }));
    return { revision: Number(res.header.revision), kvs: res.kvs.map(toKv) };
  }

  async get(key: string): Promise<{ revision: number; kv: KeyValue | undefined }> {
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from(key) }));
    const first = res.kvs[0];
    return { revision: Number(res.header.revision), kv: first !== undefined ? toKv(first) : undefined };
  }

  /** Several prefixes read at one revision (a consistent snapshot). */
  async rangeMany(prefixes: readonly string[]): Promise<{ revision: number; byPrefix: Map<string, KeyValue[]> }> {
    const res = await this.call(() =>
      this.client.kv.txn({ compare: [], success: prefixes.map((p) => ({ request_range: { key: Buffer.from(p), range_end: prefixEnd(p) } })) }),
    );
    const byPrefix = new Map<string, KeyValue[]>();
    prefixes.forEach((p, i) => byPrefix.set(p, (res.responses[i]?.response_range.kvs ?? []).map(toKv)));
    return { revision: Number(res.header.revision), byPrefix };
  }

  /** Several exact keys read at one revision (absent keys: undefined). */
  async getMany(keys: readonly string[]): Promise<{ revision: number; kvs: Array<KeyValue | undefined> }> {
    const res = await this.call(() => this.client.kv.txn({ compare: [], success: keys.map((k) => ({ request_range: { key: Buffer.from(k) } })) }));
    const kvs = keys.map((_, i) => {
      const kv = res.responses[i]?.response_range.kvs[0];
      return kv !== undefined ? toKv(kv) : undefined;
    });
    return { revision: Number(res.header.revision), kvs };
  }

  /**
   * A lease that is never kept alive: keys bound to it expire with it (records kept for a
   * retention). etcd renews every lease's TTL when its leader changes, so such a key lives at least
   * the TTL, sometimes longer.
   */
  async grantExpiringLease(ttlSeconds: number): Promise<string> {
    const res = await this.call(() => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }));
    return String(res.ID);
  }

  async txn(compare: ICompare[], success: IRequestOp[], failure: IRequestOp[] = []): Promise<TxnResult> {
    const res = await this.call(() => this.client.kv.txn({ compare, success, failure }));
    return { succeeded: res.succeeded, revision: Number(res.header.revision) };
  }

  async put(key: string, value: string, lease?: string): Promise<number> {
    const res = await this.call(() => this.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), ...(lease !== undefined ? { lease } : {}) }));
    return Number(res.header.revision);
  }

  async del(key: string): Promise<number> {
    const res = await this.call(() => this.client.kv.deleteRange({ key: Buffer.from(key) }));
    return Number(res.header.revision);
  }

  /** Watches a prefix from `fromRevision` (inclusive); events arrive in revision order. */
  async watchPrefix(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void): Promise<void> {
    const watcher = await this.client.watch().prefix(prefix).startRevision(String(fromRevision)).withPreviousKV().create();
    watcher.on('put', (kv) => onEvent({ type: 'put', kv: toKv(kv) }));
    watcher.on('delete', (kv) => onEvent({ type: 'delete', key: kv.key.toString(), modRevision: Number(kv.mod_revision) }));
    watcher.on('error', () => undefined); // the client reconnects and resumes from its last revision
    this.watchers.add(watcher);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) await w.cancel().catch(() => undefined);
    if (this.lease !== undefined) {
      this.lease.removeAllListeners();
      await this.lease.revoke().catch(() => undefined);
    }
    this.client.close();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new MamoriError('MAMORI_CLUSTER_UNAVAILABLE', undefined, { cause: err });
    }
  }
}
