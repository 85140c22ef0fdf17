/**
 * `npm run lab -- up` of one host of every variant (SysV, systemd, FreeBSD-like), `status`
 * naming each host's OS and init, a power cycle of a systemd and a FreeBSD-like host, and
 * `down`: nothing of the lab is left on the machine — no namespace, link, mount, container
 * cgroup, process (by command line, root or working folder), folder or record. Lab id 213.
 */
import { describe, expect, test } from 'vitest';
import { labLeftovers } from './leftovers.ts';
import { defaultLabDir } from './names.ts';
import { run } from './run.ts';
import { LAB_VARIANTS, initOf, releaseOf } from './types.ts';

const ID = 213;
const DIR = defaultLabDir(ID);

function npmLab(...args: string[]): Promise<{ code: number; all: string; stdout: string }> {
  return run('npm', ['run', '-s', 'lab', '--', '--id', String(ID), ...args], { timeoutMs: 150_000, env: { ...process.env } }).then(
    (r) => ({ code: r.code, stdout: r.stdout, all: r.stdout + r.stderr }),
  );
}

describe('npm run lab: one host of every variant', () => {
  test('up, status (OS and init of each), a power cycle, down: nothing left behind', async () => {
    const hosts = LAB_VARIANTS.map((v) => `${v}:${v}`).join(',');
    try {
      const up = await npmLab('up', '--hosts', hosts, '--timeout', '120000');
      expect(up.code, up.all).toBe(0);
      const status = await npmLab('status');
      expect(status.code, status.all).toBe(0);
      for (const v of LAB_VARIANTS) {
        const line = status.stdout.split('\n').find((l) => l.startsWith(`${v} `)) ?? '';
        expect(line, v).toContain(` ${v} `);
        expect(line, v).toContain(` ${initOf(v)} `);
        expect(line, v).toContain(` ${releaseOf(v)} `);
        expect(line, v).toMatch(/power on link up listening \d/);
      }
      // A power cycle through the BMC boots a new init: its old one must not linger either.
      for (const v of ['el8', 'freebsd13'] as const) {
        const cycle = await npmLab('power', v, 'cycle');
        expect(cycle.stdout, cycle.all).toBe(`${v}: power on\n`);
      }
      expect(await labLeftovers(ID, DIR)).not.toEqual([]);
    } finally {
      const down = await npmLab('down');
      expect(down.code, down.all).toBe(0);
    }
    expect(await labLeftovers(ID, DIR)).toEqual([]);
  }, 300_000);
});
