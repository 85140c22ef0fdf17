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
