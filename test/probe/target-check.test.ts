/**
 * Every connection mamori opens goes through the one target check (src/manifest/target-networks.ts):
 * probes, SSH sessions, the BMC and console/power drivers, and `mamori probe`. Each case has a peer
 * on the loopback that counts what reaches it, and a check whose networks leave the loopback out:
 * nothing may arrive. The same call with the loopback inside reaches the peer (so each test can fail).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMamoriError } from '../../src/errors.ts';
import { targetCheck, type TargetCheck } from '../../src/manifest/target-networks.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import type { ProbeResult } from '../../src/probe/types.ts';
import { consoleChannelFor } from '../../src/runbook/drivers/registry.ts';
import { SshSession } from '../../src/runbook/ssh-session.ts';
import { fakePeer, scriptedPeer, type FakePeer } from './fake-peer.ts';

const LOOPBACK_OUT = targetCheck(['10.231.0.0/16']);
const LOOPBACK_IN = targetCheck(['127.0.0.0/8', '::1/128']);
const bin = fileURLToPath(new URL('../../bin/mamori.js', import.meta.url));

let peers: FakePeer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(peers.map((p) => p.close()));
  peers = [];
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A peer that counts the connections it accepts and answers nothing. */
async function countingPeer(): Promise<FakePeer & { accepted: () => number }> {
  let accepted = 0;
  const peer = await fakePeer((s) => {
    accepted++;
    s.resume();
    s.end();
  });
  peers.push(peer);
  return { ...peer, accepted: () => accepted };
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('probes', () => {
  test('a target outside the networks fails in connect and sends nothing', async () => {
    const peer = await countingPeer();
    const r = await createProberRegistry({ targets: LOOPBACK_OUT }).probe({ service: 'ftp', address: '127.0.0.1', port: peer.port, timeoutMs: 1000 });
    expect(r).toMatchObject({ up: false, target: `127.0.0.1:${peer.port}`, failure: { kind: 'error', phase: 'connect' } });
    expect(r.failure?.message).toMatch(/127\.0\.0\.1 is outside the operator's target networks \(10\.231\.0\.0\/16\)/);
    expect(peer.accepted()).toBe(0);
    await createProberRegistry({ targets: LOOPBACK_IN }).probe({ service: 'ftp', address: '127.0.0.1', port: peer.port, timeoutMs: 1000 });
    expect(peer.accepted()).toBe(1);
  });

  test('IPv4 written as IPv6 is refused whatever the networks', async () => {
    const r = await createProberRegistry({ targets: targetCheck(['0.0.0.0/0', '::/0']) }).probe({ service: 'ping', address: '::ffff:127.0.0.1', timeoutMs: 1000 });
    expect(r.failure).toMatchObject({ kind: 'error', phase: 'connect', message: expect.stringMatching(/IPv4-mapped/) });
  });
});

describe('SSH', () => {
  const session = (port: number, targets: TargetCheck): Promise<SshSession> =>
    SshSession.connect({ host: '127.0.0.1', port, username: 'mamori', hostKey: `SHA256:${'A'.repeat(43)}`, auth: { password: 'x' }, legacyAlgorithms: false, readyTimeoutMs: 1000, targets });

  test('a session to an address outside the networks is refused before any socket', async () => {
    const peer = await countingPeer();
    const err = await refusal(session(peer.port, LOOPBACK_OUT));
    expect(isMamoriError(err, 'MAMORI_TARGET_REFUSED')).toBe(true);
    expect((err as Error).message).toMatch(/^SSH: 127\.0\.0\.1 is outside/);
    expect(peer.accepted()).toBe(0);
    // Inside the networks the same call reaches the peer (which is no SSH server, so it fails later).
    const inside = await refusal(session(peer.port, LOOPBACK_IN));
    expect(isMamoriError(inside, 'MAMORI_TARGET_REFUSED')).toBe(false);
    expect(peer.accepted()).toBe(1);
  });
});

describe('console and power drivers', () => {
  function marker(): { dir: string; file: string } {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-target-'));
    dirs.push(dir);
    return { dir, file: join(dir, 'ran') };
  }

  test('the command driver runs no console or power command for a server outside the networks', async () => {
    const m = marker();
    const profiles = { c: { driver: 'command' as const, console: ['/usr/bin/touch', m.file], power: ['/usr/bin/touch', m.file] } };
    const server = { name: 'web01', address: '127.0.0.1' };
    const out = consoleChannelFor(profiles, 'c', { targets: LOOPBACK_OUT, server, secrets: [] });
    expect(isMamoriError(await refusal(out.console?.run('uptime', { deadlineMs: 5000 }) ?? Promise.resolve()), 'MAMORI_TARGET_REFUSED')).toBe(true);
    expect(isMamoriError(await refusal(out.power?.set('cycle') ?? Promise.resolve()), 'MAMORI_TARGET_REFUSED')).toBe(true);
    expect((await out.console?.check({ deadlineMs: 5000 }))?.detail).toMatch(/outside the operator's target networks/);
    expect(existsSync(m.file)).toBe(false);
    await consoleChannelFor(profiles, 'c', { targets: LOOPBACK_IN, server, secrets: [] }).console?.run('uptime', { deadlineMs: 5000 });
    expect(existsSync(m.file)).toBe(true);
  });

  test('ipmi never calls ipmitool for a BMC outside the networks', async () => {
    const m = marker();
    const fake = join(m.dir, 'ipmitool');
    writeFileSync(fake, `#!/bin/sh\ntouch ${m.file}\necho "Chassis Power is on"\n`);
    chmodSync(fake, 0o755);
    const server = { name: 'web01', address: '10.231.0.11', bmc: '127.0.0.9' };
    const ctx = { server, credentials: 'admin:pw', secrets: [], ipmitool: fake };
    const err = await refusal(consoleChannelFor({ i: { driver: 'ipmi' } }, 'i', { ...ctx, targets: LOOPBACK_OUT }).power?.status() ?? Promise.resolve());
    expect(isMamoriError(err, 'MAMORI_TARGET_REFUSED')).toBe(true);
    expect((err as Error).message).toMatch(/ipmi profile i: the BMC: 127\.0\.0\.9 is outside/);
    expect(existsSync(m.file)).toBe(false);
    expect(await consoleChannelFor({ i: { driver: 'ipmi' } }, 'i', { ...ctx, targets: LOOPBACK_IN }).power?.status()).toBe('on');
    expect(existsSync(m.file)).toBe(true);
  });
});

describe('mamori probe', () => {
  function mamori(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [bin, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
      });
    });
  }

  function configWith(networks: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-target-cli-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'mamori.yaml'), `targetNetworks: [${networks}]\n`);
    return join(dir, 'mamori.yaml');
  }

  test('an address outside the config\'s networks is refused (exit 2), unless --outside-target-networks', async () => {
    const peer = await scriptedPeer('220 ftp\r\n', { QUIT: '221 bye\r\n' }, /^QUIT/);
    peers.push(peer);
    const config = configWith('10.231.0.0/16');
    const refused = await mamori(['probe', '127.0.0.1', '--config', config, '-s', `ftp:${peer.port}`, '--timeout', '2000']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/127\.0\.0\.1 is outside the operator's target networks \(10\.231\.0\.0\/16\).*give --outside-target-networks/);
    expect(refused.stdout).toBe('');
    const allowed = await mamori(['probe', '127.0.0.1', '--config', config, '-s', `ftp:${peer.port}`, '--timeout', '2000', '--outside-target-networks', '--json']);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
    expect((JSON.parse(allowed.stdout) as ProbeResult[])[0]).toMatchObject({ service: 'ftp', up: true });
  });

  test('IPv4 written as IPv6 is refused even with --outside-target-networks', async () => {
    const r = await mamori(['probe', '::ffff:127.0.0.1', '-s', 'ping', '--outside-target-networks']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/IPv4-mapped.*write the IPv4 address itself/);
  });
});
