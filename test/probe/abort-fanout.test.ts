import { getEventListeners } from 'node:events';
import { describe, expect, test } from 'vitest';
import { abortWaiters, subscribeAbort, unsubscribeAbort, type AbortWaiter } from '../../src/probe/abort-fanout.ts';

describe('one abort listener for many waiters', () => {
  test('each subscribed waiter hears the abort once; unsubscribed ones do not', () => {
    const c = new AbortController();
    const heard: number[] = [];
    const waiters: AbortWaiter[] = Array.from({ length: 100 }, (_, i) => ({ onAbort: () => void heard.push(i) }));
    for (const w of waiters) subscribeAbort(c.signal, w);
    for (let i = 0; i < 100; i += 2) unsubscribeAbort(c.signal, waiters[i] as AbortWaiter);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    expect(abortWaiters(c.signal)).toBe(50);
    c.abort();
    expect(heard).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i + 1));
    expect(abortWaiters(c.signal)).toBe(0);
  });

  test('joining twice counts once; leaving twice or unjoined changes nothing; any place can leave; a leaver can come back', () => {
    const c = new AbortController();
    const heard: string[] = [];
    const w = (name: string): AbortWaiter => ({ onAbort: () => void heard.push(name) });
    const [a, b, d, e, stranger] = [w('a'), w('b'), w('d'), w('e'), w('stranger')] as [AbortWaiter, AbortWaiter, AbortWaiter, AbortWaiter, AbortWaiter];
    for (const x of [a, b, d, e]) subscribeAbort(c.signal, x);
    subscribeAbort(c.signal, b);
    expect(abortWaiters(c.signal)).toBe(4);
    unsubscribeAbort(c.signal, stranger);
    unsubscribeAbort(c.signal, a); // the head
    unsubscribeAbort(c.signal, a);
    unsubscribeAbort(c.signal, e); // the tail
    unsubscribeAbort(c.signal, d);
    expect(abortWaiters(c.signal)).toBe(1);
    // A waiter that left links to nothing (dead in the old generation, it keeps no young one alive).
    for (const x of [a, d, e]) expect([x.abortPrev, x.abortNext]).toEqual([undefined, undefined]);
    subscribeAbort(c.signal, a);
    subscribeAbort(c.signal, e);
    c.abort();
    expect(heard).toEqual(['b', 'a', 'e']);
    expect(abortWaiters(c.signal)).toBe(0);
    for (const x of [a, b, e]) expect([x.abortPrev, x.abortNext]).toEqual([undefined, undefined]);
  });

  test('a waiter that throws does not keep the others from hearing it', () => {
    const c = new AbortController();
    let heard = 0;
    subscribeAbort(c.signal, { onAbort: () => { throw new Error('boom'); } });
    subscribeAbort(c.signal, { onAbort: () => void heard++ });
    c.abort();
    expect(heard).toBe(1);
  });

  test('signals are apart: aborting one tells none of the other', () => {
    const a = new AbortController();
    const b = new AbortController();
    let heardB = 0;
    subscribeAbort(a.signal, { onAbort: () => undefined });
    subscribeAbort(b.signal, { onAbort: () => void heardB++ });
    a.abort();
    expect(heardB).toBe(0);
    expect(abortWaiters(b.signal)).toBe(1);
  });
});
