/**
 * The commands as a customer and CI run them: `mamori validate` refuses a custom
 * runbook that breaks the review policy (rule and line), `mamori runbook show`
 * prints the effective runbook. Real processes, output parsed.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RenderedRunbook } from '../../src/runbook/types.ts';
import { ROOT } from './operator-docs.ts';

const run = promisify(execFile);
// A hang guard only: each test starts a few mamori processes, slow on a busy machine.
const GUARD = 240_000;
let dir: string;

async function mamori(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/mamori.js'), '--manifests', dir, ...args], { cwd: dir, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const SERVER = `apiVersion: mamori/v1
kind: Server
metadata: { name: web01, customer: acme }
spec:
  address: 203.0.113.10
  os: { family: centos, version: "5.4" }
  plan: basic
  contact: { email: ops@acme.example }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: [ping, http, { https: { port: 8443 } }, ssh, smtp]
  access: { user: mamori, hostKey: "SHA256:${'A'.repeat(43)}", credentials: { secretRef: acme-web01 } }
  runbooks: { http: acme-httpd }
`;

const RUNBOOK = `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  steps:
    - check: { process: httpd }
    - run:
        command: |
          /etc/init.d/httpd stop
          shutdown -r now
    - power: { action: cycle }
    - verify: { process: httpd }
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-cli-'));
  mkdirSync(join(dir, 'customers/acme/servers'), { recursive: true });
  mkdirSync(join(dir, 'customers/acme/runbooks'), { recursive: true });
  cpSync(join(ROOT, 'manifests/operator'), join(dir, 'operator'), { recursive: true });
  writeFileSync(join(dir, 'customers/acme/servers/web01.yaml'), SERVER);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mamori validate applies the review policy to custom runbooks', () => {
  test('a refused runbook: exit 1, each finding with its rule and line', async () => {
    writeFileSync(join(dir, 'customers/acme/runbooks/acme-httpd.yaml'), RUNBOOK);
    const { code, stdout } = await mamori('validate', '--format', 'json');
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { findings: Array<{ file: string; line: number; rule: string; message: string }> };
    const mine = report.findings.filter((f) => f.file.endsWith('customers/acme/runbooks/acme-httpd.yaml'));
    expect(mine.map((f) => [f.rule, f.line])).toEqual([
      ['policy-forbidden-command', 11],
      ['policy-power', 12],
    ]);
    expect(mine[0]?.message).toMatch(/^refused by rule shutdown: `shutdown -r now`: Stops or restarts the whole server/);
    const github = await mamori('validate', '--format', 'github');
    expect(github.stdout).toMatch(/::error file=[^,]*customers\/acme\/runbooks\/acme-httpd\.yaml,line=11,col=\d+/);
  }, GUARD);

  test('the same runbook without the forbidden parts is valid', async () => {
    writeFileSync(join(dir, 'customers/acme/runbooks/acme-httpd.yaml'), RUNBOOK.replace('          shutdown -r now\n', '          /etc/init.d/httpd start\n').replace('    - power: { action: cycle }\n', ''));
    const { code, stdout } = await mamori('validate', '--format', 'json');
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, errors: 0 });
    expect(code).toBe(0);
  }, GUARD);
});

describe('mamori runbook show', () => {
  test('the custom runbook for http, the standard one for the rest, with the server values', async () => {
    const custom = await mamori('runbook', 'show', 'web01', 'http', '--json');
    expect(custom.code).toBe(0);
    expect(JSON.parse(custom.stdout)).toMatchObject({ runbook: 'acme-httpd', origin: 'custom', file: 'customers/acme/runbooks/acme-httpd.yaml' });
    const https = JSON.parse((await mamori('runbook', 'show', 'web01', 'https', '--json')).stdout) as RenderedRunbook;
    expect(https).toMatchObject({ runbook: 'std-httpd-el-sysv', origin: 'standard', server: 'web01', address: '203.0.113.10', deadlineMs: 300_000 });
    expect(https.steps[1]).toMatchObject({ kind: 'check', localConnectPort: 8443 });
    expect(https.steps[2]).toMatchObject({ kind: 'run', command: '/etc/init.d/httpd restart', sudo: true });
    const text = await mamori('runbook', 'show', 'web01', 'smtp');
    expect(text.stdout.split('\n').slice(0, 2)).toEqual(['runbook std-sendmail-el-5 (standard) for smtp on web01 (203.0.113.10)', 'from operator/runbooks/std-sendmail-el-5.yaml']);
    expect(text.stdout).toContain('3. run restart-sendmail [120s] as root: /etc/init.d/sendmail restart');
  }, GUARD);

  test('a service the server does not watch, an unknown server, an unknown service', async () => {
    expect(await mamori('runbook', 'show', 'web01', 'ftp')).toMatchObject({ code: 1, stderr: expect.stringContaining('web01 does not watch ftp') });
    expect(await mamori('runbook', 'show', 'nope', 'http')).toMatchObject({ code: 1, stderr: expect.stringContaining('no valid server "nope"') });
    expect(await mamori('runbook', 'show', 'web01', 'gopher')).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown service "gopher"') });
  }, GUARD);
});
