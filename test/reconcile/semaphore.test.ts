import { describe, expect, test } from 'vitest';
import { Semaphore } from '../../src/reconcile/semaphore.ts';

describe('semaphore', () => {
  test('promise waiters and grantees share one FIFO; a grantee queued twice gets two grants in turn', async () => {
    const s = new Semaphore(1);
    const order: string[] = [];
    expect(s.tryAcquire()).toBe(true);
    expect(s.tryAcquire()).toBe(false);
    const a = s.acquire().then(() => order.push('a'));
    const g = { grant: () => order.push('g') };
    s.enqueue(g);
    const b = s.acquire().then(() => order.push('b'));
    s.enqueue(g);
    expect(s.waiting).toBe(4);
    for (let i = 0; i < 4; i++) {
      s.release();
      // A promise waiter runs in a reaction: let it before the next release.
      await Promise.resolve();
    }
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'g', 'b', 'g']);
    expect(s.inUse).toBe(1);
    expect(s.waiting).toBe(0);
  });

  test('onReturn hears a permit go back to the pool, not one handed to a waiter; unsubscribing stops it', () => {
    const s = new Semaphore(2);
    let returned = 0;
    const off = s.onReturn(() => returned++);
    s.tryAcquire();
    s.tryAcquire();
    let granted = 0;
    s.enqueue({ grant: () => granted++ });
    s.release();
    expect(granted).toBe(1);
    expect(returned).toBe(0);
    s.release();
    expect(returned).toBe(1);
    expect(s.inUse).toBe(1);
    off();
    s.release();
    expect(returned).toBe(1);
    expect(s.inUse).toBe(0);
  });
});
