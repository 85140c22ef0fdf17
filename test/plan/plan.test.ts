import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runPlan, type PlanOptions } from '../../src/cli/plan.ts';
import type { Plan } from '../../src/plan/compute.ts';
import { OPERATOR_DIR } from '../runbook/operator-docs.ts';

const KEY_A = `SHA256:${'A'.repeat(43)}`;
const KEY_B = `SHA256:${'B'.repeat(43)}`;

function serverYaml(name: string, customer: string, os: string, address: string, extra = '', services = '[ping, http, https, ssh]', email = `ops@${customer}.example`, key = KEY_A): string {
  return `apiVersion: mamori/v1
kind: Server
metadata: { name: ${name}, customer: ${customer} }
spec:
  address: ${address}
  os: ${os}
  plan: basic
  contact: { email: ${email} }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: ${services}
  access: { user: mamori, hostKey: "${key}", credentials: { secretRef: ${customer}-${name} } }
${extra}`;
}

const CUSTOM = (command: string): string => `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  steps:
    - id: look
      check: { process: httpd }
    - run: { command: ${command} }
    - verify: { process: httpd }
`;

let dir: string;
const git = (...args: string[]): string => execFileSync('git', ['-C', dir, '-c', 'user.name=mamori test', '-c', 'user.email=test@example.com', ...args], { encoding: 'utf8' });
const write = (path: string, text: string): void => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
};

