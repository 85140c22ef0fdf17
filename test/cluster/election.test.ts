/**
 * The election's logic: the role from what etcd holds and the replica's own lease (pure), and the
 * Election's campaign, takeover and resignation against an in-memory key store that keeps etcd's
 * rules the election relies on (create-if-absent, a key bound to a lease goes with it, the create
 * revision). The real etcd is in test/cluster/status-replicas.lab.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ICompare, IRequestOp } from 'etcd3';
import { Election, electionRole, type Holder } from '../../src/cluster/election.ts';
import type { EtcdSession, KeyValue } from '../../src/cluster/etcd-session.ts';
import type { FencePhase } from '../../src/cluster/membership.ts';
import { MamoriError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';

describe('electionRole', () => {
  const holder = (lease: string): Holder => ({ replica: 'x', lease, term: 7 });
  it('leads only with the key on its current lease and a fresh lease; campaigns only when free and fresh', () => {
    expect(electionRole({ holder: undefined, lease: '1', phase: 'active' })).toBe('candidate');
    expect(electionRole({ holder: holder('1'), lease: '1', phase: 'active' })).toBe('leader');
    expect(electionRole({ holder: holder('2'), lease: '1', phase: 'active' })).toBe('follower');
    for (const phase of ['draining', 'fenced'] as FencePhase[]) {
      // A holder whose own clock no longer vouches for its lease stops acting before etcd hands the key on.
      expect(electionRole({ holder: holder('1'), lease: '1', phase })).toBe('follower');
      expect(electionRole({ holder: undefined, lease: '1', phase })).toBe('follower');
    }
    expect(electionRole({ holder: undefined, lease: undefined, phase: 'active' })).toBe('follower');
    // After the lease was renewed the old key (if etcd has not deleted it yet) is not ours.
    expect(electionRole({ holder: holder('1'), lease: '3', phase: 'active' })).toBe('follower');
  });
});

/** etcd's rules the election uses: one revision counter, keys with their lease, create-if-absent. */
class Store {
  revision = 1;
  readonly kvs = new Map<string, KeyValue>();
  down = false;

  get(key: string): { revision: number; kv: KeyValue | undefined } {
    if (this.down) throw new MamoriError('MAMORI_CLUSTER_UNAVAILABLE');
    return { revision: this.revision, kv: this.kvs.get(key) };
  }

  txn(compare: ICompare[], success: IRequestOp[]): { succeeded: boolean; revision: number } {
    if (this.down) throw new MamoriError('MAMORI_CLUSTER_UNAVAILABLE');
    const ok = compare.every((c) => {
      const kv = this.kvs.get(String(c.key));
      if (c.target === 'Version') return (kv?.version ?? 0) === Number(c.version);
      if (c.target === 'Lease') return kv !== undefined && kv.lease === String(c.lease);
      throw new Error(`compare ${c.target} not modelled`);
    });
    if (!ok) return { succeeded: false, revision: this.revision };
    this.revision++;
    for (const o of success) {
      if (o.request_put !== undefined) {
        const key = String(o.request_put.key);
        const prev = this.kvs.get(key);
        this.kvs.set(key, { key, value: String(o.request_put.value), createRevision: prev?.createRevision ?? this.revision, modRevision: this.revision, version: (prev?.version ?? 0) + 1, lease: String(o.request_put.lease ?? '0') });
      } else if (o.request_delete_range !== undefined) {
        this.kvs.delete(String(o.request_delete_range.key));
      }
    }
    return { succeeded: true, revision: this.revision };
  }

  /** A lease past its TTL: etcd deletes what was bound to it. */
  expire(lease: string): void {
    this.revision++;
    for (const [k, kv] of this.kvs) if (kv.lease === lease) this.kvs.delete(k);
  }
}

class Replica {
  lease: string | undefined;
  phase: FencePhase = 'active';
  readonly election: Election;
  constructor(readonly name: string, store: Store, lease: string) {
    this.lease = lease;
    const session = {
      get: async (key: string) => store.get(key),
      txn: async (c: ICompare[], s: IRequestOp[]) => store.txn(c, s),
    };
    Object.defineProperty(session, 'leaseId', { get: () => this.lease });
    this.election = new Election({ key: '/p/status-publisher', replica: name, session: session as unknown as EtcdSession, phase: () => this.phase, tickMs: 60_000, log: silentLogger() });
  }
}

