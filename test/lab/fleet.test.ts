import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, test } from 'vitest';
import { targetCheck } from '../../src/manifest/target-networks.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import type { ServiceName } from '../../src/probe/types.ts';
import { main } from './cli.ts';
import { attachFleet, cleanFleet, fleetLeftovers, fleetRange, startFleet } from './fleet.ts';

// Fleet lab id 155 (the command's default, 154, is for people and the bench): its /16 is
// 10.251.0.0/16 (10.(240 + id mod 16)), apart from the bench's 10.250 and ttr's fleet lanes' 10.253.
const ID = 155;

async function fleetCli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await main(['node', 'lab', '--id', String(ID), 'fleet', ...args], (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

afterAll(async () => {
  await cleanFleet(ID);
});

describe('fleet lab', () => {
  test('up 50: every protocol answers on any address with mamori’s own probes, ICMP by the kernel; faults hit one address only; down leaves nothing', async () => {
    const up = await fleetCli('up', '50', '--sample', '2');
    expect(up.code, up.out).toBe(0);
    expect(fleetRange(ID)).toBe('10.251.0.0/16');
    expect(up.out).toMatch(/^fleet 155 up in \d+ ms: 50 servers 10\.251\.255\.10 … 10\.251\.0\.49 \(route 10\.251\.0\.0\/16\)/m);
    const fleet = await attachFleet(ID);
    expect(fleet.range).toBe('10.251.0.0/16');
    // A fleet whose id shares the /16 (16 apart) is refused while this one is up, leaving this one alone.
    // (Refused before anything is cleaned or made: nothing of id 171 is touched.)
    await expect(startFleet({ id: ID + 16, n: 2 })).rejects.toThrow(/fleet lab 171: its range 10\.251\.0\.0\/16 is routed already \(.*dev mlv155-0/);
    expect(await fleetLeftovers(ID + 16)).toEqual([]);
    const registry = createProberRegistry({
      targets: targetCheck([fleet.range]),
      trust: { ca: [await readFile(fleet.caPath, 'utf8')], systemRoots: false },
    });
    const probe = (service: ServiceName, address: string) => registry.probe({ service, address, timeoutMs: 3_000, ...(service === 'https' ? { host: 'fleet.lab' } : {}) });
    const services: ServiceName[] = ['ping', 'ssh', 'ftp', 'smtp', 'pop3', 'imap', 'telnet', 'http', 'https'];
    // A sample server, the first and the last ordinary ones.
    const addresses = [fleet.address(1), fleet.address(2), fleet.address(49)];
    for (const address of addresses) {
      const results = await Promise.all(services.map((s) => probe(s, address)));
      for (const r of results) expect(r.up, `${r.service} on ${address}: ${JSON.stringify(r.failure)}`).toBe(true);
    }
    const https = await probe('https', fleet.address(3));
    expect(https.up).toBe(true);
    // Connections were counted by the responders (every TCP protocol reached them).
    const counts = await fleet.counts();
    for (const port of [21, 22, 23, 25, 80, 110, 143, 443]) expect(counts[port] ?? 0, `port ${port}`).toBeGreaterThan(0);

    // Faults: a refused port, a dropped address, a killed sample responder, a slow greeting.
    expect((await fleetCli('fault', fleet.address(10), 'refuse', '80')).code).toBe(0);
    expect((await fleetCli('fault', fleet.address(11), 'drop')).code).toBe(0);
    expect((await fleetCli('fault', fleet.address(0), 'kill')).code).toBe(0);
    expect((await fleetCli('fault', fleet.address(12), 'slow', '2000', '22')).code).toBe(0);
    const refused = await probe('http', fleet.address(10));
    expect(refused.up).toBe(false);
    expect(refused.failure?.kind).toBe('refused');
    expect((await probe('ssh', fleet.address(10))).up).toBe(true);
    expect((await probe('ping', fleet.address(11))).up).toBe(false);
    expect((await probe('ping', fleet.address(0))).up).toBe(true); // the kernel still answers
    const killed = await probe('ssh', fleet.address(0));
    expect(killed.failure?.kind).toBe('refused');
    expect((await probe('ssh', fleet.address(1))).up).toBe(true); // the other sample server
    const slow = await registry.probe({ service: 'ssh', address: fleet.address(12), timeoutMs: 1_000 });
    expect(slow.failure?.kind).toBe('timeout');
    expect((await probe('http', fleet.address(12))).up).toBe(true); // slow on port 22 only
    expect((await fleetCli('fault', fleet.address(12), 'kill')).code).not.toBe(0); // not a sample server
    for (const a of [fleet.address(13), fleet.address(48)]) expect((await probe('http', a)).up).toBe(true);

    const status = await fleetCli('status');
    expect(status.out).toMatch(/responders alive: 2 of 3 /);
    expect(status.out).toMatch(/fault 10\.251\.0\.10 +\{"kind":"refuse","port":80\}/);

    expect((await fleetCli('clear')).code).toBe(0);
    for (const [s, a] of [['http', 10], ['ping', 11], ['ssh', 0], ['ssh', 12]] as const) {
      expect((await probe(s, fleet.address(a))).up, `${s} ${fleet.address(a)} after clear`).toBe(true);
    }

    expect((await fleetCli('down')).code).toBe(0);
    expect(await fleetLeftovers(ID)).toEqual([]);
  }, 120_000);
});
