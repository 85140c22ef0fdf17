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
});