async function tickAll(rs: Replica[]): Promise<void> {
  for (const r of rs) await r.election.tick();
}

const leaders = (rs: Replica[]): string[] => rs.filter((r) => r.election.isLeader()).map((r) => r.name);

describe('Election', () => {
  it('three replicas: exactly one leads; the key names it and its term is the key\'s create revision', async () => {
    const store = new Store();
    const rs = [new Replica('r-1', store, '101'), new Replica('r-2', store, '102'), new Replica('r-3', store, '103')];
    await tickAll(rs);
    await tickAll(rs);
    expect(leaders(rs)).toHaveLength(1);
    const leader = rs.find((r) => r.election.isLeader())!;
    const kv = store.kvs.get('/p/status-publisher')!;
    expect(JSON.parse(kv.value).replica).toBe(leader.name);
    expect(kv.lease).toBe(leader.lease);
    expect(leader.election.term()).toBe(kv.createRevision);
    for (const r of rs) expect(r.election.holder?.replica).toBe(leader.name);
    // Staying leader costs no write: ticks only read.
    const rev = store.revision;
    await tickAll(rs);
    expect(store.revision).toBe(rev);
  });

  it('the leader dies (its lease expires): another is elected on its next tick with a newer term; never two at once', async () => {
    const store = new Store();
    const rs = [new Replica('r-1', store, '101'), new Replica('r-2', store, '102'), new Replica('r-3', store, '103')];
    await tickAll(rs);
    const first = rs.find((r) => r.election.isLeader())!;
    const term1 = first.election.term()!;
    // Dead: its clock stops vouching (fenced) and etcd drops its lease and the key with it.
    first.phase = 'fenced';
    expect(leaders(rs)).toEqual([]);
    store.expire(first.lease!);
    const rest = rs.filter((r) => r !== first);
    for (const r of rest) {
      await r.election.tick();
      expect(leaders(rs).length).toBeLessThanOrEqual(1);
    }
    await tickAll(rest);
    expect(leaders(rs)).toHaveLength(1);
    const second = rs.find((r) => r.election.isLeader())!;
    expect(second).not.toBe(first);
    expect(second.election.term()!).toBeGreaterThan(term1);
    // The old leader comes back with a new lease: it follows (the key is another's).
    first.lease = '201';
    first.phase = 'active';
    await first.election.tick();
    expect(leaders(rs)).toEqual([second.name]);
  });

  it('a paused leader (draining) leads no more at once, but holds the key until etcd drops it: nobody else leads meanwhile', async () => {
    const store = new Store();
    const rs = [new Replica('r-1', store, '101'), new Replica('r-2', store, '102')];
    await tickAll(rs);
    const first = rs.find((r) => r.election.isLeader())!;
    first.phase = 'draining';
    await tickAll(rs);
    expect(leaders(rs)).toEqual([]);
    first.phase = 'active';
    await tickAll(rs);
    expect(leaders(rs)).toEqual([first.name]);
  });

  it('resign gives the key up only if it is still ours; the next tick elects another', async () => {
    const store = new Store();
    const rs = [new Replica('r-1', store, '101'), new Replica('r-2', store, '102')];
    await tickAll(rs);
    const first = rs.find((r) => r.election.isLeader())!;
    const other = rs.find((r) => r !== first)!;
    // A follower resigning deletes nothing.
    const follower = new Replica('r-3', store, '103');
    await follower.election.tick();
    await follower.election.resign();
    expect(store.kvs.has('/p/status-publisher')).toBe(true);
    await first.election.resign();
    expect(store.kvs.has('/p/status-publisher')).toBe(false);
    expect(first.election.isLeader()).toBe(false);
    await other.election.tick();
    expect(leaders(rs)).toEqual([other.name]);
    // A resigned election campaigns no more.
    await other.election.resign();
    await first.election.tick();
    expect(leaders(rs)).toEqual([]);
  });

  it('etcd unreachable: a tick fails quietly and the role stays what the last read and the own clock say', async () => {
    const store = new Store();
    const r = new Replica('r-1', store, '101');
    await r.election.tick();
    expect(r.election.isLeader()).toBe(true);
    store.down = true;
    await r.election.tick();
    expect(r.election.isLeader()).toBe(true);
    r.phase = 'fenced';
    expect(r.election.isLeader()).toBe(false);
  });
});
