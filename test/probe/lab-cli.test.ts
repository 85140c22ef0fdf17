import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startLab, type Lab } from '../lab/index.ts';
import { SERVICE_NAMES, type ProbeResult } from '../../src/probe/types.ts';

/** `mamori probe` end to end against the lab (lab id 5): the command, its output and exit codes. */
const bin = fileURLToPath(new URL('../../bin/mamori.js', import.meta.url));

function mamori(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('mamori probe against the lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab({ id: 5, hosts: [{ name: 'cli' }, { name: 'old', variant: 'legacy-ssh' }] });
  });

  afterAll(async () => {
    await lab?.stop();
  });

  test('all nine services of a healthy host: exit 0, every result up', async () => {
    for (const host of lab.hosts) {
      const r = await mamori(['probe', host.address, '--json', '--timeout', '3000']);
      expect(r.stderr).toBe('');
      const results = JSON.parse(r.stdout) as ProbeResult[];
      expect(results.map((x) => [x.service, x.up])).toEqual(SERVICE_NAMES.map((s) => [s, true]));
      expect(r.code).toBe(0);
    }
  });

  test('a dead daemon: exit 1, its service refused, named in the table', async () => {
    const host = lab.host('cli');
    await lab.breakService('cli', 'sendmail');
    const r = await mamori(['probe', host.address, '-s', 'smtp,ssh,pop3', '--timeout', '3000']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^smtp\\s+${host.address.replace(/\./g, '\\.')}:25\\s+DOWN\\s.*refused \\(connect\\)`));
    expect(lines[1]).toMatch(/^ssh\s+\S+:22\s+up\s.*"SSH-2\.0-OpenSSH_/);
    expect(lines[2]).toMatch(/^pop3\s+\S+:110\s+up\s.*"\+OK Dovecot/);
  });
});
