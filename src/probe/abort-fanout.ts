/**
 * Many short-lived listeners on one long-lived AbortSignal (the controller's: every probe of a
 * 10,000-server fleet is handed it). `signal.addEventListener` walks the signal's whole listener
 * list on every add (a duplicate check) and every remove, and Node warns past 10 listeners
 * (MaxListenersExceededWarning): with hundreds of probes in flight each probe paid for all the
 * others. Here a signal gets ONE listener, and the probes in flight wait in a Set (O(1) to join
 * and leave); an abort calls each of them once.
 */

export interface AbortWaiter {
  /** Called once when the signal aborts (while the waiter is subscribed). */
  onAbort(): void;
}

const fanouts = new WeakMap<AbortSignal, Set<AbortWaiter>>();

/** `waiter.onAbort()` when `signal` aborts, until unsubscribed. A signal already aborted is the caller's to check. */
export function subscribeAbort(signal: AbortSignal, waiter: AbortWaiter): void {
  let waiters = fanouts.get(signal);
  if (waiters === undefined) {
    const set = new Set<AbortWaiter>();
    waiters = set;
    fanouts.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        const now = [...set];
        set.clear();
        for (const w of now) {
          try {
            w.onAbort();
          } catch {
            // One waiter's failure must not keep the others running.
          }
        }
      },
      { once: true },
    );
  }
  waiters.add(waiter);
}

export function unsubscribeAbort(signal: AbortSignal, waiter: AbortWaiter): void {
  fanouts.get(signal)?.delete(waiter);
}

/** Waiters subscribed to `signal` now (tests). */
export function abortWaiters(signal: AbortSignal): number {
  return fanouts.get(signal)?.size ?? 0;
}
