import { describe, expect, test } from 'vitest';
import { getEventListeners } from 'node:events';
import type { Socket } from 'node:net';
import { abortWaiters } from '../../src/probe/abort-fanout.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import { MAX_BYTES, MAX_LINE_BYTES } from '../../src/probe/dialog.ts';
import type { ProbeResult, ProbeTarget, ServiceName } from '../../src/probe/types.ts';
import { fakePeer, keepPeersPerTest, scriptedPeer, type FakePeer } from './fake-peer.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const registry = createProberRegistry({ targets: LAB_TARGETS });
const keep = keepPeersPerTest();


function probe(service: ServiceName, peer: FakePeer, extra: Partial<ProbeTarget> = {}): Promise<ProbeResult> {
  return registry.probe({ service, address: peer.address, port: peer.port, timeoutMs: 2000, ...extra });
}

describe('the real conversations, on IPv4 and IPv6', () => {
  const greetings: Record<string, { greeting: string; answers: Record<string, string>; quit: RegExp; service: ServiceName; peer: string }> = {
    ftp: { service: 'ftp', greeting: '220-Welcome\r\n  to the lab\r\n220 ready\r\n', answers: { QUIT: '221 Goodbye.\r\n' }, quit: /^QUIT/, peer: '220-Welcome' },
    smtp: {
      service: 'smtp',
      greeting: '220 mx.lab ESMTP\r\n',
      answers: { EHLO: '250-mx.lab hello\r\n250-SIZE 1000\r\n250 HELP\r\n', QUIT: '221 bye\r\n' },
      quit: /^QUIT/,
      peer: '220 mx.lab ESMTP',
    },
    pop3: { service: 'pop3', greeting: '+OK Dovecot ready.\r\n', answers: { QUIT: '+OK Logging out\r\n' }, quit: /^QUIT/, peer: '+OK Dovecot ready.' },
    imap: { service: 'imap', greeting: '* OK [CAPABILITY IMAP4rev1] ready.\r\n', answers: { a1: '* BYE\r\na1 OK Logout\r\n' }, quit: /^a1 LOGOUT/, peer: '* OK [CAPABILITY IMAP4rev1] ready.' },
  };
  for (const address of ['127.0.0.1', '::1']) {
    for (const [name, g] of Object.entries(greetings)) {
      test(`${name} on ${address}: up, says what the peer said, leaves no socket open`, async () => {
        const peer = await keep(scriptedPeer(g.greeting, g.answers, g.quit, address));
        const r = await probe(g.service, peer);
        expect(r.failure).toBeUndefined();
        expect(r.up).toBe(true);
        expect(r.peer).toBe(g.peer);
        expect(r.target).toBe(address.includes(':') ? `[::1]:${peer.port}` : `127.0.0.1:${peer.port}`);
        await peer.drained();
      });
    }
  }

  test('smtp greets with a domain name or an address literal (RFC 5321 4.1.4)', async () => {
    for (const address of ['127.0.0.1', '::1']) {
      let ehlo = '';
      const peer = await keep(
        fakePeer((s) => {
          s.setEncoding('latin1');
          s.write('220 mx ESMTP\r\n');
          s.on('data', (d: string) => {
            if (d.startsWith('EHLO')) {
              ehlo = d;
              s.write('250 ok\r\n');
            } else s.end('221 bye\r\n');
          });
        }, address),
      );
      expect((await probe('smtp', peer)).up).toBe(true);
      expect(ehlo).toMatch(address === '::1' ? /^EHLO (\S+\.\S+|\[IPv6:::1\])\r\n$/ : /^EHLO (\S+\.\S+|\[127\.0\.0\.1\])\r\n$/);
    }
  });

  test('smtp: an EHLO refused is a protocol failure in the dialog phase', async () => {
    const peer = await keep(scriptedPeer('220 mx ESMTP\r\n', { EHLO: '554 go away\r\n' }, /^QUIT/));
    const r = await probe('smtp', peer);
    expect(r.up).toBe(false);
    expect(r.failure).toMatchObject({ kind: 'protocol', phase: 'dialog' });
    expect(r.peer).toBe('554 go away');
  });
});

