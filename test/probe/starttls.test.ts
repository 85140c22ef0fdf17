import { beforeAll, describe, expect, test } from 'vitest';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { createProberRegistry } from '../../src/probe/registry.ts';
import type { ProbeResult, ProbeTarget, ServiceName } from '../../src/probe/types.ts';
import { LAB_TARGETS } from '../support/targets.ts';
import { fakePeer, fakeTlsPeer, keepPeersPerTest, type FakePeer } from './fake-peer.ts';

/**
 * STARTTLS and implicit TLS against in-process peers that do what a real daemon does (and what
 * one cannot be made to do: refuse after advertising, send bytes before the handshake). The lab
 * test (test/tls/) runs the same dialogs against exim and dovecot.
 */
const DAY = 86_400_000;
const keep = keepPeersPerTest();
let leaf: { key: string; cert: string };
let ca: { key: string; cert: string };
let signed: { key: string; cert: string };

beforeAll(async () => {
  const san = (name: string) => ({ extensions: [{ name: 'subjectAltName' as const, altNames: [{ type: 2 as const, value: name }] }] });
  const a = await generate([{ name: 'commonName', value: 'mail.lab.test' }], { keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 5 * DAY + 3_600_000), ...san('mail.lab.test') });
  leaf = { key: a.private, cert: a.cert };
  const c = await generate([{ name: 'commonName', value: 'Lab Test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 400 * DAY),
    extensions: [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true }],
  });
  ca = { key: c.private, cert: c.cert };
  const s = await generate([{ name: 'commonName', value: 'mail.lab.test' }], { keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 90 * DAY), ca, ...san('mail.lab.test') });
  signed = { key: s.private, cert: s.cert };
});


interface Script {
  greeting: string;
  /** line → reply; `upgrade` marks the command after whose reply TLS starts. */
  answers: Record<string, string>;
  upgrade?: string;
  /** What the peer sends right after the upgrade reply, in clear (an injection attempt). */
  injected?: string;
  pems?: { key: string; cert: string };
}

/** A line server that upgrades the connection in place, as exim and dovecot do. */
function starttlsPeer(script: Script, seen: string[] = []): Promise<FakePeer> {
  return fakePeer((raw) => {
    const pems = script.pems ?? leaf;
    const serve = (s: Socket | TLSSocket, secure: boolean): void => {
      s.setEncoding('latin1');
      let buffer = '';
      const onData = (chunk: string): void => {
        buffer += chunk;
        let nl = buffer.indexOf('\n');
        while (nl !== -1) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          seen.push(`${secure ? 'tls' : 'clear'}:${line}`);
          const reply = script.answers[line] ?? script.answers['*'] ?? '500 what\r\n';
          if (/^(QUIT|a\d LOGOUT)$/.test(line)) {
            s.end(reply);
            return;
          }
          s.write(reply + (line === script.upgrade && !secure && script.injected !== undefined ? script.injected : ''));
          if (line === script.upgrade && !secure) {
            s.removeListener('data', onData);
            const t = new TLSSocket(s as Socket, { isServer: true, key: pems.key, cert: pems.cert });
            t.on('error', () => undefined);
            serve(t, true);
            return;
          }
          nl = buffer.indexOf('\n');
        }
      };
      s.on('data', onData);
      s.on('end', () => s.end());
    };
    raw.write(script.greeting);
    serve(raw, false);
  });
}

const registry = createProberRegistry({ targets: LAB_TARGETS });
function probe(service: ServiceName, peer: FakePeer, extra: Partial<ProbeTarget> = {}): Promise<ProbeResult> {
  return registry.probe({ service, address: peer.address, port: peer.port, timeoutMs: 3000, starttls: true, ...extra });
}

const SMTP: Script = {
  greeting: '220 mail.lab.test ESMTP\r\n',
  answers: { STARTTLS: '220 2.0.0 Ready to start TLS\r\n', QUIT: '221 bye\r\n', '*': '250-mail.lab.test\r\n250-STARTTLS\r\n250 HELP\r\n' },
  upgrade: 'STARTTLS',
};

