import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ownerOf, shardSizes } from '../../src/cluster/rendezvous.ts';

const fleet = (n: number, prefix = 'acme/web'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('rendezvous ownership', () => {
  it('3 replicas × 1,000 servers: every server owned by exactly one, shards within ±15 %', () => {
    for (const replicas of [['r-a', 'r-b', 'r-c'], ['mamori-1', 'mamori-2', 'mamori-3'], ['host1:4321', 'host2:9876', 'host3:1111']]) {
      const servers = fleet(3000, `${replicas[0]}-cust/srv`);
      const sizes = shardSizes(servers, replicas);
      expect([...sizes.values()].reduce((a, b) => a + b, 0)).toBe(3000);
      for (const n of sizes.values()) expect(Math.abs(n - 1000) / 1000).toBeLessThanOrEqual(0.15);
    }
  });

  it('a replica joining moves about 1/N of the servers, all of them to the newcomer', () => {
    const servers = fleet(3000);
    const before = ['r-a', 'r-b', 'r-c'];
    const after = [...before, 'r-d'];
    let moved = 0;
    for (const s of servers) {
      const o1 = ownerOf(s, before);
      const o2 = ownerOf(s, after);
      if (o1 !== o2) {
        moved++;
        expect(o2).toBe('r-d');
      }
    }
    expect(moved / servers.length).toBeGreaterThan(0.25 * 0.85);
    expect(moved / servers.length).toBeLessThan(0.25 * 1.15);
  });

  it('a replica leaving moves only its own servers', () => {
    const servers = fleet(3000);
    const before = ['r-a', 'r-b', 'r-c'];
    for (const s of servers) {
      const o1 = ownerOf(s, before);
      const o2 = ownerOf(s, ['r-a', 'r-c']);
      if (o1 !== 'r-b') expect(o2).toBe(o1);
    }
  });

  it('the owner does not depend on the order of the member list; none without members', () => {
    expect(ownerOf('x', ['a', 'b', 'c'])).toBe(ownerOf('x', ['c', 'a', 'b']));
    expect(ownerOf('x', [])).toBeUndefined();
  });

  it('through any run of joins and leaves: each server has exactly one owner among the live replicas, a change moves only what it must, shards stay within ±15 %', () => {
    const servers = fleet(3000, 'cust-7/host');
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 3, maxLength: 6 }), fc.array(fc.tuple(fc.boolean(), fc.nat()), { minLength: 1, maxLength: 6 }), (initial, changes) => {
        let members = initial.slice(0, 3);
        const spare = initial.slice(3);
        let owners = servers.map((s) => ownerOf(s, members));
        for (const [join, pick] of changes) {
          const before = members;
          if (join && spare.length > 0) members = [...members, spare.splice(pick % spare.length, 1)[0]!];
          else if (!join && members.length > 1) members = members.filter((_, i) => i !== pick % members.length);
          else continue;
          const joined = members.filter((m) => !before.includes(m));
          const left = before.filter((m) => !members.includes(m));
          const next = servers.map((s) => ownerOf(s, members));
          const reversed = [...members].reverse();
          const bad = servers.filter((s, i) =>
            // One owner, a live one, whatever order a replica lists its view in; a server moves only
            // to a replica that joined, or away from one that left.
            !members.includes(next[i]!) || ownerOf(s, reversed) !== next[i] || (next[i] !== owners[i] && !joined.includes(next[i]!) && !left.includes(owners[i]!)),
          );
          expect(bad).toEqual([]);
          owners = next;
        }
        if (members.length === 3) {
          const sizes = shardSizes(servers, members);
          for (const n of sizes.values()) expect(Math.abs(n - 1000) / 1000).toBeLessThanOrEqual(0.15);
        }
      }),
      { numRuns: 15, seed: Number(process.env.MAMORI_TEST_SEED ?? 23) },
    );
  });
});
