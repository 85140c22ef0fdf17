import { beforeAll, describe, expect, test } from 'vitest';
import { generate } from 'selfsigned';
import { createProberRegistry } from '../../src/probe/registry.ts';
import { dialogSocketCounts, MAX_IDLE_SOCKETS } from '../../src/probe/dialog.ts';
import type { ProbeResult, ProbeTarget, ServiceName } from '../../src/probe/types.ts';
import { fakePeer, fakeTlsPeer, keepPeersPerTest, scriptedPeer, type FakePeer } from './fake-peer.ts';
import { LAB_TARGETS } from '../support/targets.ts';

/**
 * A closed probe socket connects again for the next probe (src/probe/dialog.ts, takeSocket): at
 * 10,000 servers a new socket a probe filled the old generation with dead ones. What is proven
 * here is that reuse happens, that it is bounded, and that a socket used again carries nothing of
 * its last connection: every probe's verdict is the one it would have had on a new socket.
 */
const registry = createProberRegistry({ targets: LAB_TARGETS });
const keep = keepPeersPerTest();


function probe(service: ServiceName, peer: FakePeer, extra: Partial<ProbeTarget> = {}): Promise<ProbeResult> {
  return registry.probe({
    service,
    address: peer.address,
    port: peer.port,
    timeoutMs: 2000,
    ...extra,
  });
}

/** A closed socket returns to the pool on its 'close' event, a turn or two after the verdict. */
async function settled(): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
}

const ftpGreeting = '220 ready\r\n';
const ftpAnswers = { QUIT: '221 Goodbye.\r\n' };

