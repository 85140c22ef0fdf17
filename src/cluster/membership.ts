/**
 * Membership: this replica's session lease and member key, the live members (watched), who owns
 * which server (rendezvous), and this replica's fencing phase on its own clock.
 *
 * Phases (since the last acknowledged keepalive was sent, TTL = the session lease's):
 *   active   < TTL/2      may claim and start steps
 *   draining < TTL        starts nothing new; a step in flight finishes and is recorded
 *   fenced   ≥ TTL        acts no more until a fresh lease is granted (the old one is gone)
 * A partitioned replica keeps its last view of the members (itself included) so that it goes on
 * probing its shard; the others take that shard over once its member key expires. Probing twice is
 * harmless; acting is decided by the claims.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { EtcdSession } from './etcd-session.ts';
import type { ClusterKeys } from './keys.ts';
import { ownerOf } from './rendezvous.ts';

export type FencePhase = 'active' | 'draining' | 'fenced';

export function fencePhase(sinceKeepaliveMs: number, ttlMs: number): FencePhase {
  if (sinceKeepaliveMs < ttlMs / 2) return 'active';
  if (sinceKeepaliveMs < ttlMs) return 'draining';
  return 'fenced';
}

export interface MemberInfo {
  replica: string;
  host: string;
  pid: number;
  startedAt: string;
  lease: string;
  /** Where the other replicas reach its HTTP API (config cluster.apiUrl); '' when it did not say. */
  api: string;
}

/** A member record as etcd holds it; a value that does not parse still names the replica. */
export function parseMemberInfo(replica: string, value: string, lease: string): MemberInfo {
  try {
    const v = JSON.parse(value) as Partial<MemberInfo>;
    return { replica, host: String(v.host ?? ''), pid: Number(v.pid ?? 0), startedAt: String(v.startedAt ?? ''), lease, api: typeof v.api === 'string' ? v.api : '' };
  } catch {
    return { replica, host: '', pid: 0, startedAt: '', lease, api: '' };
  }
}

export class Membership {
  private readonly live = new Map<string, MemberInfo>();
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  private readonly changeListeners = new Set<(members: readonly string[]) => void>();
  changes = 0;
  private lastPhase: FencePhase = 'fenced';

  constructor(
    readonly replica: string,
    private readonly session: EtcdSession,
    private readonly keys: ClusterKeys,
    private readonly log: Logger,
    /** This replica's API address, advertised in its member record. */
    private readonly api = '',
  ) {}

  get ttlMs(): number {
    return this.session.options.ttlSeconds * 1000;
  }

  phase(): FencePhase {
    if (this.session.leaseId === undefined) return 'fenced';
    return fencePhase(this.session.sinceKeepalive(), this.ttlMs);
  }

  /** Joins: a lease, the member key, the members read and watched. Throws when etcd is unreachable. */
  async join(): Promise<void> {
    await this.register();
    const snap = await this.session.range(this.keys.members);
    for (const kv of snap.kvs) this.applyPut(kv.key, kv.value, kv.lease);
    this.live.set(this.replica, this.selfInfo());
    await this.session.watchPrefix(this.keys.members, snap.revision + 1, (e) => {
      if (e.type === 'put') this.applyPut(e.kv.key, e.kv.value, e.kv.lease);
      else this.applyDelete(e.key);
    });
    this.notify();
    // The supervisor: notices the phase on our own clock and renews a lost lease.
    this.timer = setInterval(() => void this.supervise(), Math.max(100, Math.floor(this.ttlMs / 10)));
    this.timer.unref();
  }

  onChange(fn: (members: readonly string[]) => void): void {
    this.changeListeners.add(fn);
  }

  /** The live members as this replica last saw them (itself always among them). */
  members(): string[] {
    const names = new Set(this.live.keys());
    names.add(this.replica);
    return [...names].sort();
  }

  memberInfo(): MemberInfo[] {
    return [...this.live.values()].sort((a, b) => a.replica.localeCompare(b.replica));
  }

  ownerOf(server: string): string | undefined {
    return ownerOf(server, this.members());
  }

  /** A live member's record as last seen (its API address among it). */
  member(replica: string): MemberInfo | undefined {
    return replica === this.replica ? this.selfInfo() : this.live.get(replica);
  }

  /** Whether this replica probes and judges the server (its shard). */
  owns(server: string): boolean {
    return this.ownerOf(server) === this.replica;
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.session.del(this.keys.member(this.replica)).catch(() => undefined);
  }

  private selfInfo(): MemberInfo {
    return { replica: this.replica, host: hostname(), pid: process.pid, startedAt: this.startedAt, lease: this.session.leaseId ?? '', api: this.api };
  }

  private readonly startedAt = new Date().toISOString();

  private async register(): Promise<void> {
    const lease = await this.session.grantLease();
    const info = { ...this.selfInfo(), lease };
    await this.session.put(this.keys.member(this.replica), JSON.stringify(info), lease);
  }

  private async supervise(): Promise<void> {
    const phase = this.phase();
    if (phase !== this.lastPhase) {
      this.log.warn({ replica: this.replica, phase, previous: this.lastPhase, sinceKeepaliveMs: Math.round(this.session.sinceKeepalive()) }, 'cluster fencing phase changed');
      this.lastPhase = phase;
    }
    if (phase !== 'fenced' || this.renewing) return;
    this.renewing = true;
    try {
      await this.register();
      this.log.info({ replica: this.replica, lease: this.session.leaseId }, 'cluster session lease renewed');
    } catch {
      // etcd still unreachable: try again on the next tick
    } finally {
      this.renewing = false;
    }
  }

  private applyPut(key: string, value: string, lease: string): void {
    const replica = key.slice(this.keys.members.length);
    const info = parseMemberInfo(replica, value, lease);
    const isNew = !this.live.has(replica);
    this.live.set(replica, info);
    if (isNew) this.notify();
  }

  private applyDelete(key: string): void {
    const replica = key.slice(this.keys.members.length);
    if (!this.live.delete(replica)) return;
    this.notify();
  }

  private notify(): void {
    this.changes++;
    const members = this.members();
    this.log.info({ replica: this.replica, members }, 'cluster membership changed');
    for (const fn of this.changeListeners) fn(members);
  }
}
