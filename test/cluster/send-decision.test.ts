import { describe, expect, it } from 'vitest';
import { ownerOf } from '../../src/cluster/rendezvous.ts';
import { adoptable, judgeSend, type SendView } from '../../src/cluster/send-decision.ts';

const ME = { replica: 'r-1', lease: '100' };
const NOW = 1_000_000;
const IN_DOUBT = 60_000;

describe('judgeSend: one send per notification across replicas', () => {
  it.each<[string, SendView, ReturnType<typeof judgeSend>]>([
    ['nothing recorded (etcd was out at notify time, or a digest): send, taking the holder', {}, { kind: 'send', takeHolder: true }],
    ['recorded by this lease: send', { open: {}, holder: { replica: 'r-1', lease: '100' } }, { kind: 'send', takeHolder: false }],
    ['settled by another replica: never again', { open: {}, done: { state: 'sent', by: 'r-2' } }, { kind: 'done', state: 'sent', by: 'r-2' }],
    ['settled even while a holder key lingers', { holder: { replica: 'r-1', lease: '100' }, done: { state: 'failed', by: 'r-1' } }, { kind: 'done', state: 'failed', by: 'r-1' }],
    ['held by another live lease: not here', { open: {}, holder: { replica: 'r-2', lease: '200' } }, { kind: 'held', by: 'r-2' }],
    ['held by this replica\'s previous lease (a restart within the TTL): not yet', { open: {}, holder: { replica: 'r-1', lease: '99' } }, { kind: 'held', by: 'r-1' }],
    ['holder gone, never begun (killed between deciding and sending): send at once', { open: {} }, { kind: 'send', takeHolder: true }],
    [
      'holder gone mid-send, within the in-doubt window: wait',
      { open: { sending: { by: 'r-2', lease: '200', at: NOW - 10_000 } } },
      { kind: 'wait', until: NOW - 10_000 + IN_DOUBT, by: 'r-2' },
    ],
    [
      'holder gone mid-send, past the window: send again (at least once)',
      { open: { sending: { by: 'r-2', lease: '200', at: NOW - IN_DOUBT } } },
      { kind: 'send', takeHolder: true, resend: { by: 'r-2', lease: '200', at: NOW - IN_DOUBT } },
    ],
    [
      'own sending mark under this lease (a temporary failure not released): send',
      { open: { sending: { by: 'r-1', lease: '100', at: NOW - 1 } }, holder: { replica: 'r-1', lease: '100' } },
      { kind: 'send', takeHolder: false },
    ],
  ])('%s', (_name, view, verdict) => {
    expect(judgeSend(view, ME, NOW, IN_DOUBT)).toEqual(verdict);
  });

  it('two replicas judging the same record never both send: the holder decides', () => {
    const view: SendView = { open: {}, holder: { replica: 'r-2', lease: '200' } };
    const a = judgeSend(view, { replica: 'r-1', lease: '100' }, NOW, IN_DOUBT);
    const b = judgeSend(view, { replica: 'r-2', lease: '200' }, NOW, IN_DOUBT);
    expect([a.kind, b.kind].filter((k) => k === 'send')).toEqual(['send']);
  });
});

describe('adoptable: a gone replica\'s open records go to their server\'s owner now', () => {
  const members = ['r-1', 'r-2', 'r-3'];
  const owner = (key: string): string | undefined => ownerOf(key, members);
  const servers = Array.from({ length: 30 }, (_, i) => `acme/web${i}`);
  const open = servers.map((s, i) => ({ key: `k${i}`, owner: s }));

  it('each orphan is adopted by exactly one live replica, the owner of its server', () => {
    const taken = members.flatMap((m) => adoptable(open, new Set(), m, owner).map((r) => [r.key, m] as const));
    expect(taken.map(([k]) => k).sort()).toEqual(open.map((r) => r.key).sort());
    for (const [k, m] of taken) expect(owner(open.find((r) => r.key === k)!.owner)).toBe(m);
  });

  it('a record whose holder is alive is nobody\'s to adopt', () => {
    const held = new Set(open.map((r) => r.key));
    for (const m of members) expect(adoptable(open, held, m, owner)).toEqual([]);
  });

  it('a fleet-wide notification (no server) goes to one replica too', () => {
    const fleet = [{ key: 'f', owner: 'notify:rev-abc:revision-refused' }];
    expect(members.flatMap((m) => adoptable(fleet, new Set(), m, owner))).toHaveLength(1);
  });
});
