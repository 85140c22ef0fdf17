import { describe, expect, it } from 'vitest';
import { ownerOf } from '../../src/cluster/rendezvous.ts';
import {
  mergeFleetStatus,
  parseStatusDoc,
  planStatusCommit,
  probedStatus,
  statusChangeKey,
  statusCommitMessage,
  statusKeyOf,
  statusRevisionOf,
} from '../../src/cluster/status-merge.ts';
import type { ServerStatus } from '../../src/status/model.ts';

function status(name: string, o: { customer?: string; state?: string; at?: string; latencyMs?: number; revision?: string; owner?: string; probed?: boolean } = {}): ServerStatus {
  const at = o.at ?? '2026-12-07T01:00:00.000Z';
  return {
    apiVersion: 'mamori/v1',
    kind: 'ServerStatus',
    metadata: { name, ...(o.customer !== undefined ? { customer: o.customer } : { customer: 'acme' }) },
    observedRevision: o.revision ?? 'rev-1',
    updatedAt: at,
    conditions: [{ type: 'Ready', status: o.state === 'Down' ? 'False' : 'True', reason: o.state === 'Down' ? 'ServiceDown' : 'AllHealthy', message: '', lastTransitionTime: '2026-12-07T00:00:00.000Z' }],
    services: {
      http: {
        state: o.state ?? 'Healthy',
        since: '2026-12-07T00:00:00.000Z',
        consecutiveFailures: o.state === 'Down' ? 2 : 0,
        ...(o.probed === false ? {} : { lastProbe: { at, up: o.state !== 'Down', latencyMs: o.latencyMs ?? 3 } }),
      },
    },
    incidents: { open: [], recent: [] },
    ...(o.owner !== undefined ? { owner: o.owner } : {}),
  };
}

describe('statusChangeKey: what of a status is a change worth an etcd write', () => {
  it('the same news at another probe time, latency, file time or manifests revision is no change', () => {
    const a = status('web1', { at: '2026-12-07T01:00:00.000Z', latencyMs: 3, revision: 'rev-1' });
    const b = status('web1', { at: '2026-12-07T01:00:30.000Z', latencyMs: 9, revision: 'rev-2' });
    expect(statusChangeKey(a)).toBe(statusChangeKey(b));
  });

  it('a state, a condition, an incident or the owner changing is a change', () => {
    const base = statusChangeKey(status('web1'));
    expect(statusChangeKey(status('web1', { state: 'Down' }))).not.toBe(base);
    expect(statusChangeKey(status('web1', { owner: 'r-2' }))).not.toBe(base);
    const withIncident = status('web1');
    withIncident.incidents.open.push({ id: 'i1', service: 'http', openedAt: 'x', detectedAt: 'x', attempts: [] });
    expect(statusChangeKey(withIncident)).not.toBe(base);
    const reason = status('web1');
    reason.conditions[0]!.reason = 'Other';
    expect(statusChangeKey(reason)).not.toBe(base);
  });

  it('a status before any probe is not news (probedStatus)', () => {
    expect(probedStatus(status('web1', { probed: false }))).toBe(false);
    expect(probedStatus(status('web1'))).toBe(true);
  });
});

describe('parseStatusDoc: what etcd holds is checked before it is shown or committed', () => {
  it('accepts a status under its own key, refuses another server, junk and the wrong shape', () => {
    const s = status('web1', { owner: 'r-1' });
    expect(parseStatusDoc(JSON.stringify(s), 'acme/web1')).toEqual(s);
    expect(parseStatusDoc(JSON.stringify(s), 'acme/web2')).toBeUndefined();
    expect(parseStatusDoc(JSON.stringify(s), 'other/web1')).toBeUndefined();
    expect(parseStatusDoc('{not json', 'acme/web1')).toBeUndefined();
    expect(parseStatusDoc(JSON.stringify({ ...s, kind: 'Other' }), 'acme/web1')).toBeUndefined();
    expect(parseStatusDoc(JSON.stringify({ ...s, incidents: undefined }), 'acme/web1')).toBeUndefined();
    expect(parseStatusDoc('null', 'acme/web1')).toBeUndefined();
  });

  it('a server without a customer lives under _/', () => {
    const bare: ServerStatus = { ...status('solo'), metadata: { name: 'solo' } };
    expect(statusKeyOf(bare)).toBe('_/solo');
    expect(parseStatusDoc(JSON.stringify(bare), '_/solo')).toEqual(bare);
  });
});

