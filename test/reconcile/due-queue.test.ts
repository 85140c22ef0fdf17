import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DueQueue } from '../../src/reconcile/due-queue.ts';

type Op = { op: 'schedule' | 'sooner' | 'remove'; name: string; at: number } | { op: 'pop'; now: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom<'schedule' | 'sooner' | 'remove'>('schedule', 'sooner', 'remove'), name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), at: fc.integer({ min: 0, max: 50 }) }),
  fc.record({ op: fc.constant<'pop'>('pop'), now: fc.integer({ min: 0, max: 50 }) }),
);

describe('due queue', () => {
  test('behaves like a map of due times popped in (time, scheduling order)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const q = new DueQueue();
        const model = new Map<string, { at: number; seq: number }>();
        let seq = 0;
        for (const o of ops) {
          if (o.op === 'schedule') {
            q.schedule(o.name, o.at);
            model.set(o.name, { at: o.at, seq: ++seq });
          } else if (o.op === 'sooner') {
            q.scheduleSooner(o.name, o.at);
            const cur = model.get(o.name);
            if (cur === undefined || o.at < cur.at) model.set(o.name, { at: o.at, seq: ++seq });
          } else if (o.op === 'remove') {
            q.remove(o.name);
            model.delete(o.name);
          } else if (o.op === 'pop') {
            const want = [...model.entries()].filter(([, v]) => v.at <= o.now).sort((x, y) => x[1].at - y[1].at || x[1].seq - y[1].seq).map(([k]) => k);
            for (const k of want) model.delete(k);
            expect(q.popDue(o.now)).toEqual(want);
          }
          expect(q.size).toBe(model.size);
          for (const [k, v] of model) expect(q.dueAt(k)).toBe(v.at);
        }
      }),
      { numRuns: 300 },
    );
  });
});
