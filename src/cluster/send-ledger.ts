/**
 * One send per notification across replicas: the outboxes' SendLedger on etcd (one per channel:
 * `mail`, `webhook`), and the adoption of what a dead replica left queued.
 *
 * A notification is recorded in etcd (open/<key>, with its content, and holder/<key> bound to this
 * replica's session lease) before it is queued on this replica's disk; a key already there means
 * another replica told it first, and it is not queued here. Right before the relay is asked, one
 * transaction checks that the holder is still this lease and nothing was settled, and marks the
 * record `sending`; after the relay's answer, the record is settled into done/<key> (kept a
 * retention, then expired by etcd). So two replicas never both send it.
 *
 * A replica that dies takes its lease with it, and with the lease its holder keys: each open record
 * left without a holder is adopted by the replica that owns its server now (rendezvous over the live
 * members, as for probing), which takes the holder and queues the notification in its own outbox.
 *
 * The boundary: a replica that dies after the relay accepted and before done/ was written leaves the
 * record marked `sending`: the new holder sends it again (at least once, the same Message-ID or
 * webhook-id) after `inDoubtMs` from the first send's start. Everywhere else it is exactly once.
 * etcd unreachable or this replica fenced: nothing is sent (mail waits on disk) until it answers.
 */
import type { Logger } from 'pino';
import { isMamoriError } from '../errors.ts';
import type { LedgerBeginResult, LedgerKey, LedgerPayload, LedgerRecordResult, SendLedger, SendTicket } from '../notify/send-ledger.ts';
import type { Cluster } from './cluster.ts';
import { cmp, op, type KeyValue } from './etcd-session.ts';
import { keySegment } from './keys.ts';
import { adoptable, judgeSend, type SendingMark } from './send-decision.ts';

export type NotifyChannel = 'mail' | 'webhook';

export interface SendLedgerOptions {
  channel: NotifyChannel;
  /** How long a begun send may still be running (the relay's or endpoint's timeouts), plus the session TTL. */
  inDoubtMs: number;
  /** How long settled records are kept (the outbox's own retention: 30 days). */
  retentionMs: number;
  /** How soon a send that could not begin is tried again. */
  retryMs?: number;
  now?: () => number;
}

interface OpenValue {
  v: 1;
  id: string;
  /** The rendezvous key of the replica that adopts it: `customer/server`, or `notify:<id>` without a server. */
  owner: string;
  payload: LedgerPayload;
  recordedBy: string;
  recordedAt: number;
  sending?: SendingMark;
}

const MAX_TXN_RETRIES = 4;

/** Queues a taken-over notification in this replica's outbox; `settled` when that outbox had sent it already. */
export type AdoptFn = (payload: LedgerPayload, key: LedgerKey) => Promise<'queued' | 'settled'>;

export const SEND_LEDGER_LOG = {
  known: 'notification already recorded by another replica; not queued here',
  elsewhere: 'notification settled already (by another replica or this one before); not sent again',
  inDoubt: 'notification was being sent by a replica that is gone; sending it again (a probable duplicate)',
  superseded: 'notification sent, but another replica had taken it over meanwhile (a probable duplicate)',
  adopted: 'notification of a replica that is gone adopted; queued here',
  adoptFailed: 'notification could not be adopted; left for the next scan',
  unsettled: 'notification sent but its record in etcd not settled yet; retrying',
} as const;

