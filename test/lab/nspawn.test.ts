/**
 * systemd-nspawn as the lab boots it (lab id 110: netns ml110-box, folder /tmp/mamori-lab/110):
 * a real systemd as PID 1 over an overlay of the machine's root, joined to a network
 * namespace, whose units behave as on any systemd host; power-off and a pulled plug stop it;
 * its disk survives a power cycle; close() leaves no process or mount behind.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cleanStaleLab, labPids } from './clean.ts';
import { defaultLabDir } from './names.ts';
import { bootNspawn, findNspawn, nspawnArgv, type NspawnContainer, type NspawnOptions } from './nspawn.ts';
import { run, runOk } from './run.ts';

const ID = 110;
const NETNS = 'ml110-box';
const DIR = join(defaultLabDir(ID), 'box');
const opts: NspawnOptions = {
  dir: DIR,
  machine: 'ml110-box',
  netns: NETNS,
  units: ['lab-echo.service'],
  mask: ['timers.target', 'getty.target', 'console-getty.service', 'ssh.service'],
  files: {
    '/etc/systemd/system/lab-echo.service': {
      content: '[Unit]\nDescription=lab echo\n[Service]\nExecStart=/usr/bin/socat TCP-LISTEN:7777,fork,reuseaddr EXEC:/bin/cat\n',
    },
  },
};
let box: NspawnContainer | undefined;

async function listening(pid: number, port: number): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/net/tcp`, 'utf8').catch(() => '');
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex) && l.trim().split(/\s+/)[3] === '0A');
}

beforeAll(async () => {
  await cleanStaleLab(ID);
  await runOk('ip', ['netns', 'add', NETNS]);
  await runOk('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
});

afterAll(async () => {
  await box?.close();
  await cleanStaleLab(ID);
});

describe('a systemd container', () => {
  test('boots a real systemd as PID 1 in the network namespace, to its own target, in seconds', async () => {
    expect(nspawnArgv(opts)).toEqual(expect.arrayContaining(['--boot', `--network-namespace-path=/run/netns/${NETNS}`, '--register=no', '--keep-unit']));
    const t0 = Date.now();
    box = await bootNspawn(opts, { timeoutMs: 60_000 });
    const bootMs = Date.now() - t0;
    expect(bootMs).toBeLessThan(30_000);
    const r = await box.sh('readlink /proc/1/exe; hostname; cat /etc/machine-id; systemctl is-active mamori-nspawn.target; ps -e --no-headers | wc -l');
    const [exe, hostname, machineId, target, count] = r.stdout.trim().split('\n');
    expect(exe).toMatch(/systemd$/);
    expect(hostname).toBe('ml110-box');
    expect(machineId).not.toBe((await readFile('/etc/machine-id', 'utf8').catch(() => '')).trim());
    expect(target).toBe('active');
    // Its own processes only: systemd, journald, the unit, dbus perhaps, and this shell.
    expect(Number(count)).toBeLessThan(12);
    // Joined to the namespace: the same network namespace as a process of ip netns exec.
    const [a, b] = await Promise.all([
      run('readlink', [`/proc/${box.leader}/ns/net`]),
      run('ip', ['netns', 'exec', NETNS, 'readlink', '/proc/self/ns/net']),
    ]);
    expect(a.stdout.trim()).toBe(b.stdout.trim());
    // The machine's own enabled service is not started inside (masked, and not in the target).
    expect(await box.unitState('ssh.service')).not.toBe('active');
  });

  test('systemctl kill / restart / is-active behave as on any systemd host, and the journal says so', async () => {
    const c = box ?? expect.fail('not booted');
    expect(await c.unitState('lab-echo.service')).toBe('active');
    expect(await listening(c.leader, 7777)).toBe(true);
    await c.exec(['systemctl', 'kill', '-s', 'KILL', 'lab-echo.service']);
    await expect.poll(() => c.unitState('lab-echo.service'), { timeout: 10_000 }).toMatch(/inactive|failed/);
    expect(await listening(c.leader, 7777)).toBe(false);
    const restart = await c.exec(['systemctl', 'restart', 'lab-echo.service']);
    expect(restart.code, restart.stderr).toBe(0);
    expect(await c.unitState('lab-echo.service')).toBe('active');
    await expect.poll(() => listening(c.leader, 7777), { timeout: 5_000 }).toBe(true);
    const journal = await c.exec(['journalctl', '-u', 'lab-echo.service', '--no-pager', '-o', 'cat']);
    expect(journal.stdout.match(/Started lab-echo.service/g)?.length).toBeGreaterThanOrEqual(2);
  });

  test('power-off stops the container; its disk survives; a pulled plug ends it at once; close leaves nothing', async () => {
    const c = box ?? expect.fail('not booted');
    await c.sh('echo kept > /root/disk-test');
    await c.poweroff();
    expect(await findNspawn(DIR)).toBeUndefined();
    expect(await listening(c.leader, 7777)).toBe(false);

    box = await bootNspawn(opts);
    expect((await box.sh('cat /root/disk-test')).stdout).toBe('kept\n');
    const t0 = Date.now();
    await box.kill();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await findNspawn(DIR)).toBeUndefined();
    expect(await readFile(join(DIR, 'console.log'), 'utf8')).toMatch(/terminated by signal KILL/);

    await box.close();
    box = undefined;
    expect((await readFile('/proc/self/mounts', 'utf8')).includes(DIR)).toBe(false);
    expect(await labPids(ID, defaultLabDir(ID))).toEqual([]);
    // The disk itself stays (upper layer) for the next boot.
    await writeFile(join(DIR, 'upper', 'marker'), '');
  });
});
