import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { WorkQueue } from '../../src/reconcile/work-queue.ts';

const queue = (): WorkQueue => new WorkQueue({ backoffMs: (n) => 100 * 2 ** (n - 1) });

describe('work queue', () => {
  test('take() tells how late each key is handed out against its due time (the schedule lateness metric)', () => {
    const q = queue();
    q.add('a', 10);
    q.add('b', 25);
    q.add('c', 40);
    const late: Array<[string, number]> = [];
    expect(q.take(30, (k, ms) => late.push([k, ms]))).toEqual(['a', 'b']);
    expect(late).toEqual([['a', 20], ['b', 5]]);
  });

  test('a key due while its work runs is not handed out again; done() hands it back', () => {
    const q = queue();
    q.add('a', 10);
    q.add('b', 20);
    expect(q.take(15)).toEqual(['a']);
    q.add('a', 16);
    expect(q.take(30)).toEqual(['b']);
    expect(q.isProcessing('a')).toBe(true);
    expect(q.done('a')).toBe(true);
    expect(q.done('b')).toBe(false);
    expect(q.begin('a')).toBe(true);
    expect(q.begin('a')).toBe(false);
  });

  test('failed work comes back after an exponential backoff, sooner only; success resets the count', () => {
    const q = queue();
    q.add('a', 10_000);
    expect(q.failed('a', 0)).toEqual({ failures: 1, retryInMs: 100 });
    expect(q.dueAt('a')).toBe(100);
    expect(q.failed('a', 0)).toEqual({ failures: 2, retryInMs: 200 });
    expect(q.dueAt('a')).toBe(100);
    expect(q.succeeded('a')).toBe(true);
    expect(q.failuresOf('a')).toBe(0);
    expect(q.succeeded('a')).toBe(false);
  });

  test('forget drops the due time, the failures and a pending hand-back', () => {
    const q = queue();
    q.add('a', 1);
    expect(q.take(1)).toEqual(['a']);
    q.add('a', 2);
    q.take(2);
    q.failed('a', 2);
    q.forget('a');
    expect(q.dueAt('a')).toBeUndefined();
    expect(q.failuresOf('a')).toBe(0);
    expect(q.done('a')).toBe(false);
  });

  test('never the same key twice at once, and no key lost (random schedules)', () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant<'add'>('add'), key: fc.constantFrom('a', 'b', 'c'), at: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ op: fc.constant<'take'>('take'), now: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ op: fc.constant<'done'>('done'), key: fc.constantFrom('a', 'b', 'c') }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const q = queue();
        const running = new Set<string>();
        const wanted = new Set<string>();
        for (const o of ops) {
          if (o.op === 'add') {
            q.add(o.key, o.at);
            wanted.add(o.key);
          } else if (o.op === 'take') {
            for (const k of q.take(o.now)) {
              expect(running.has(k)).toBe(false);
              running.add(k);
              wanted.delete(k);
            }
          } else if (running.has(o.key)) {
            running.delete(o.key);
            if (q.done(o.key)) q.add(o.key, 0);
          }
        }
        // Every key asked for and not yet worked on is still due or handed back on done().
        for (const k of wanted) expect(q.dueAt(k) !== undefined || running.has(k)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