describe('mergeFleetStatus: any replica shows the whole fleet with its owners', () => {
  const replicas = ['r-1', 'r-2', 'r-3'];
  const names = Array.from({ length: 30 }, (_, i) => `web${i}`);
  const owner = (key: string): string | undefined => ownerOf(key, replicas);

  it('own servers live from the controller, the others as their owners published them, in the desired order', () => {
    // Each replica's controller knows every server; only its own are probed (the others stay Unknown there).
    const published = new Map<string, ServerStatus>();
    for (const n of names) published.set(`acme/${n}`, status(n, { owner: owner(`acme/${n}`)!, state: n === 'web7' ? 'Down' : 'Healthy' }));
    for (const self of replicas) {
      const local = names.map((n) => (owner(`acme/${n}`) === self ? status(n, { state: n === 'web7' ? 'Down' : 'Healthy', at: '2026-12-07T01:05:00.000Z' }) : status(n, { state: 'Unknown', probed: false })));
      const { servers, handovers } = mergeFleetStatus({ self, local, ownerOf: owner, published });
      expect(handovers).toBe(0);
      expect(servers.map((s) => s.metadata.name)).toEqual(names);
      for (const s of servers) {
        const key = statusKeyOf(s);
        expect(s.owner).toBe(owner(key));
        expect(s.publishedBy).toBeUndefined();
        expect(s.services.http!.state).toBe(s.metadata.name === 'web7' ? 'Down' : 'Healthy');
        // Own servers are the controller's live view (newer probe), the others the published one.
        expect(s.updatedAt).toBe(s.owner === self ? '2026-12-07T01:05:00.000Z' : '2026-12-07T01:00:00.000Z');
      }
    }
  });

  it('during a handover the previous owner\'s last word is shown under the new owner, marked; nothing published: this replica\'s own view, marked', () => {
    const key = 'acme/web1';
    const newOwner = owner(key)!;
    const self = replicas.find((r) => r !== newOwner)!;
    const previous = replicas.find((r) => r !== newOwner && r !== self)!;
    const local = [status('web1', { state: 'Unknown', probed: false })];
    const stale = mergeFleetStatus({ self, local, ownerOf: owner, published: new Map([[key, status('web1', { owner: previous, state: 'Down' })]]) });
    expect(stale.handovers).toBe(1);
    expect(stale.servers[0]).toMatchObject({ owner: newOwner, publishedBy: previous, services: { http: { state: 'Down' } } });
    const none = mergeFleetStatus({ self, local, ownerOf: owner, published: new Map() });
    expect(none.servers[0]).toMatchObject({ owner: newOwner, publishedBy: self, services: { http: { state: 'Unknown' } } });
  });

  it('a server published but not in this replica\'s desired state is not shown; without members nothing is annotated', () => {
    const published = new Map([['acme/gone', status('gone', { owner: 'r-1' })]]);
    const { servers } = mergeFleetStatus({ self: 'r-1', local: [status('web1')], ownerOf: owner, published });
    expect(servers.map((s) => s.metadata.name)).toEqual(['web1']);
    const alone = mergeFleetStatus({ self: 'r-1', local: [status('web1')], ownerOf: () => undefined, published });
    expect(alone.servers[0]!.owner).toBeUndefined();
  });
});

describe('the status branch: trailer and commit plan', () => {
  it('the trailer round-trips; a commit without one (or a bad one) has no revision', () => {
    const m = statusCommitMessage({ manifestsRevision: 'abc', etcdRevision: 4711, publisher: 'r-2', term: 99, servers: 3 });
    expect(m.split('\n')[0]).toBe('status at manifests revision abc');
    expect(statusRevisionOf(m)).toBe(4711);
    expect(statusRevisionOf('status at manifests revision abc')).toBeUndefined();
    expect(statusRevisionOf('x\n\nMamori-Status-Revision: -3\n')).toBeUndefined();
    expect(statusRevisionOf('x\n\nMamori-Status-Revision: 12abc\n')).toBeUndefined();
  });

  it('only the leader commits, and only forward of the tip', () => {
    expect(planStatusCommit({ leader: false, tipRevision: undefined, snapshotRevision: 10 })).toBe('skip');
    expect(planStatusCommit({ leader: true, tipRevision: undefined, snapshotRevision: 10 })).toBe('build');
    expect(planStatusCommit({ leader: true, tipRevision: 9, snapshotRevision: 10 })).toBe('build');
    // A paused former publisher (or a retry after another pushed) never commits an older or equal snapshot.
    expect(planStatusCommit({ leader: true, tipRevision: 10, snapshotRevision: 10 })).toBe('skip');
    expect(planStatusCommit({ leader: true, tipRevision: 12, snapshotRevision: 10 })).toBe('skip');
  });
});
