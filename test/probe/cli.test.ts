import { afterEach, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProbeResult } from '../../src/probe/types.ts';
import { fakePeer, scriptedPeer, type FakePeer } from './fake-peer.ts';

const bin = fileURLToPath(new URL('../../bin/mamori.js', import.meta.url));
let peers: FakePeer[] = [];
afterEach(async () => {
  await Promise.all(peers.map((p) => p.close()));
  peers = [];
});

function mamori(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('mamori probe ADDRESS', () => {
  test('all named services up: exit 0, JSON results', async () => {
    const smtp = await scriptedPeer('220 mx ESMTP\r\n', { EHLO: '250 hi\r\n', QUIT: '221 bye\r\n' }, /^QUIT/);
    const pop3 = await scriptedPeer('+OK ready\r\n', { QUIT: '+OK bye\r\n' }, /^QUIT/);
    peers.push(smtp, pop3);
    const r = await mamori(['probe', '127.0.0.1', '--service', `smtp:${smtp.port}`, '-s', `pop3:${pop3.port}`, '--json', '--timeout', '2000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout) as ProbeResult[];
    expect(results.map((x) => [x.service, x.up, x.peer])).toEqual([
      ['smtp', true, '220 mx ESMTP'],
      ['pop3', true, '+OK ready'],
    ]);
  });

  test('any service down: exit 1, the table says why', async () => {
    const ftp = await scriptedPeer('220 ftp\r\n', { QUIT: '221 bye\r\n' }, /^QUIT/, '::1');
    const closed = await fakePeer(() => undefined, '::1');
    const deadPort = closed.port;
    await closed.close();
    peers.push(ftp);
    const r = await mamori(['probe', '::1', '--service', `ftp:${ftp.port},imap:${deadPort}`, '--timeout', '2000']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^ftp\\s+\\[::1\\]:${ftp.port}\\s+up\\s`));
    expect(lines[1]).toMatch(new RegExp(`^imap\\s+\\[::1\\]:${deadPort}\\s+DOWN\\s.*refused \\(connect\\)`));
  });

  test.each([
    [['probe', '127.0.0.1', '--service', 'gopher'], /unknown service "gopher"/],
    [['probe', '127.0.0.1', '--service', 'smtp:99999'], /bad port in "smtp:99999"/],
    [['probe', '127.0.0.1', '--service', 'ping:7'], /ping has no port/],
    [['probe', '127.0.0.1', '--timeout', 'soon'], /--timeout must be/],
    [['probe', 'web01', '--manifests', '/nonexistent-mamori'], /no manifests folder/],
    [['probe'], /missing required argument/],
  ])('usage error %j: exit 2', async (args, message) => {
    const r = await mamori(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