describe('ssh: polite to sshd and fail2ban', () => {
  for (const address of ['127.0.0.1', '::1']) {
    test(`on ${address}: reads the identification, sends ours, closes with FIN (not RST)`, async () => {
      const seen: { received: string; endedCleanly: boolean; error?: string } = { received: '', endedCleanly: false };
      const peer = await keep(
        fakePeer((s: Socket) => {
          s.setEncoding('latin1');
          s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
          s.on('data', (d: string) => {
            seen.received += d;
            // As sshd: once the client identified itself, send a (fake) KEXINIT the probe won't read.
            if (seen.received.includes('\n')) s.write(Buffer.alloc(1200, 7));
          });
          s.on('end', () => {
            seen.endedCleanly = true;
            s.end();
          });
          s.on('error', (err) => {
            seen.error = String(err);
          });
        }, address),
      );
      const r = await probe('ssh', peer);
      expect(r).toMatchObject({ up: true, peer: 'SSH-2.0-OpenSSH_9.2p1 Debian-2' });
      await peer.drained();
      expect(seen.received).toBe('SSH-2.0-mamori_probe\r\n');
      expect(seen.endedCleanly).toBe(true);
      expect(seen.error).toBeUndefined();
    });
  }

  test('text before the identification is allowed (RFC 4253 4.2)', async () => {
    const peer = await keep(fakePeer((s) => s.write('Authorised users only\r\nSSH-2.0-X\r\n')));
    expect(await probe('ssh', peer)).toMatchObject({ up: true, peer: 'SSH-2.0-X' });
  });
});

describe('telnet: survives IAC negotiation', () => {
  test('refuses every option the server offers and is up on negotiation', async () => {
    let answer = Buffer.alloc(0);
    const peer = await keep(
      fakePeer((s) => {
        // IAC DO TERMINAL-TYPE, IAC WILL ECHO, IAC SB ... IAC SE, then a prompt
        s.write(Buffer.from([255, 253, 24, 255, 251, 1, 255, 250, 24, 1, 255, 240]));
        s.on('data', (d: Buffer) => {
          answer = Buffer.concat([answer, d]);
        });
        s.on('end', () => s.end());
      }),
    );
    const r = await probe('telnet', peer);
    expect(r.up).toBe(true);
    await peer.drained();
    expect([...answer]).toEqual([255, 252, 24, 255, 254, 1]);
  });

  test('a telnetd that waits for us is up after a quiet second', async () => {
    const peer = await keep(fakePeer((s) => s.on('end', () => s.end())));
    const r = await probe('telnet', peer);
    expect(r).toMatchObject({ up: true, peer: '(connected, no data)' });
  });

  test('a telnetd that hangs up at once is down (protocol, banner)', async () => {
    const peer = await keep(fakePeer((s) => s.end()));
    expect((await probe('telnet', peer)).failure).toMatchObject({ kind: 'protocol', phase: 'banner' });
  });
});

