/**
 * An election with a lease: one replica holds `key`, bound to its session lease, created only if
 * absent; the key's create revision is the holder's term. The holder loses it with its lease (dead,
 * paused or cut off past the TTL: etcd deletes the key) or by resigning at stop; then another
 * replica's campaign creates it afresh. A holder acts only while its own clock says its lease is
 * fresh (phase `active`), so a paused holder stops acting before etcd hands the key on.
 *
 * Polled, not watched: one read per tick (TTL/5) per replica, no write while the holder stays.
 */
import type { Logger } from 'pino';
import { isMamoriError } from '../errors.ts';
import { cmp, op, type EtcdSession, type KeyValue } from './etcd-session.ts';
import type { FencePhase } from './membership.ts';

export interface Holder {
  replica: string;
  lease: string;
  /** The key's create revision. */
  term: number;
}

export type ElectionRole = 'leader' | 'follower' | 'candidate';

/**
 * This replica's role from what etcd holds and its own lease: it leads only with the key bound to
 * its current lease and a fresh lease; it campaigns only when the key is free and its lease fresh.
 * Draining or fenced it never leads (even holding the key): a new holder may be elected any moment.
 */
export function electionRole(o: { holder: Holder | undefined; lease: string | undefined; phase: FencePhase }): ElectionRole {
  if (o.lease === undefined || o.phase !== 'active') return 'follower';
  if (o.holder === undefined) return 'candidate';
  return o.holder.lease === o.lease ? 'leader' : 'follower';
}

export function holderOf(kv: KeyValue | undefined): Holder | undefined {
  if (kv === undefined) return undefined;
  let replica = '';
  try {
    replica = String((JSON.parse(kv.value) as { replica?: unknown }).replica ?? '');
  } catch {
    // an unreadable value still names a holder by its lease
  }
  return { replica, lease: kv.lease, term: kv.createRevision };
}

export interface ElectionOptions {
  key: string;
  replica: string;
  session: EtcdSession;
  /** This replica's fencing phase on its own clock (Membership.phase). */
  phase: () => FencePhase;
  tickMs: number;
  log: Logger;
  /** Told when this replica becomes leader or stops being it. */
  onChange?: (leader: boolean, holder: Holder | undefined) => void;
  wallClock?: () => number;
}

export class Election {
  private holderValue: Holder | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  private wasLeader = false;
  /** Terms this replica won (tests and the status). */
  won = 0;

  constructor(private readonly o: ElectionOptions) {}

  get holder(): Holder | undefined {
    return this.holderValue;
  }

  role(): ElectionRole {
    return electionRole({ holder: this.holderValue, lease: this.o.session.leaseId, phase: this.o.phase() });
  }

  isLeader(): boolean {
    return this.role() === 'leader';
  }

  /** The current term when this replica leads. */
  term(): number | undefined {
    return this.isLeader() ? this.holderValue?.term : undefined;
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.tickMs);
    this.timer.unref();
  }

  /** Reads the key and campaigns when it is free; a failure (etcd unreachable) waits for the next tick. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      const got = await this.o.session.get(this.o.key);
      this.holderValue = holderOf(got.kv);
      if (this.role() === 'candidate') await this.campaign();
    } catch (err) {
      if (!isMamoriError(err, 'MAMORI_CLUSTER_UNAVAILABLE')) this.o.log.warn({ err, key: this.o.key }, 'election tick failed');
    } finally {
      this.ticking = false;
      this.noticeChange();
    }
  }

  private async campaign(): Promise<void> {
    const lease = this.o.session.leaseId;
    if (lease === undefined) return;
    const value = JSON.stringify({ replica: this.o.replica, at: new Date((this.o.wallClock ?? Date.now)()).toISOString() });
    const res = await this.o.session.txn([cmp.absent(this.o.key)], [op.put(this.o.key, value, lease)]);
    if (res.succeeded) {
      this.holderValue = { replica: this.o.replica, lease, term: res.revision };
      this.won++;
    } else {
      this.holderValue = holderOf((await this.o.session.get(this.o.key)).kv);
    }
  }

  private noticeChange(): void {
    const leader = this.isLeader();
    if (leader === this.wasLeader) return;
    this.wasLeader = leader;
    if (leader) this.o.log.info({ key: this.o.key, replica: this.o.replica, term: this.holderValue?.term }, 'elected');
    else this.o.log.warn({ key: this.o.key, replica: this.o.replica, holder: this.holderValue?.replica, phase: this.o.phase() }, 'no longer elected');
    this.o.onChange?.(leader, this.holderValue);
  }

  /** Stops campaigning and gives the key up (only if it is still ours), so another is elected at once. */
  async resign(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const lease = this.o.session.leaseId;
    const mine = this.holderValue !== undefined && this.holderValue.lease === lease && lease !== undefined;
    this.holderValue = undefined;
    this.noticeChange();
    if (!mine) return;
    await this.o.session.txn([cmp.leaseIs(this.o.key, lease)], [op.del(this.o.key)]).catch(() => undefined);
  }
}