describe('STARTTLS: the upgrade is tried, the certificate observed, never enforced', () => {
  test('smtp: EHLO, STARTTLS, TLS, EHLO again inside; up with the certificate facts', async () => {
    const seen: string[] = [];
    const peer = await keep(starttlsPeer(SMTP, seen));
    const r = await probe('smtp', peer, { host: 'mail.lab.test' });
    expect(r.up).toBe(true);
    expect(seen.map((l) => l.replace(/^(\w+:EHLO) .*/, '$1'))).toEqual(['clear:EHLO', 'clear:STARTTLS', 'tls:EHLO', 'tls:QUIT']);
    expect(r.tls).toMatchObject({ selfSigned: true, authorized: false, chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT', names: ['mail.lab.test'], checkedName: 'mail.lab.test', daysToExpiry: 5 });
    expect(r.tls?.nameError).toBeUndefined();
    expect(r.tls?.issuer).toContain('CN=mail.lab.test');
    expect(r.tls?.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(Date.parse(r.tls?.notAfter ?? '') - Date.now()).toBeGreaterThan(5 * DAY);
    await peer.drained();
  });

  test('smtp without starttls in the manifest: no STARTTLS is sent, no certificate', async () => {
    const seen: string[] = [];
    const peer = await keep(starttlsPeer(SMTP, seen));
    const r = await probe('smtp', peer, { starttls: false });
    expect(r.up).toBe(true);
    expect(r.tls).toBeUndefined();
    expect(seen.some((l) => l.includes('STARTTLS'))).toBe(false);
  });

  test('a refused STARTTLS is a failed probe in phase starttls', async () => {
    const peer = await keep(starttlsPeer({ ...SMTP, answers: { ...SMTP.answers, STARTTLS: '454 4.7.0 TLS not available due to local problem\r\n' }, upgrade: undefined }));
    const r = await probe('smtp', peer);
    expect(r).toMatchObject({ up: false, failure: { kind: 'protocol', phase: 'starttls', message: 'STARTTLS refused' }, peer: '454 4.7.0 TLS not available due to local problem' });
  });

  test('a failed handshake after the yes is a failed probe in phase tls', async () => {
    // The server says yes, then speaks clear text instead of TLS.
    const peer = await keep(fakePeer((s) => {
      s.setEncoding('latin1');
      s.write('220 x ESMTP\r\n');
      s.on('data', (d: string) => {
        if (d.startsWith('EHLO')) s.write('250 x\r\n');
        else if (d.startsWith('STARTTLS')) s.write('220 go\r\n');
        else s.end('500 garbage where a ServerHello belongs\r\n');
      });
    }));
    const r = await probe('smtp', peer);
    expect(r).toMatchObject({ up: false, failure: { kind: 'tls', phase: 'tls' } });
  });

  test('bytes after the STARTTLS reply, before TLS, are refused (response injection, RFC 3207 §5)', async () => {
    const peer = await keep(starttlsPeer({ ...SMTP, injected: '250 injected\r\n' }));
    const r = await probe('smtp', peer);
    expect(r).toMatchObject({ up: false, failure: { kind: 'protocol', phase: 'starttls' } });
  });

  test('pop3 STLS then CAPA inside TLS', async () => {
    const seen: string[] = [];
    const peer = await keep(starttlsPeer({ greeting: '+OK Dovecot ready.\r\n', answers: { STLS: '+OK Begin TLS negotiation now.\r\n', CAPA: '+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n', QUIT: '+OK Logging out\r\n' }, upgrade: 'STLS' }, seen));
    const r = await probe('pop3', peer);
    expect(r.up).toBe(true);
    expect(seen).toEqual(['clear:STLS', 'tls:CAPA', 'tls:QUIT']);
    expect(r.tls?.selfSigned).toBe(true);
  });

  test('imap STARTTLS (untagged lines skipped) then NOOP inside TLS', async () => {
    const seen: string[] = [];
    const peer = await keep(starttlsPeer({
      greeting: '* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n',
      answers: { 'a1 STARTTLS': '* CAPABILITY IMAP4rev1\r\na1 OK Begin TLS negotiation now.\r\n', 'a2 NOOP': 'a2 OK NOOP completed.\r\n', 'a3 LOGOUT': '* BYE\r\na3 OK\r\n' },
      upgrade: 'a1 STARTTLS',
    }, seen));
    const r = await probe('imap', peer);
    expect(r.up).toBe(true);
    expect(seen).toEqual(['clear:a1 STARTTLS', 'tls:a2 NOOP', 'tls:a3 LOGOUT']);
  });

  test('imap refused: a1 BAD is a failed probe in phase starttls', async () => {
    const peer = await keep(starttlsPeer({ greeting: '* OK ready\r\n', answers: { 'a1 STARTTLS': 'a1 BAD TLS support isn\'t enabled.\r\n' } }));
    expect((await probe('imap', peer)).failure).toMatchObject({ kind: 'protocol', phase: 'starttls', message: 'STARTTLS refused' });
  });

  test('ftp AUTH TLS then NOOP inside TLS', async () => {
    const seen: string[] = [];
    const peer = await keep(starttlsPeer({ greeting: '220 (vsFTPd 3.0.3)\r\n', answers: { 'AUTH TLS': '234 Proceed with negotiation.\r\n', NOOP: '200 NOOP ok.\r\n', QUIT: '221 Goodbye.\r\n' }, upgrade: 'AUTH TLS' }, seen));
    const r = await probe('ftp', peer);
    expect(r.up).toBe(true);
    expect(seen).toEqual(['clear:AUTH TLS', 'tls:NOOP', 'tls:QUIT']);
  });

  test('a name the certificate does not carry is a name error, still up', async () => {
    const peer = await keep(starttlsPeer(SMTP));
    const r = await probe('smtp', peer, { host: 'www.other.test' });
    expect(r.up).toBe(true);
    expect(r.tls).toMatchObject({ authorized: false, checkedName: 'www.other.test', nameError: "www.other.test is not among the certificate's names" });
  });
});

describe('trust: the system roots, or a CA the operator names', () => {
  test('a certificate from the operator\'s CA verifies; without the CA it does not', async () => {
    const peer = await keep(starttlsPeer({ ...SMTP, pems: signed }));
    const trusting = createProberRegistry({ targets: LAB_TARGETS, trust: { ca: [ca.cert] } });
    const target: ProbeTarget = { service: 'smtp', address: peer.address, port: peer.port, timeoutMs: 3000, starttls: true, host: 'mail.lab.test' };
    const ok = await trusting.probe(target);
    expect(ok.tls).toMatchObject({ authorized: true, selfSigned: false, issuer: 'CN=Lab Test CA' });
    expect(ok.tls?.chainError).toBeUndefined();
    const plain = await registry.probe(target);
    expect(plain.tls).toMatchObject({ authorized: false, chainError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });
});

describe('implicit TLS: smtps, pop3s, imaps speak TLS from the first byte', () => {
  const cases: Array<[ServiceName, string, Record<string, string>]> = [
    ['smtps', '220 mail ESMTP\r\n', { QUIT: '221 bye\r\n', '*': '250 mail\r\n' }],
    ['pop3s', '+OK ready\r\n', { CAPA: '+OK\r\nUSER\r\n.\r\n', QUIT: '+OK bye\r\n' }],
    ['imaps', '* OK ready\r\n', { 'a2 NOOP': 'a2 OK done\r\n', 'a1 LOGOUT': '* BYE\r\na1 OK\r\n' }],
  ];
  test.each(cases)('%s: up with the certificate', async (service, greeting, answers) => {
    const seen: string[] = [];
    const peer = await keep(fakeTlsPeer({ key: leaf.key, cert: leaf.cert }, (s) => {
      s.setEncoding('latin1');
      s.write(greeting);
      let buffer = '';
      s.on('data', (d: string) => {
        buffer += d;
        let nl = buffer.indexOf('\n');
        while (nl !== -1) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          seen.push(line);
          const reply = answers[line] ?? answers['*'] ?? '-ERR\r\n';
          if (/^(QUIT|a1 LOGOUT)$/.test(line)) s.end(reply);
          else s.write(reply);
          nl = buffer.indexOf('\n');
        }
      });
    }));
    const r = await registry.probe({ service, address: peer.address, port: peer.port, timeoutMs: 3000 });
    expect(r.up).toBe(true);
    expect(r.tls).toMatchObject({ selfSigned: true, daysToExpiry: 5 });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    await peer.drained();
  });

  test('smtps against a clear-text server: a failed probe in phase tls', async () => {
    const peer = await keep(fakePeer((s) => s.end('220 clear text ESMTP\r\n')));
    const r = await registry.probe({ service: 'smtps', address: peer.address, port: peer.port, timeoutMs: 3000 });
    expect(r).toMatchObject({ up: false, failure: { kind: 'tls', phase: 'tls' } });
  });
});
