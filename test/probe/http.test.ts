import { beforeAll, describe, expect, test } from 'vitest';
import { generate } from 'selfsigned';
import { createProberRegistry } from '../../src/probe/registry.ts';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.ts';
import { fakePeer, fakeTlsPeer, keepPeersPerTest, type FakePeer } from './fake-peer.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const registry = createProberRegistry({ targets: LAB_TARGETS });
const keep = keepPeersPerTest();
const DAY = 86_400_000;


/** A minimal HTTP/1.1 server on a raw socket: records the request, answers with `status`. */
function httpPeer(status: string, seen: string[] = [], address = '127.0.0.1'): Promise<FakePeer> {
  return fakePeer((s) => {
    s.setEncoding('latin1');
    let req = '';
    s.on('data', (d: string) => {
      req += d;
      if (req.includes('\r\n\r\n')) {
        seen.push(req);
        s.end(`HTTP/1.1 ${status}\r\nServer: fake\r\nContent-Length: 12\r\nConnection: close\r\n\r\n`);
      }
    });
  }, address);
}

function probe(service: 'http' | 'https', peer: FakePeer, extra: Partial<ProbeTarget> = {}): Promise<ProbeResult> {
  return registry.probe({ service, address: peer.address, port: peer.port, timeoutMs: 2000, ...extra });
}

describe('http: HEAD, any reply is up', () => {
  for (const address of ['127.0.0.1', '::1']) {
    test(`on ${address}: HEAD with Host and path, Connection: close`, async () => {
      const seen: string[] = [];
      const peer = await keep(httpPeer('200 OK', seen, address));
      const r = await probe('http', peer, { host: 'www.example.test', path: '/health' });
      expect(r).toMatchObject({ up: true, peer: 'HTTP/1.1 200 OK' });
      expect(seen[0]).toMatch(/^HEAD \/health HTTP\/1\.1\r\nHost: www\.example\.test:\d+\r\n/);
      expect(seen[0]).toContain('Connection: close\r\n');
      await peer.drained();
    });
  }

  test('a 503 is up (the seed: HEAD could be fetched) with a warning', async () => {
    const peer = await keep(httpPeer('503 Service Unavailable'));
    const r = await probe('http', peer);
    expect(r.up).toBe(true);
    expect(r.warnings).toEqual(['HTTP status 503']);
  });

  test('expectStatus is opt-in: a status outside it is a protocol failure', async () => {
    const peer = await keep(httpPeer('404 Not Found'));
    const r = await probe('http', peer, { expectStatus: [200, 301] });
    expect(r.failure).toMatchObject({ kind: 'protocol', phase: 'response', message: 'status not in [200, 301]' });
    expect(r.peer).toBe('HTTP/1.1 404 Not Found');
    expect((await probe('http', peer, { expectStatus: [404] })).up).toBe(true);
  });

  test('a reply that is not HTTP is a protocol failure', async () => {
    const peer = await keep(fakePeer((s) => s.end('SSH-2.0-OpenSSH\r\n')));
    expect((await probe('http', peer)).failure).toMatchObject({ kind: 'protocol', phase: 'response' });
  });

  test('a header value from a manifest cannot inject a header', async () => {
    const seen: string[] = [];
    const peer = await keep(httpPeer('200 OK', seen));
    await probe('http', peer, { host: 'a.test\r\nX-Evil: 1', path: '/x y\r\n' });
    expect(seen[0]).not.toContain('X-Evil: 1\r\n');
    expect(seen[0]).toMatch(/^HEAD \/xy HTTP\/1\.1\r\n/);
  });
});

describe('https: certificates are observed, not enforced', () => {
  let valid: { key: string; cert: string };
  let expired: { key: string; cert: string };

  beforeAll(async () => {
    const attrs = [{ name: 'commonName', value: 'lab.test' }];
    const ext = { extensions: [{ name: 'subjectAltName' as const, altNames: [{ type: 2 as const, value: 'lab.test' }, { type: 7 as const, ip: '127.0.0.1' }] }] };
    const a = await generate(attrs, { keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 200 * DAY), ...ext });
    valid = { key: a.private, cert: a.cert };
    const b = await generate(attrs, { keyType: 'ec', algorithm: 'sha256', notBeforeDate: new Date(Date.now() - 400 * DAY), notAfterDate: new Date(Date.now() - 3 * DAY), ...ext });
    expired = { key: b.private, cert: b.cert };
  });

  function tlsHttpPeer(pems: { key: string; cert: string }, address = '127.0.0.1'): Promise<FakePeer> {
    return fakeTlsPeer(pems, (s) => {
      s.on('data', () => s.end('HTTP/1.0 200 OK\r\n\r\n'));
    }, address);
  }

  for (const address of ['127.0.0.1', '::1']) {
    test(`self-signed on ${address}: up, with the certificate and a warning`, async () => {
      const peer = await keep(tlsHttpPeer(valid, address));
      const r = await probe('https', peer, { host: 'lab.test' });
      expect(r.up).toBe(true);
      expect(r.peer).toBe('HTTP/1.0 200 OK');
      expect(r.tls).toMatchObject({ selfSigned: true, authorized: false });
      expect(r.tls?.daysToExpiry).toBeGreaterThanOrEqual(198);
      expect(r.tls?.subject).toContain('CN=lab.test');
      expect(r.warnings).toContain('certificate is self-signed');
      await peer.drained();
    });
  }

  test('expired: up, warned, days to expiry negative', async () => {
    const peer = await keep(tlsHttpPeer(expired));
    const r = await probe('https', peer);
    expect(r.up).toBe(true);
    expect(r.tls?.daysToExpiry).toBeLessThan(0);
    expect(r.tls?.authorized).toBe(false);
    expect(r.warnings?.some((w) => /^certificate expired 3 day\(s\) ago$/.test(w))).toBe(true);
  });

  test('TLS handshake failure (the peer speaks no TLS): tls in the tls phase', async () => {
    const peer = await keep(fakePeer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'))));
    const r = await probe('https', peer);
    expect(r.up).toBe(false);
    expect(r.failure).toMatchObject({ kind: 'tls', phase: 'tls' });
    await peer.drained();
  });

  test('TLS handshake failure (the peer hangs up mid-handshake): tls in the tls phase', async () => {
    const peer = await keep(fakePeer((s) => s.once('data', () => s.destroy())));
    expect((await probe('https', peer)).failure).toMatchObject({ kind: 'tls', phase: 'tls' });
  });

  test('TLS handshake stalls: timeout in the tls phase', async () => {
    const peer = await keep(fakePeer(() => undefined));
    expect((await probe('https', peer, { timeoutMs: 300 })).failure).toMatchObject({ kind: 'timeout', phase: 'tls' });
    await peer.drained();
  });
});
