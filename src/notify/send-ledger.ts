/**
 * What an outbox asks when several replicas share the fleet (config `cluster`): an idempotency
 * record per notification, shared by the replicas, written before anything is sent. Without a
 * ledger (one daemon) the outboxes behave exactly as before. The etcd implementation is
 * src/cluster/send-ledger.ts; this is only the contract, so that notify imports nothing of cluster.
 */

/** One notification (or one webhook delivery) across the replicas: namespaced by customer and server. */
export interface LedgerKey {
  /** The notification's stable id (for a webhook, `<endpoint>|<event id>`). */
  id: string;
  customer?: string;
  server?: string;
}

/** The record's content: what a replica that takes it over needs to send it (already scrubbed). */
export type LedgerPayload = Record<string, unknown>;

export type LedgerRecordResult =
  /** Written: this replica holds it and sends it. */
  | 'recorded'
  /** Already there: another replica holds it or settled it (or one whose lease is gone: its server's new owner takes it). */
  | 'known'
  /** etcd did not answer: kept here; the send waits until the ledger answers. */
  | 'unavailable';

export interface SendTicket {
  /** The open record's revision after the sending mark (what the settlement compares). */
  revision: number;
  /** A send begun by a replica that is gone: the relay may have it already (a probable duplicate). */
  resendOf?: { by: string; at: number };
}

export type LedgerBeginResult =
  | { go: true; ticket: SendTicket }
  /** Settled (by this replica's earlier life or another): never sent here. */
  | { go: false; why: 'done'; by: string; state: string }
  /**
   * Not now: held by another live replica (it sends it; if it dies, this one may take it), an
   * earlier send still in doubt, or etcd unreachable / this replica fenced.
   */
  | { go: false; why: 'held' | 'wait' | 'unavailable'; retryAt: number; by?: string };

export interface SendLedger {
  /** Before the notification is queued here. */
  record(key: LedgerKey, payload: LedgerPayload): Promise<LedgerRecordResult>;
  /** Right before the relay (or endpoint) is asked: takes the send, or says why not. */
  begin(key: LedgerKey, payload: () => LedgerPayload): Promise<LedgerBeginResult>;
  /** After the relay answered for good: the idempotency record is settled. Never throws. */
  end(key: LedgerKey, ticket: SendTicket, state: 'sent' | 'failed'): Promise<void>;
  /** After a temporary failure: the sending mark is lifted (nothing went out). Never throws. */
  release(key: LedgerKey, ticket: SendTicket): Promise<void>;
  /** Records folded into a digest (the digest is its own record). Never throws. */
  folded(keys: readonly LedgerKey[], digestId: string): Promise<void>;
}