async function plan(options: Partial<PlanOptions> & { from: string; to: string }): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await runPlan({ format: 'json', ...options }, { stdout, stderr, cwd: dir });
  return { code, out };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-plan-'));
  git('init', '-q', '-b', 'main');
  // Revision 1: the operator's folder as shipped, three servers, one custom runbook.
  cpSync(OPERATOR_DIR, join(dir, 'manifests/operator'), { recursive: true });
  write('manifests/customers/acme/runbooks/acme-httpd.yaml', CUSTOM('/etc/init.d/httpd restart'));
  write('manifests/customers/acme/servers/web01.yaml', serverYaml('web01', 'acme', '{ family: centos, version: "5.4" }', '203.0.113.10', '  runbooks: { http: acme-httpd }\n'));
  write('manifests/customers/acme/servers/web02.yaml', serverYaml('web02', 'acme', '{ family: centos, version: "5.8" }', '203.0.113.11'));
  write('manifests/customers/globex/servers/app01.yaml', serverYaml('app01', 'globex', '{ family: rhel, variant: server, version: "5.11" }', '203.0.113.20'));
  write('manifests/customers/globex/servers/bsd01.yaml', serverYaml('bsd01', 'globex', '{ family: freebsd, version: "6.3" }', '203.0.113.21'));
  write('manifests/customers/globex/servers/old01.yaml', serverYaml('old01', 'globex', '{ family: centos, version: "7.9" }', '203.0.113.22'));
  git('add', '-A');
  git('commit', '-q', '-m', 'first');
  git('tag', 'first');

  // Revision 2: the customer's runbook changes, the standard EL httpd runbook changes,
  // web02's contact, host key and credentials change, a server comes, one goes.
  write('manifests/customers/acme/runbooks/acme-httpd.yaml', CUSTOM('/usr/sbin/apachectl graceful'));
  const std = join(dir, 'manifests/operator/runbooks/std-httpd-el-sysv.yaml');
  writeFileSync(std, readFileSync(std, 'utf8').replace('command: /etc/init.d/httpd restart', 'command: /etc/init.d/httpd stop; /etc/init.d/httpd start'));
  write(
    'manifests/customers/acme/servers/web02.yaml',
    serverYaml('web02', 'acme', '{ family: centos, version: "5.8" }', '203.0.113.11', '', '[ping, http, https, ssh]', 'noc@acme.example', KEY_B).replace('secretRef: acme-web02', 'secretRef: acme-web02-2026'),
  );
  write('manifests/customers/acme/servers/web03.yaml', serverYaml('web03', 'acme', '{ family: centos, version: "6.10" }', '203.0.113.12', '', '[ping, smtp]'));
  rmSync(join(dir, 'manifests/customers/globex/servers/old01.yaml'));
  git('add', '-A');
  git('commit', '-q', '-m', 'second');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('mamori plan between two commits of a real git repository', () => {
  let result: Plan;
  beforeAll(async () => {
    const { code, out } = await plan({ git: '.', from: 'first', to: 'HEAD' });
    expect(code).toBe(0);
    result = JSON.parse(out) as Plan;
  });

  test('the revisions are named by commit, and both load without findings', () => {
    expect(result.from).toMatch(/^[0-9a-f]{12} \(first\)$/);
    expect(result.to).toMatch(/^[0-9a-f]{12} \(HEAD\)$/);
    expect(result.findings.from.filter((f) => f.severity === 'error')).toEqual([]);
    expect(result.findings.to.filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('servers added, removed and changed: contact, host key and secretRef by name', () => {
    expect(result.servers.added.map((s) => s.name)).toEqual(['web03']);
    expect(result.servers.added[0]).toMatchObject({ os: 'centos 6.10', address: '203.0.113.12', services: ['ping', 'smtp'], customer: 'acme' });
    expect(result.servers.removed.map((s) => s.name)).toEqual(['old01']);
    expect(result.servers.changed).toEqual([
      {
        name: 'web02',
        customer: 'acme',
        file: 'customers/acme/servers/web02.yaml',
        changes: [
          { field: 'access.credentials.secretRef', from: 'acme-web02', to: 'acme-web02-2026' },
          { field: 'access.hostKey', from: KEY_A, to: KEY_B },
          { field: 'contact.email', from: 'ops@acme.example', to: 'noc@acme.example' },
        ],
      },
    ]);
  });

  test('the runbook documents that changed', () => {
    expect(result.runbooks.map(({ reaches: _r, ...doc }) => doc)).toEqual([
      { name: 'acme-httpd', owner: 'acme', file: 'customers/acme/runbooks/acme-httpd.yaml', change: 'changed' },
      { name: 'std-httpd-el-sysv', owner: 'operator', file: 'operator/runbooks/std-httpd-el-sysv.yaml', change: 'changed' },
    ]);
  });

  test("a changed customer runbook: only the one server's service that uses it", () => {
    const group = result.effective.groups.find((g) => g.after === 'acme-httpd (custom)');
    expect(group?.targets).toEqual([{ server: 'acme/web01', service: 'http' }]);
    expect(group?.diff).toContain('-2. run run-2 [60s] as root: /etc/init.d/httpd restart');
    expect(group?.diff).toContain('+2. run run-2 [60s] as root: /usr/sbin/apachectl graceful');
  });

  test('a changed standard runbook: every server and service that uses it, and no other', () => {
    // web01 https (its http is its own runbook), web02 http and https, app01 (RHEL 5 Server) http and https.
    const reach = [
      { server: 'acme/web01', service: 'https' },
      { server: 'acme/web02', service: 'http' },
      { server: 'acme/web02', service: 'https' },
      { server: 'globex/app01', service: 'http' },
      { server: 'globex/app01', service: 'https' },
    ];
    expect(result.runbooks.find((r) => r.name === 'std-httpd-el-sysv')?.reaches).toEqual(reach);
    const groups = result.effective.groups.filter((g) => g.after === 'std-httpd-el-sysv (standard)');
    expect(groups.flatMap((g) => g.targets).sort((a, b) => `${a.server} ${a.service}`.localeCompare(`${b.server} ${b.service}`))).toEqual(reach);
    for (const group of groups) {
      expect(group.diff).toContain('-3. run restart-httpd [120s] as root: /etc/init.d/httpd restart');
      expect(group.diff).toContain('+3. run restart-httpd [120s] as root: /etc/init.d/httpd stop; /etc/init.d/httpd start');
    }
    // FreeBSD's and EL 7's httpd runbooks did not change: bsd01 is not in it, web01 http only through its own.
    expect(result.effective.changed.some((c) => c.server === 'globex/bsd01')).toBe(false);
    expect(result.runbooks.find((r) => r.name === 'acme-httpd')?.reaches).toEqual([{ server: 'acme/web01', service: 'http' }]);
  });

  test('new and gone servers show their whole runbooks', () => {
    const added = result.effective.changed.filter((c) => c.server === 'acme/web03');
    expect(added.map((c) => c.service)).toEqual(['ping', 'smtp']);
    expect(added[1]?.after?.runbook).toBe('std-postfix-el-6');
    expect(added[1]?.diff.every((l) => l.startsWith('@@') || l.startsWith('+'))).toBe(true);
    const gone = result.effective.changed.filter((c) => c.server === 'globex/old01');
    expect(gone.map((c) => c.service)).toEqual(['ping', 'http', 'https', 'ssh']);
    expect(gone.every((c) => c.after === undefined && c.before !== undefined)).toBe(true);
  });

  test('markdown for a pull-request comment, and text for a terminal', async () => {
    const md = (await plan({ git: '.', from: 'first', to: 'HEAD', format: 'markdown' })).out;
    expect(md).toContain('#### Effective runbooks');
    expect(md).toContain('```diff\n@@');
    expect(md).toContain('- changed: `std-httpd-el-sysv` (operator) `operator/runbooks/std-httpd-el-sysv.yaml` — reaches 5 server services: acme/web01 https, acme/web02 http, acme/web02 https, globex/app01 http, globex/app01 https');
    expect(md).toContain('<details open><summary>std-httpd-el-sysv (standard) — 2 server services: acme/web02 http, globex/app01 http</summary>');
    expect(md).toContain('| ✏️ | web02 (acme) | access.credentials.secretRef: acme-web02 → acme-web02-2026<br>');
    const text = (await plan({ git: '.', from: 'first', to: 'HEAD', format: 'text' })).out;
    expect(text).toContain('  + web03 (acme): centos 6.10, plan basic, 203.0.113.12, services ping, smtp');
    expect(text).toContain('  - old01 (globex): centos 7.9');
    expect(text).toContain('      contact.email: ops@acme.example → noc@acme.example');
    expect(text).toContain('    +3. run restart-httpd [120s] as root: /etc/init.d/httpd stop; /etc/init.d/httpd start');
  });

  test('the work tree is never touched: plan reads commits, not files', async () => {
    writeFileSync(join(dir, 'manifests/customers/acme/servers/web02.yaml'), 'not: [valid');
    try {
      const { out } = await plan({ git: '.', from: 'first', to: 'HEAD' });
      expect((JSON.parse(out) as Plan).findings.to).toEqual([]);
    } finally {
      git('checkout', '-q', '--', 'manifests/customers/acme/servers/web02.yaml');
    }
  });

  test('an unknown revision is a usage error', async () => {
    const { code, out } = await plan({ git: '.', from: 'no-such-rev', to: 'HEAD' });
    expect(code).toBe(2);
    expect(out).toMatch(/no-such-rev is not a commit of the git repository/);
  });
});

describe('mamori plan with signing configured', () => {
  test('each changed file with the signers who may sign it (the last matching rule), or nobody', async () => {
    const key = (n: string): string => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${n.repeat(43)} ${n}`;
    writeFileSync(
      join(dir, 'signing.yaml'),
      `signing:
  signers:
    ops-alice: { ssh: ["${key('A')}"] }
    acme-dev: { ssh: ["${key('B')}"] }
    globex-dev: { ssh: ["${key('C')}"] }
  groups: { operators: [ops-alice] }
  paths:
    - { glob: "customers/acme/**", signers: [acme-dev, operators] }
    - { glob: "customers/acme/runbooks/**", signers: [operators] }
    - { glob: "customers/globex/servers/*.yaml", signers: [globex-dev, operators] }
`,
    );
    git('tag', 'second-signing', 'HEAD');
    const json = await plan({ git: '.', from: 'first', to: 'second-signing', config: 'signing.yaml' });
    expect(json.code).toBe(0);
    expect((JSON.parse(json.out) as Plan).signers).toEqual([
      { file: 'customers/acme/runbooks/acme-httpd.yaml', glob: 'customers/acme/runbooks/**', signers: ['ops-alice'] },
      { file: 'customers/acme/servers/web02.yaml', glob: 'customers/acme/**', signers: ['acme-dev', 'ops-alice'] },
      { file: 'customers/acme/servers/web03.yaml', glob: 'customers/acme/**', signers: ['acme-dev', 'ops-alice'] },
      { file: 'customers/globex/servers/old01.yaml', glob: 'customers/globex/servers/*.yaml', signers: ['globex-dev', 'ops-alice'] },
      { file: 'operator/runbooks/std-httpd-el-sysv.yaml', signers: [] },
    ]);
    const text = await plan({ git: '.', from: 'first', to: 'second-signing', config: 'signing.yaml', format: 'text' });
    expect(text.out).toContain('Signers needed');
    expect(text.out).toContain('  customers/acme/servers/web03.yaml: one of acme-dev, ops-alice (customers/acme/**)');
    expect(text.out).toContain('  operator/runbooks/std-httpd-el-sysv.yaml: nobody: no path rule matches this file');
    const md = await plan({ git: '.', from: 'first', to: 'second-signing', config: 'signing.yaml', format: 'markdown' });
    expect(md.out).toContain('#### Signers needed');
    expect(md.out).toContain('| `customers/acme/runbooks/acme-httpd.yaml` | one of ops-alice (customers/acme/runbooks/**) |');
  }, 240_000);
});

describe('mamori plan between two folders, with an invalid revision', () => {
  test('an invalid server is listed as invalid with its finding, not as removed; the rest is planned', async () => {
    const before = join(dir, 'before');
    const after = join(dir, 'after');
    cpSync(join(dir, 'manifests'), before, { recursive: true });
    cpSync(join(dir, 'manifests'), after, { recursive: true });
    try {
      const web02 = join(after, 'customers/acme/servers/web02.yaml');
      writeFileSync(web02, readFileSync(web02, 'utf8').replace('family: centos, version: "5.8"', 'family: ubuntu, version: "22.04"'));
      const custom = join(after, 'customers/acme/runbooks/acme-httpd.yaml');
      writeFileSync(custom, CUSTOM('"rm -rf /"'));
      const { code, out } = await plan({ from: 'before', to: 'after' });
      expect(code).toBe(0);
      const result = JSON.parse(out) as Plan;
      // web02's OS is refused; web01 names the refused runbook, so it is not valid either.
      expect(result.servers.invalid.map((s) => s.name)).toEqual(['web01', 'web02']);
      expect(result.servers.removed).toEqual([]);
      expect(result.findings.to).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ file: 'customers/acme/servers/web02.yaml', severity: 'error' }),
          expect.objectContaining({ file: 'customers/acme/runbooks/acme-httpd.yaml', line: 9, rule: 'policy-forbidden-command', message: expect.stringMatching(/^refused by rule rm-root:/) }),
        ]),
      );
    } finally {
      rmSync(before, { recursive: true, force: true });
      rmSync(after, { recursive: true, force: true });
    }
  });
});

describe('mamori plan --exit-code', () => {
  test('3 when the change does something, 0 for a revision against itself; without the flag, 0', async () => {
    expect((await plan({ git: '.', from: 'first', to: 'HEAD', exitCode: true })).code).toBe(3);
    expect((await plan({ git: '.', from: 'HEAD', to: 'HEAD', exitCode: true })).code).toBe(0);
    expect((await plan({ git: '.', from: 'first', to: 'HEAD' })).code).toBe(0);
    // Usage keeps 2: a revision that does not exist.
    expect((await plan({ git: '.', from: 'no-such-rev', to: 'HEAD', exitCode: true })).code).toBe(2);
  });
});