describe('probe sockets connect again once closed', () => {
  test('a hundred probes in a row make one socket between them', async () => {
    const peer = await keep(scriptedPeer(ftpGreeting, ftpAnswers, /^QUIT/));
    await probe('ftp', peer);
    await settled();
    const before = dialogSocketCounts();
    for (let i = 0; i < 100; i++) {
      const r = await probe('ftp', peer);
      expect(r.up).toBe(true);
      await settled();
    }
    expect(dialogSocketCounts().made - before.made).toBe(0);
    await peer.drained();
  });

  test('the pool is bounded: many probes at once keep at most MAX_IDLE_SOCKETS', async () => {
    const peer = await keep(scriptedPeer(ftpGreeting, ftpAnswers, /^QUIT/));
    const results = await Promise.all(Array.from({ length: MAX_IDLE_SOCKETS + 44 }, () => probe('ftp', peer)));
    expect(results.every((r) => r.up)).toBe(true);
    await settled();
    expect(dialogSocketCounts().idle).toBe(MAX_IDLE_SOCKETS);
    await peer.drained();
  });

  test('a socket used again carries nothing of its last connection', async () => {
    const good = await keep(scriptedPeer('220 mx.lab ESMTP\r\n', { EHLO: '250 ok\r\n', QUIT: '221 bye\r\n' }, /^QUIT/));
    // Half a line left unread; a reset; a refused port; a peer that floods after the verdict.
    const stalled = await keep(fakePeer((s) => s.write('220 half a ban')));
    const resets = await keep(fakePeer((s) => setTimeout(() => s.resetAndDestroy(), 20)));
    const floods = await keep(
      fakePeer((s) => {
        s.write('220 flood ESMTP\r\n');
        s.on('data', () => {
          const chunk = Buffer.alloc(8192, 'x');
          for (let i = 0; i < 16 && !s.destroyed; i++) s.write(chunk);
        });
      }),
    );
    const refused = { ...good, port: 1 };
    const cases: Array<[FakePeer, Partial<ProbeTarget>, (r: ProbeResult) => void]> = [
      [stalled, { timeoutMs: 200 }, (r) => expect(r.failure).toMatchObject({ kind: 'timeout', phase: 'banner' })],
      [resets, {}, (r) => expect(r.failure?.kind).toBe('reset')],
      [refused, {}, (r) => expect(r.failure).toMatchObject({ kind: 'refused', phase: 'connect' })],
      [floods, {}, (r) => expect(r.up).toBe(false)],
    ];
    for (const [bad, extra, judge] of cases) {
      await settled();
      const before = dialogSocketCounts();
      judge(await probe('smtp', bad, extra));
      await settled();
      // The socket of the failed probe is the one the next probe takes (the pool is a stack).
      expect(dialogSocketCounts().idle).toBeGreaterThanOrEqual(Math.min(before.idle, 1));
      const made = dialogSocketCounts().made;
      const r = await probe('smtp', good);
      expect(dialogSocketCounts().made).toBe(made);
      expect(r.failure).toBeUndefined();
      expect(r.up).toBe(true);
      expect(r.peer).toBe('220 mx.lab ESMTP');
      expect(r.target).toBe(`127.0.0.1:${good.port}`);
    }
    await good.drained();
  });

  test('probes at once each read their own peer: the one read buffer they share carries nothing across', async () => {
    // Fifty peers, each with its own banner sent in two pieces, so that reads of different probes interleave.
    const peers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        keep(
          fakePeer((s) => {
            s.write(`220 peer-${i} `);
            setTimeout(() => s.destroyed || s.write(`${'x'.repeat(i)} ready\r\n`), 5 + (i % 7));
            s.on('data', (d) => /^QUIT/.test(d.toString()) && s.end('221 bye\r\n'));
          }),
        ),
      ),
    );
    const results = await Promise.all(peers.map((p) => probe('ftp', p)));
    expect(results.map((r) => r.peer)).toEqual(peers.map((_, i) => `220 peer-${i} ${'x'.repeat(i)} ready`));
  });

  test('IPv4 and IPv6 take turns on one socket', async () => {
    const v4 = await keep(scriptedPeer(ftpGreeting, ftpAnswers, /^QUIT/, '127.0.0.1'));
    const v6 = await keep(scriptedPeer('220 six\r\n', ftpAnswers, /^QUIT/, '::1'));
    for (let i = 0; i < 5; i++) {
      const a = await probe('ftp', v4);
      await settled();
      const b = await probe('ftp', v6, { sourceAddress: '::1' });
      await settled();
      expect([a.up, a.peer, b.up, b.peer]).toEqual([true, '220 ready', true, '220 six']);
      expect(b.target).toBe(`[::1]:${v6.port}`);
    }
  });
});

describe('TLS never reuses the socket under it', () => {
  let pems: { key: string; cert: string };
  beforeAll(async () => {
    const a = await generate([{ name: 'commonName', value: 'lab.test' }], {
      keyType: 'ec',
      algorithm: 'sha256',
    });
    pems = { key: a.private, cert: a.cert };
  });

  test('an https probe, up or failed in its handshake, neither takes from the pool nor adds to it', async () => {
    const tlsPeer = await keep(fakeTlsPeer(pems, (s) => s.on('data', () => s.end('HTTP/1.0 200 OK\r\n\r\n'))));
    const plain = await keep(fakePeer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'))));
    // A kept socket in the pool, so that taking one would show.
    const ftp = await keep(scriptedPeer(ftpGreeting, ftpAnswers, /^QUIT/));
    expect((await probe('ftp', ftp)).up).toBe(true);
    await settled();
    const { idle, made } = dialogSocketCounts();
    expect(idle).toBeGreaterThan(0);
    const up = await probe('https', tlsPeer);
    expect(up.up).toBe(true);
    const refused = await probe('https', plain);
    expect(refused.failure).toMatchObject({ kind: 'tls', phase: 'tls' });
    await settled();
    // Each made a socket of its own (TLS reads through the stream of the socket under it), and
    // neither was kept.
    expect(dialogSocketCounts()).toEqual({ made: made + 2, idle });
    // A plain probe after them is on a socket untouched by TLS.
    expect((await probe('ftp', ftp)).peer).toBe('220 ready');
  });
});