describe('peers a real daemon cannot imitate', () => {
  test('garbage banner: protocol failure in the banner phase, with what was said', async () => {
    const peer = await keep(fakePeer((s) => s.write('\x00\x01HELLO I am not a mail server\r\n')));
    const r = await probe('smtp', peer);
    expect(r.up).toBe(false);
    expect(r.failure).toMatchObject({ kind: 'protocol', phase: 'banner', message: 'unexpected reply' });
    expect(r.peer).toBe('HELLO I am not a mail server');
    await peer.drained();
  });

  test('stall mid-banner: timeout in the banner phase, within the deadline', async () => {
    const peer = await keep(fakePeer((s) => s.write('220 mx.lab ESM')));
    const t0 = Date.now();
    const r = await probe('smtp', peer, { timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.failure).toMatchObject({ kind: 'timeout', phase: 'banner' });
    expect(r.peer).toBe('220 mx.lab ESM');
    await peer.drained();
  });

  test('stall after connect (no banner at all): timeout in the banner phase', async () => {
    const peer = await keep(fakePeer(() => undefined));
    expect((await probe('ftp', peer, { timeoutMs: 200 })).failure).toMatchObject({ kind: 'timeout', phase: 'banner' });
    await peer.drained();
  });

  test('reset after accept: reset in the banner phase', async () => {
    // A moment after accepting (as a tcpwrapper or a crashing daemon): the probe is waiting for the banner.
    const peer = await keep(fakePeer((s) => setTimeout(() => s.resetAndDestroy(), 30)));
    const r = await probe('pop3', peer);
    expect(r.up).toBe(false);
    expect(r.failure?.kind).toBe('reset');
    expect(r.failure?.phase).toBe('banner');
  });

  test('endless banner without a newline: protocol failure, bounded', async () => {
    const peer = await keep(
      fakePeer((s) => {
        const chunk = Buffer.alloc(16_384, 'A');
        const pump = (): void => {
          while (!s.destroyed && s.write(chunk));
          if (!s.destroyed) s.once('drain', pump);
        };
        pump();
      }),
    );
    const r = await probe('ftp', peer);
    expect(r.failure).toMatchObject({ kind: 'protocol', phase: 'banner', message: `line longer than ${MAX_LINE_BYTES} bytes` });
    expect((r.peer ?? '').length).toBeLessThanOrEqual(200);
    await peer.drained();
  });

  test('endless lines (no identification ever): protocol failure once the byte cap is reached', async () => {
    const peer = await keep(
      fakePeer((s) => {
        const chunk = Buffer.from('not ssh yet\r\n'.repeat(1000));
        const pump = (): void => {
          while (!s.destroyed && s.write(chunk));
          if (!s.destroyed) s.once('drain', pump);
        };
        pump();
      }),
    );
    const r = await probe('ssh', peer);
    expect(r.failure).toMatchObject({ kind: 'protocol', phase: 'banner', message: `peer sent more than ${MAX_BYTES} bytes` });
    await peer.drained();
  });

  test('a peer that floods after the verdict cannot hold the close open', async () => {
    const peer = await keep(
      fakePeer((s) => {
        s.write('+OK ready\r\n');
        s.on('data', () => {
          const chunk = Buffer.alloc(16_384, 'x');
          const pump = (): void => {
            while (!s.destroyed && s.write(chunk));
            if (!s.destroyed) s.once('drain', pump);
          };
          pump();
        });
      }),
    );
    const r = await probe('pop3', peer);
    expect(r.up).toBe(true);
    await peer.drained();
  });

  test('closed before the banner: protocol failure', async () => {
    const peer = await keep(fakePeer((s) => s.end()));
    expect((await probe('imap', peer)).failure).toMatchObject({ kind: 'protocol', phase: 'banner', message: 'connection closed by peer' });
  });

  test('refused port: refused in the connect phase (IPv4 and IPv6)', async () => {
    for (const address of ['127.0.0.1', '::1']) {
      const peer = await fakePeer(() => undefined, address);
      const port = peer.port;
      await peer.close();
      const r = await registry.probe({ service: 'smtp', address, port, timeoutMs: 1000 });
      expect(r.failure).toMatchObject({ kind: 'refused', phase: 'connect' });
    }
  });

  test('an aborted probe resolves with a failure and closes its socket', async () => {
    const peer = await keep(fakePeer(() => undefined));
    const controller = new AbortController();
    const aborted = registry.probe({ service: 'ftp', address: peer.address, port: peer.port, timeoutMs: 5000 }, controller.signal);
    setTimeout(() => controller.abort(), 50);
    expect((await aborted).failure).toMatchObject({ kind: 'error', message: 'probe aborted' });
    await peer.drained();
  });

  test('probes sharing one signal add one abort listener between them, and all end on its abort', async () => {
    const peer = await keep(fakePeer(() => undefined));
    const controller = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const inFlight = Array.from({ length: 40 }, () => registry.probe({ service: 'ftp', address: peer.address, port: peer.port, timeoutMs: 10_000 }, controller.signal));
      await expect.poll(() => peer.open(), { timeout: 5000 }).toBe(40);
      // The signal's own listener list stays at one however many probes wait on it (each one
      // added and removed its own before: a walk of the whole list per probe, and Node's warning past 10).
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      expect(abortWaiters(controller.signal)).toBe(40);
      controller.abort();
      for (const r of await Promise.all(inFlight)) expect(r.failure).toMatchObject({ kind: 'error', message: 'probe aborted' });
      expect(abortWaiters(controller.signal)).toBe(0);
      await peer.drained();
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('a probe that ends leaves the shared signal', async () => {
    const peer = await keep(fakePeer((s) => s.end('220 ready\r\n')));
    const controller = new AbortController();
    await registry.probe({ service: 'ftp', address: peer.address, port: peer.port, timeoutMs: 2000 }, controller.signal);
    expect(abortWaiters(controller.signal)).toBe(0);
  });

  test('a host name is refused without a DNS lookup', async () => {
    const r = await registry.probe({ service: 'ssh', address: 'example.invalid', timeoutMs: 1000 });
    expect(r.failure).toMatchObject({ kind: 'error', phase: 'connect', message: expect.stringMatching(/not an IP address/) });
  });

  test('a bad source address is a result, not an exception', async () => {
    const peer = await keep(fakePeer((s) => s.write('220 x\r\n')));
    const r = await probe('ftp', peer, { sourceAddress: '192.0.2.77' });
    expect(r.up).toBe(false);
    expect(r.failure?.phase).toBe('connect');
  });
});
