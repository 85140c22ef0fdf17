/**
 * Whether this replica may send a notification now, judged on what etcd holds for it (pure).
 *
 *   open/<key>     the notification, not yet settled; `sending` once a replica began a send
 *   holder/<key>   bound to the session lease of the replica that sends it (gone with that lease)
 *   done/<key>     settled: sent, failed (refused) or folded into a digest
 *
 * The rules, in order:
 *  - settled → never again (the idempotency record);
 *  - a holder under another live lease → that replica sends it, not this one;
 *  - a send begun under a lease that is gone is in doubt: the relay may have taken it. It is sent
 *    again (same Message-ID / webhook-id) only after `inDoubtMs` from its start — the time the old
 *    send could still be running — so that a paused or slow replica's send is not doubled;
 *  - otherwise this replica sends, taking the holder when there is none.
 */

export interface SendView {
  open?: { sending?: SendingMark };
  holder?: { replica: string; lease: string };
  done?: { state: string; by: string };
}

export interface SendingMark {
  by: string;
  lease: string;
  /** Wall-clock ms when the send began. */
  at: number;
}

export type SendVerdict =
  | { kind: 'send'; takeHolder: boolean; resend?: SendingMark }
  | { kind: 'done'; state: string; by: string }
  | { kind: 'held'; by: string }
  | { kind: 'wait'; until: number; by: string };

export function judgeSend(view: SendView, me: { replica: string; lease: string }, now: number, inDoubtMs: number): SendVerdict {
  if (view.done !== undefined) return { kind: 'done', state: view.done.state, by: view.done.by };
  if (view.holder !== undefined && view.holder.lease !== me.lease) return { kind: 'held', by: view.holder.replica };
  const takeHolder = view.holder === undefined;
  const sending = view.open?.sending;
  if (sending !== undefined && sending.lease !== me.lease) {
    const until = sending.at + inDoubtMs;
    if (now < until) return { kind: 'wait', until, by: sending.by };
    return { kind: 'send', takeHolder, resend: sending };
  }
  return { kind: 'send', takeHolder };
}

/**
 * The open records this replica adopts: no holder (its replica's lease is gone) and this replica
 * owns the record's server (rendezvous over the live members) — the same replica that took the
 * server over. `ownerOf` is the rendezvous function, passed in to keep this pure.
 */
export function adoptable<T extends { key: string; owner: string }>(
  open: readonly T[],
  heldKeys: ReadonlySet<string>,
  me: string,
  ownerOf: (owner: string) => string | undefined,
): T[] {
  return open.filter((r) => !heldKeys.has(r.key) && ownerOf(r.owner) === me);
}