function parseOpen(kv: KeyValue | undefined): OpenValue | undefined {
  if (kv === undefined) return undefined;
  try {
    const v = JSON.parse(kv.value) as OpenValue;
    return v.v === 1 && typeof v.id === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function parseObj<T>(kv: KeyValue | undefined): T | undefined {
  if (kv === undefined) return undefined;
  try {
    return JSON.parse(kv.value) as T;
  } catch {
    return undefined;
  }
}

/** The rendezvous key of a notification: its server's, so that its adopter is that server's owner. */
export function ownerKeyOf(key: LedgerKey): string {
  return key.server !== undefined ? `${key.customer ?? '_'}/${key.server}` : `notify:${key.id}`;
}

export class EtcdSendLedger implements SendLedger {
  private readonly prefixes: { open: string; holder: string; done: string };
  private readonly now: () => number;
  private readonly retryMs: number;
  private doneLease: { id: string; until: number } | undefined;
  /** Settlements etcd did not take (unreachable): retried at each scan, so that no one sends them again. */
  private readonly unsettled = new Map<string, { key: LedgerKey; ticket: SendTicket; state: 'sent' | 'failed' }>();

  constructor(
    private readonly cluster: Cluster,
    readonly options: SendLedgerOptions,
    private readonly log: Logger,
  ) {
    this.prefixes = cluster.keys.notify(options.channel);
    this.now = options.now ?? Date.now;
    this.retryMs = options.retryMs ?? 1000;
  }

  private path(key: LedgerKey): string {
    return `${keySegment(key.customer ?? '_')}/${keySegment(key.server ?? '_')}/${keySegment(key.id)}`;
  }

  private keysOf(key: LedgerKey): { open: string; holder: string; done: string } {
    const p = this.path(key);
    return { open: this.prefixes.open + p, holder: this.prefixes.holder + p, done: this.prefixes.done + p };
  }

  private get replica(): string {
    return this.cluster.options.replica;
  }

  private fields(key: LedgerKey): Record<string, unknown> {
    return { channel: this.options.channel, notification: key.id, ...(key.server !== undefined ? { server: `${key.customer ?? '_'}/${key.server}` } : {}) };
  }

  async record(key: LedgerKey, payload: LedgerPayload): Promise<LedgerRecordResult> {
    const lease = this.cluster.session.leaseId;
    if (lease === undefined || this.cluster.phase() === 'fenced') return 'unavailable';
    const k = this.keysOf(key);
    const value: OpenValue = { v: 1, id: key.id, owner: ownerKeyOf(key), payload, recordedBy: this.replica, recordedAt: this.now() };
    try {
      const res = await this.cluster.session.txn(
        [cmp.absent(k.open), cmp.absent(k.done)],
        [op.put(k.open, JSON.stringify(value)), op.put(k.holder, JSON.stringify({ replica: this.replica }), lease)],
      );
      if (res.succeeded) return 'recorded';
      // Recorded by this very lease before (a notification told again after a failed local write).
      const [holder, done] = (await this.cluster.session.getMany([k.holder, k.done])).kvs;
      if (done === undefined && holder?.lease === lease) return 'recorded';
      this.log.info(this.fields(key), SEND_LEDGER_LOG.known);
      return 'known';
    } catch (err) {
      if (isMamoriError(err, 'MAMORI_CLUSTER_UNAVAILABLE')) return 'unavailable';
      throw err;
    }
  }

  async begin(key: LedgerKey, payload: () => LedgerPayload): Promise<LedgerBeginResult> {
    const later = (): LedgerBeginResult => ({ go: false, why: 'unavailable', retryAt: this.now() + this.retryMs });
    const k = this.keysOf(key);
    const session = this.cluster.session;
    try {
      for (let attempt = 0; attempt < MAX_TXN_RETRIES; attempt++) {
        const lease = session.leaseId;
        if (lease === undefined || this.cluster.phase() !== 'active') return later();
        const { kvs } = await session.getMany([k.open, k.holder, k.done]);
        const [openKv, holderKv, doneKv] = kvs;
        const open = parseOpen(openKv);
        const holder = holderKv !== undefined ? { replica: parseObj<{ replica?: string }>(holderKv)?.replica ?? '?', lease: holderKv.lease } : undefined;
        const done = doneKv !== undefined ? { state: parseObj<{ state?: string }>(doneKv)?.state ?? 'sent', by: parseObj<{ by?: string }>(doneKv)?.by ?? '?' } : undefined;
        const now = this.now();
        const verdict = judgeSend({ ...(open !== undefined ? { open } : {}), ...(holder !== undefined ? { holder } : {}), ...(done !== undefined ? { done } : {}) }, { replica: this.replica, lease }, now, this.options.inDoubtMs);
        if (verdict.kind === 'done') {
          this.log.info({ ...this.fields(key), by: verdict.by, state: verdict.state }, SEND_LEDGER_LOG.elsewhere);
          return { go: false, why: 'done', by: verdict.by, state: verdict.state };
        }
        if (verdict.kind === 'held') return { go: false, why: 'held', by: verdict.by, retryAt: now + Math.max(this.retryMs, 2000) };
        if (verdict.kind === 'wait') return { go: false, why: 'wait', retryAt: verdict.until, by: verdict.by };
        // The phase again right before the write: a pause between the read and here must not let a
        // fenced replica through on a stale phase.
        if (this.cluster.phase() !== 'active') return later();
        const next: OpenValue = open ?? { v: 1, id: key.id, owner: ownerKeyOf(key), payload: payload(), recordedBy: this.replica, recordedAt: now };
        next.sending = { by: this.replica, lease, at: now };
        const compare = [
          cmp.absent(k.done),
          openKv !== undefined ? cmp.modifiedAt(k.open, openKv.modRevision) : cmp.absent(k.open),
          verdict.takeHolder ? cmp.absent(k.holder) : cmp.leaseIs(k.holder, lease),
        ];
        const success = [op.put(k.open, JSON.stringify(next)), ...(verdict.takeHolder ? [op.put(k.holder, JSON.stringify({ replica: this.replica }), lease)] : [])];
        const res = await session.txn(compare, success);
        if (!res.succeeded) continue; // someone else moved: judged again on what etcd holds now
        if (verdict.resend !== undefined) this.log.warn({ ...this.fields(key), previous: verdict.resend.by, previousAt: new Date(verdict.resend.at).toISOString() }, SEND_LEDGER_LOG.inDoubt);
        return { go: true, ticket: { revision: res.revision, ...(verdict.resend !== undefined ? { resendOf: { by: verdict.resend.by, at: verdict.resend.at } } : {}) } };
      }
      return later();
    } catch (err) {
      if (isMamoriError(err, 'MAMORI_CLUSTER_UNAVAILABLE')) return later();
      throw err;
    }
  }

  async end(key: LedgerKey, ticket: SendTicket, state: 'sent' | 'failed'): Promise<void> {
    try {
      await this.settle(key, ticket, state);
      this.unsettled.delete(this.path(key));
    } catch (err) {
      // etcd unreachable: the holder key stays ours while our lease lives; retried at each scan.
      this.unsettled.set(this.path(key), { key, ticket, state });
      this.log.warn({ ...this.fields(key), err: err instanceof Error ? err.message : String(err) }, SEND_LEDGER_LOG.unsettled);
    }
  }

  private async settle(key: LedgerKey, ticket: SendTicket, state: 'sent' | 'failed' | 'folded', extra: Record<string, unknown> = {}): Promise<void> {
    const k = this.keysOf(key);
    const lease = await this.retentionLease();
    const done = JSON.stringify({ state, by: this.replica, at: this.now(), ...extra });
    const res = await this.cluster.session.txn(
      [cmp.modifiedAt(k.open, ticket.revision)],
      [op.del(k.open), op.del(k.holder), op.put(k.done, done, lease)],
    );
    if (res.succeeded) return;
    // Our sending mark was replaced: another replica judged this replica gone and took it over.
    const now = await this.cluster.session.get(k.done);
    if (now.kv === undefined) this.log.warn(this.fields(key), SEND_LEDGER_LOG.superseded);
  }

  async release(key: LedgerKey, ticket: SendTicket): Promise<void> {
    const k = this.keysOf(key);
    try {
      const cur = await this.cluster.session.get(k.open);
      const open = parseOpen(cur.kv);
      if (open === undefined || cur.kv?.modRevision !== ticket.revision) return;
      delete open.sending;
      await this.cluster.session.txn([cmp.modifiedAt(k.open, ticket.revision)], [op.put(k.open, JSON.stringify(open))]);
    } catch {
      // Left marked: a replica taking it over waits inDoubtMs first (a duplicate at worst, never a loss).
    }
  }

  async folded(keys: readonly LedgerKey[], digestId: string): Promise<void> {
    for (const key of keys) {
      const k = this.keysOf(key);
      try {
        const lease = await this.retentionLease();
        await this.cluster.session.txn(
          [cmp.absent(k.done)],
          [op.del(k.open), op.del(k.holder), op.put(k.done, JSON.stringify({ state: 'folded', by: this.replica, at: this.now(), digest: digestId }), lease)],
        );
      } catch {
        // etcd unreachable: the record stays open under our holder; if this replica dies before the
        // digest goes, its server's new owner sends it on its own (listed in our digest too).
      }
    }
  }

  /** Settled records expire with a lease of the retention, shared for a day of settlements. */
  private async retentionLease(): Promise<string> {
    const now = this.now();
    if (this.doneLease !== undefined && now < this.doneLease.until) return this.doneLease.id;
    const ttlSeconds = Math.ceil(this.options.retentionMs / 1000) + 86_400;
    const id = await this.cluster.session.grantExpiringLease(ttlSeconds);
    this.doneLease = { id, until: now + 86_400_000 };
    return id;
  }

  /**
   * The open records this replica should adopt now (their holder's lease is gone and this replica
   * owns their server), each taken under this replica's lease; `adopt` queues it locally.
   */
  async adoptOrphans(adopt: AdoptFn): Promise<number> {
    for (const u of [...this.unsettled.values()]) await this.end(u.key, u.ticket, u.state);
    const lease = this.cluster.session.leaseId;
    if (lease === undefined || this.cluster.phase() !== 'active') return 0;
    const snap = await this.cluster.session.rangeMany([this.prefixes.open, this.prefixes.holder]);
    const held = new Set((snap.byPrefix.get(this.prefixes.holder) ?? []).map((kv) => kv.key.slice(this.prefixes.holder.length)));
    const open = (snap.byPrefix.get(this.prefixes.open) ?? []).flatMap((kv) => {
      const v = parseOpen(kv);
      return v === undefined ? [] : [{ key: kv.key.slice(this.prefixes.open.length), owner: v.owner, value: v, kv }];
    });
    const members = this.cluster.membership;
    let adopted = 0;
    for (const r of adoptable(open, held, this.replica, (owner) => members.ownerOf(owner))) {
      const holderKey = this.prefixes.holder + r.key;
      const res = await this.cluster.session.txn(
        [cmp.absent(holderKey), cmp.modifiedAt(this.prefixes.open + r.key, r.kv.modRevision)],
        [op.put(holderKey, JSON.stringify({ replica: this.replica }), lease)],
      );
      if (!res.succeeded) continue;
      const [customer, server] = r.value.owner.startsWith('notify:') ? [undefined, undefined] : r.value.owner.split('/');
      const key: LedgerKey = { id: r.value.id, ...(customer !== undefined && customer !== '_' ? { customer } : {}), ...(server !== undefined ? { server } : {}) };
      try {
        if ((await adopt(r.value.payload, key)) === 'settled') {
          // This replica had sent it already (its settlement in etcd was lost): settled now, not sent again.
          await this.settle(key, { revision: r.kv.modRevision }, 'sent');
          continue;
        }
        adopted++;
        this.log.info({ ...this.fields(key), previous: r.value.recordedBy, sendingBefore: r.value.sending?.by }, SEND_LEDGER_LOG.adopted);
      } catch (err) {
        this.log.error({ ...this.fields(key), err: err instanceof Error ? err.message : String(err) }, SEND_LEDGER_LOG.adoptFailed);
        await this.cluster.session.txn([cmp.leaseIs(holderKey, lease)], [op.del(holderKey)]).catch(() => undefined);
      }
    }
    return adopted;
  }
}

/**
 * Scans for orphans on every membership change (a member gone: its holder keys went with its lease)
 * and every `everyMs` (a scan missed while etcd was out), one scan at a time.
 */
export class OrphanAdopter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly channels: ReadonlyArray<{ ledger: EtcdSendLedger; adopt: AdoptFn }>,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.cluster.membership.onChange(() => this.kick());
    this.timer = setInterval(() => this.kick(), this.everyMs);
    this.timer.unref();
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        for (const c of this.channels) {
          await c.ledger.adoptOrphans(c.adopt).catch((err: unknown) => {
            if (!isMamoriError(err, 'MAMORI_CLUSTER_UNAVAILABLE')) this.log.error({ err: err instanceof Error ? err.message : String(err), channel: c.ledger.options.channel }, 'notification orphan scan failed');
          });
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.running;
  }
}
