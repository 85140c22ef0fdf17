import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type Lab } from '../lab/index.ts';
import { SEED_SERVICE_NAMES as SERVICE_NAMES, type ProbeResult } from '../../src/probe/types.ts';

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
      const r = await mamori(['probe', host.address, '--json', '--timeout', '8000']);
      expect(r.stderr).toBe('');
      const results = JSON.parse(r.stdout) as ProbeResult[];
      expect(results.map((x) => [x.service, x.up])).toEqual(SERVICE_NAMES.map((s) => [s, true]));
      expect(r.code).toBe(0);
    }
  });

  test('a server name: its subscribed services, with their options, from the manifests', async () => {
    const host = lab.host('cli');
    const dir = await mkdtemp(join(tmpdir(), 'mamori-probe-manifests-'));
    try {
      await mkdir(join(dir, 'customers', 'lab', 'servers'), { recursive: true });
      await writeFile(
        join(dir, 'mamori.yaml'),
        ['apiVersion: mamori/v1', 'kind: Config', 'source: { type: folder, path: . }', 'stateDir: ./state', 'secretsDir: ./secrets',
          `managementNetworks: [${lab.subnet}]`, `targetNetworks: [${lab.subnet}]`, 'mail: { from: mamori@provider.example, operator: noc@provider.example }', ''].join('\n'),
      );
      await writeFile(
        join(dir, 'customers', 'lab', 'servers', 'cli.yaml'),
        ['apiVersion: mamori/v1', 'kind: Server', 'metadata: { name: cli, customer: lab }', 'spec:', `  address: ${host.address}`,
          '  os: { family: centos, version: "5.4" }', '  plan: basic', '  contact: { email: ops@lab.example, locale: en }', `  allowedNetworks: [${lab.subnet}]`,
          '  services: [ping, ssh, { http: { path: /, expectStatus: [200] } }, smtp, pop3]',
          '  access: { user: mamori, hostKey: "SHA256:PJDf4Jfj8Tk7Fpq+jpbIV9B3V9CGfkyU+ERPfJXIHRA", credentials: { secretRef: lab-cli } }', ''].join('\n'),
      );
      const globals = ['--manifests', dir, '--config', join(dir, 'mamori.yaml')];
      const r = await mamori([...globals, 'probe', 'cli', '--json', '--timeout', '8000']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const results = JSON.parse(r.stdout) as ProbeResult[];
      expect(results.map((x) => [x.service, x.target, x.up])).toEqual([
        ['ping', host.address, true],
        ['ssh', `${host.address}:22`, true],
        ['http', `${host.address}:80`, true],
        ['smtp', `${host.address}:25`, true],
        ['pop3', `${host.address}:110`, true],
      ]);
      const narrowed = await mamori([...globals, 'probe', 'cli', '-s', 'ftp', '--timeout', '8000']);
      expect(narrowed.code).toBe(2);
      expect(narrowed.stderr).toMatch(/server "cli" does not subscribe ftp/);
      const unknown = await mamori([...globals, 'probe', 'nosuch']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/no server "nosuch"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a dead daemon: exit 1, its service refused, named in the table', async () => {
    const host = lab.host('cli');
    await lab.breakService('cli', 'sendmail');
    const r = await mamori(['probe', host.address, '-s', 'smtp,ssh,pop3', '--timeout', '8000']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^smtp\\s+${host.address.replace(/\./g, '\\.')}:25\\s+DOWN\\s.*refused \\(connect\\)`));
    expect(lines[1]).toMatch(/^ssh\s+\S+:22\s+up\s.*"SSH-2\.0-OpenSSH_/);
    expect(lines[2]).toMatch(/^pop3\s+\S+:110\s+up\s.*"\+OK Dovecot/);
  });
});
