/**
 * `mamori reconcile --once` and `mamori resume` without a daemon reconcile in-process, built by the
 * daemon's own wiring: so they refuse a secrets folder other users can read exactly as `mamori run`
 * does (MAMORI_SECRET_UNSAFE, exit 1, the state folder left unlocked), and run once it is fixed.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isStateLocked } from '../../src/status/lock.ts';
import { BIN, freePort } from '../daemon/daemon-process.ts';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function mamori(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--config', 'mamori.yaml', ...args], { cwd, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function workspace(secretsMode: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-cli-inproc-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'm'));
  mkdirSync(join(dir, 'secrets'));
  chmodSync(join(dir, 'secrets'), secretsMode);
  const port = await freePort();
  writeFileSync(join(dir, 'mamori.yaml'), `apiVersion: mamori/v1\nkind: Config\nhttp: { listen: "127.0.0.1:${port}" }\nsource: { type: folder, path: m }\n`);
  return dir;
}

describe('the in-process path checks the secrets folder as the daemon does', () => {
  it.each(['reconcile --once --dry-run', 'reconcile --once', 'resume web01'])('mamori %s: refused with MAMORI_SECRET_UNSAFE while the folder is 0755', async (command) => {
    const dir = await workspace(0o755);
    const run = await mamori(dir, ...command.split(' '));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('MAMORI_SECRET_UNSAFE');
    expect(run.stderr).toContain(`chmod 700 ${join(dir, 'secrets')}`);
    expect(run.stdout).toBe('');
    expect(await isStateLocked(join(dir, 'state'))).toBe(false);
  });

  it('runs once the folder is 0700: an empty fleet passes', async () => {
    const dir = await workspace(0o700);
    const run = await mamori(dir, 'reconcile', '--once', '--dry-run');
    expect(run.stderr).not.toContain('MAMORI_SECRET_UNSAFE');
    expect(run.stdout).toContain('dry run (in-process): 0 servers');
    expect(run.code).toBe(0);
  });
});
