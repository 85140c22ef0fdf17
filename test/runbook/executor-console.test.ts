/**
 * The other channel (lab id 8): sshd restarted from the console, a powered-off host powered
 * on through its BMC (ipmi_sim) and verified, a host alive with its link pulled escalated
 * without any power action, a hung host power-cycled, the manual profile, and the BMC
 * password kept off every command line.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ServiceName } from '../../src/manifest/types.ts';
import { consoleChannelFor } from '../../src/runbook/drivers/registry.ts';
import { createExecutor } from '../../src/runbook/executor.ts';
import type { Transcript } from '../../src/runbook/execution.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { labProfiles, labSecrets, labServer, outsideProbe, resolverOf, standardRunbook } from './executor-lab.ts';
import { LAB_TARGETS } from '../support/targets.ts';

let lab: Lab;
let secrets: Map<string, string>;

beforeAll(async () => {
  lab = await startLab({ id: 8, hosts: [{ name: 'a' }, { name: 'b' }] });
  secrets = await labSecrets(lab);
});

afterAll(async () => {
  await lab?.stop();
});

async function execute(hostName: string, service: ServiceName, rbName: string, profile: string): Promise<Transcript> {
  const host = lab.host(hostName);
  const server = labServer(lab, host, { consoleProfile: profile });
  const runbook = await standardRunbook(rbName, server, service);
  const profiles = { ...labProfiles(lab), hung: { driver: 'ipmi' as const, cipherSuite: 3, consoleCommand: ['/bin/false', '{{command}}'] } };
  return createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets), consoleProfiles: profiles, verifyIntervalMs: 500 }).execute({ server, runbook, probe: outsideProbe(server) });
}

async function initPid(hostName: string): Promise<string> {
  return (await readFile(join(lab.host(hostName).dir, 'init.pid'), 'utf8')).trim();
}

const step = (t: Transcript, id: string) => t.steps.find((s) => s.id === id);

describe('the console and the power button', () => {
  test('sshd killed: the console restarts it with the seed command, and SSH answers again', async () => {
    await lab.breakService('a', 'sshd');
    const t = await execute('a', 'ssh', 'std-sshd-el-sysv', 'lab-console');
    expect(t.verdict).toBe('Recovered');
    expect(step(t, 'console-look')?.outcome).toBe('ok');
    const restart = step(t, 'restart-sshd');
    expect(restart?.command).toBe('/etc/init.d/sshd restart');
    expect(restart?.exitCode).toBe(0);
    expect(step(t, 'confirm')?.outcome).toBe('ok');
    expect(t.evidence).toMatchObject({ processRunning: true, localConnect: true, outsideProbe: true });
    expect(t.powerActions).toEqual([]);
  });

  test('host powered off: powered on through the ipmi driver against the BMC, then ping and SSH verified', async () => {
    await lab.power('a', 'off');
    const t = await execute('a', 'ping', 'std-ping', 'lab-ipmi');
    expect(t.verdict).toBe('Recovered');
    expect(step(t, 'console-look')?.outcome).toBe('failed');
    expect(step(t, 'power-recover')?.note).toMatch(/power was off; power on sent; power is on/);
    expect(t.powerActions).toEqual(['on']);
    expect(step(t, 'back-up')?.note).toMatch(/ping answers from mamori.*ssh answers from mamori/);
    expect(await lab.power('a', 'status')).toBe('on');
    await lab.waitReady('a');
  });

  test('ping back by the time mamori looks: alive on the console and answering ping, so no power action', async () => {
    const before = await initPid('b');
    const t = await execute('b', 'ping', 'std-ping', 'lab-ipmi');
    expect(t.verdict).toBe('Recovered');
    expect(t.powerActions).toEqual([]);
    expect(step(t, 'power-recover')?.outcome).toBe('skipped');
    expect(await initPid('b')).toBe(before);
  });

  test('link pulled with the host alive: HostUnreachable, and no power action at all', async () => {
    const before = await initPid('b');
    await lab.pull('b');
    try {
      const t = await execute('b', 'ping', 'std-ping', 'lab-ipmi');
      expect(t.verdict).toBe('HostUnreachable');
      expect(t.powerActions).toEqual([]);
      expect(t.steps.map((s) => s.kind)).not.toContain('power');
      expect(t.evidence).toMatchObject({ consoleAlive: true, ping: false });
    } finally {
      await lab.plug('b');
    }
    expect(await lab.power('b', 'status')).toBe('on');
    expect(await initPid('b')).toBe(before);
  });

  test('a powered-on host whose console cannot be looked at is not power-cycled blind', async () => {
    const before = await initPid('b');
    await lab.pull('b');
    try {
      const t = await execute('b', 'ping', 'std-ping', 'lab-ipmi-blind');
      expect(t.verdict).toBe('Escalated');
      expect(t.message).toMatch(/console check requested/);
      expect(t.powerActions).toEqual([]);
    } finally {
      await lab.plug('b');
    }
    expect(await initPid('b')).toBe(before);
  });

  test('on but hung (the console does not answer): power-cycled through the BMC, and back', async () => {
    const before = await initPid('b');
    const t = await execute('b', 'ping', 'std-ping', 'hung');
    expect(t.verdict).toBe('Recovered');
    expect(t.powerActions).toEqual(['cycle']);
    expect(step(t, 'power-recover')?.note).toMatch(/power was on; power cycle sent/);
    expect(await initPid('b')).not.toBe(before);
    await lab.waitReady('b');
  });

  test('the manual profile asks the operations desk and escalates, touching nothing', async () => {
    await lab.power('b', 'off');
    try {
      const t = await execute('b', 'ping', 'std-ping', 'desk');
      expect(t.verdict).toBe('Escalated');
      expect(t.message).toMatch(/console check requested/);
      expect(t.powerActions).toEqual([]);
      expect(t.acted).toBe(false);
      expect(await lab.power('b', 'status')).toBe('off');
    } finally {
      await lab.power('b', 'on');
      await lab.waitReady('b');
    }
  });

  test('the BMC password appears in no process command line while ipmitool runs', async () => {
    const host = lab.host('a');
    const password = (await readFile(host.bmc.passwordFile, 'utf8')).trim();
    expect(password.length).toBeGreaterThan(4);
    const credentials = `${host.bmc.user}:${password}`;
    const channel = (port: number) =>
      consoleChannelFor(labProfiles(lab), 'lab-ipmi', {
        targets: LAB_TARGETS,
        server: { name: 'a', address: host.address, bmc: '127.0.0.1', bmcPort: port, target: 'a' },
        credentials,
        secrets: [password],
      });
    const seen: string[] = [];
    const leaks: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const pid of await readdir('/proc').catch(() => [] as string[])) {
          if (!/^\d+$/.test(pid)) continue;
          const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          if (argv.includes('ipmitool')) seen.push(argv.split('\0').join(' '));
          if (argv.includes(password)) leaks.push(argv.split('\0').join(' '));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      // The real BMC, several times; then a BMC that never answers, so ipmitool lingers.
      for (let i = 0; i < 5; i += 1) expect(await channel(host.bmc.port).power?.status()).toBe('on');
      await expect(channel(1).power?.status({ deadlineMs: 2_000 })).rejects.toThrow(/did not do "chassis power status"/);
    } finally {
      sampling = false;
      await sampler;
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((argv) => argv.includes(' -E ') && !argv.includes(' -P '))).toBe(true);
    expect(leaks).toEqual([]);
  });
});
