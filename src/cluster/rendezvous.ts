/**
 * Rendezvous (highest-random-weight) hashing: a server belongs to the live replica whose
 * score for (replica, server) is highest. A membership change moves only the servers whose
 * winner joined or left (~1/N). Pure: the split is for load, never for correctness — the claims
 * in etcd decide who may act.
 */
import { stableHash32 } from '../stable-hash.ts';

/** The score of a replica for a server; ties (practically never) go to the smaller replica id. */
export function rendezvousScore(replica: string, server: string): number {
  return stableHash32(`${replica}\u0000${server}`);
}

/** The owning replica of a server among the live ones; undefined when there is none. */
export function ownerOf(server: string, replicas: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const r of replicas) {
    const s = rendezvousScore(r, server);
    if (s > bestScore || (s === bestScore && best !== undefined && r < best)) {
      best = r;
      bestScore = s;
    }
  }
  return best;
}

/** How many servers each replica owns (every replica listed, even with none). */
export function shardSizes(servers: readonly string[], replicas: readonly string[]): Map<string, number> {
  const sizes = new Map<string, number>(replicas.map((r) => [r, 0]));
  for (const s of servers) {
    const o = ownerOf(s, replicas);
    if (o !== undefined) sizes.set(o, (sizes.get(o) ?? 0) + 1);
  }
  return sizes;
}
