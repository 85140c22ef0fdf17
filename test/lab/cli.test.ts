import { describe, expect, test } from 'vitest';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cleanStaleLab, defaultLabDir, startLab } from './index.ts';
import { run } from './run.ts';
import { main } from './cli.ts';
import { labLeftovers } from './leftovers.ts';

// Lab id 3: the command for people, stale-lab cleaning and a start that cannot finish.
const ID = 3;
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DIR = defaultLabDir(ID);

function npmLab(...args: string[]) {
  return run('npm', ['run', '-s', 'lab', '--', '--id', String(ID), ...args], { timeoutMs: 90_000, env: { ...process.env } }).then(
    (r) => ({ ...r, all: r.stdout + r.stderr }),
  );
}

/** The same command in this process (quicker than a new tsx per call). */
async function labCli(...args: string[]): Promise<{ code: number; stdout: string }> {
  const lines: string[] = [];
  const code = await main(['node', 'lab', '--id', String(ID), ...args], (l) => lines.push(l));
  return { code, stdout: lines.map((l) => `${l}\n`).join('') };
}

/** Everything of lab 3 that could outlive it on the machine. */
function leftovers(): Promise<string[]> {
  return labLeftovers(ID, DIR);
}

describe('npm run lab', () => {
  test('up prints hosts, addresses, fingerprints and BMC ports; status, break, power and pull act on the running lab; down leaves nothing behind', async () => {
    expect(REPO).toMatch(/\/$/);
    const up = await npmLab('up', '--hosts', 'a1,a2:passphrase');
    expect(up.code, up.all).toBe(0);
    expect(up.stdout).toMatch(/^a1 +standard +10\.231\.3\.11 +SHA256:\S+ \(ssh-ed25519\) bmc 127\.0\.0\.1:9048 /m);
    expect(up.stdout).toMatch(/^a2 +passphrase +10\.231\.3\.12 +SHA256:\S+ \(ssh-ed25519\) bmc 127\.0\.0\.1:9049 /m);
    expect(up.all).not.toMatch(/password [0-9a-f]{16}\b/); // the BMC password stays in its file

    const status = await labCli('status');
    expect(status.stdout).toMatch(/^a1 +10\.231\.3\.11 +standard +sysv +CentOS release 5\.11 \(Final\) +power on link up listening 7,21,22,23,25,80,110,143,443$/m);
    expect(status.stdout).toMatch(/^a2 +10\.231\.3\.12 +passphrase +sysv +CentOS release 5\.11 \(Final\) +power on link up /m);

    expect((await labCli('break', 'a1', 'vsftpd')).code).toBe(0);
    expect((await labCli('break', 'a1', 'xinetd')).stdout).toBe('xinetd on a1 killed; its ports are closed\n');
    expect((await labCli('status')).stdout).toMatch(/^a1 .* power on link up listening 7,22,25,80,110,143,443$/m);
    expect((await labCli('pull', 'a2')).code).toBe(0);
    expect((await labCli('power', 'a1', 'off')).stdout).toBe('a1: power off\n');
    const after = await labCli('status');
    expect(after.stdout).toMatch(/^a1 .* power off link down listening -$/m);
    expect(after.stdout).toMatch(/^a2 .* power on link down /m);
    expect((await labCli('power', 'a1', 'on')).stdout).toBe('a1: power on\n');
    expect((await labCli('break', 'a1', 'nonsense')).code).not.toBe(0);

    const down = await npmLab('down');
    expect(down.code, down.all).toBe(0);
    expect(await leftovers()).toEqual([]);
  });

  test('a lab left running by a killed run is cleaned by the next start, and by cleanStaleLab', async () => {
    // `up` returns and leaves the lab running: the same state a killed test run leaves.
    expect((await npmLab('up', '--hosts', 'b1')).code).toBe(0);
    const oldInit = (await readFile(`${DIR}/hosts/b1/init.pid`, 'utf8')).trim();
    const lab = await startLab({ id: ID, hosts: [{ name: 'b1' }, { name: 'b2' }] });
    try {
      expect(existsSync(`/proc/${oldInit}/cmdline`) && (await readFile(`/proc/${oldInit}/cmdline`, 'utf8')).includes(DIR)).toBe(false);
      expect((await lab.console('b2', 'hostname')).stdout).toBe('b2\n');
    } finally {
      await lab.stop();
    }
    expect(await leftovers()).toEqual([]);

    expect((await npmLab('up', '--hosts', 'c1')).code).toBe(0);
    await cleanStaleLab(ID);
    expect(await leftovers()).toEqual([]);
  });

  test('a start that cannot finish within its bound fails with the reason and leaves nothing running', async () => {
    await expect(startLab({ id: ID, hosts: [{ name: 'd1' }], timeoutMs: 200 })).rejects.toThrow(
      /lab 3: .*(within the start bound|did not come up)/,
    );
    const left = (await leftovers()).filter((l) => !l.startsWith('folder'));
    expect(left).toEqual([]);
    await cleanStaleLab(ID);
  });

  test('bad input is refused with a message naming it', async () => {
    await expect(startLab({ id: ID, hosts: [{ name: 'Bad_Name' }] })).rejects.toThrow(/host name "Bad_Name"/);
    await expect(startLab({ id: ID, hosts: [{ name: 'x1' }, { name: 'x1' }] })).rejects.toThrow(/"x1" given twice/);
    await expect(startLab({ id: 300, hosts: [{ name: 'x1' }] })).rejects.toThrow(/id must be an integer/);
    const r = await npmLab('up', '--hosts', 'x1:wizard');
    expect(r.code).not.toBe(0);
    expect(r.all).toMatch(/variant must be one of standard, passphrase, legacy-ssh, firewall/);
  });
});
