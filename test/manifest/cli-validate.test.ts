/**
 * `mamori validate` as CI runs it: the real binary (bin/mamori.js), its exit codes
 * and its three output formats, on the examples and on a few corpus cases.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './helpers.ts';
import { PLANTED_SECRETS } from './corpus.ts';

function mamori(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/mamori.js'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('mamori validate', () => {
  test('passes on the examples with their config (exit 0)', () => {
    const r = mamori('validate', '--manifests', 'examples', '--config', 'examples/mamori.yaml');
    expect(r.stderr).toMatch(/^valid: 4 servers, \d+ runbooks/);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  test('text: file:line:col: error: field: message [rule], exit 1', () => {
    const r = mamori('validate', 'test/fixtures/invalid/bad-host-key');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(
      'test/fixtures/invalid/bad-host-key/customers/acme/servers/web01.yaml:15:5: error: spec.access.hostKey: must be SHA256:<43 base64 characters> (as ssh-keygen -lf prints it) [schema]\n',
    );
  });

  test('a stray YAML file and an address two customers give: exit 1, each finding at its file and line', () => {
    const stray = mamori('validate', 'test/fixtures/invalid/stray-server-at-top');
    expect(stray.status).toBe(1);
    expect(stray.stdout).toMatch(/^test\/fixtures\/invalid\/stray-server-at-top\/servers\/web01\.yaml:1:1: error: mamori reads no manifest here, so this file is ignored: documents live in .*customers\/<customer>\/servers\/<name>\.yaml.* \[file-stray\]\n$/);
    const dup = mamori('validate', 'test/fixtures/invalid/duplicate-address-across-customers');
    expect(dup.status).toBe(1);
    expect(dup.stdout.trim().split('\n').map((l) => l.replace(/: what mamori .*$/, ''))).toEqual([
      'test/fixtures/invalid/duplicate-address-across-customers/customers/acme/servers/web01.yaml:7:3: error: spec.address: the address 203.0.113.10 is also spec.address of customers/globex/servers/web02.yaml:7',
      'test/fixtures/invalid/duplicate-address-across-customers/customers/globex/servers/web02.yaml:7:3: error: spec.address: the address 203.0.113.10 is also spec.address of customers/acme/servers/web01.yaml:7',
    ]);
  });

  test('github: workflow annotations naming file, line and column', () => {
    const r = mamori('validate', '--format', 'github', 'test/fixtures/invalid/os-ubuntu');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^::error file=test\/fixtures\/invalid\/os-ubuntu\/customers\/acme\/servers\/web01\.yaml,line=8,col=9,title=mamori os-refused::spec\.os\.family: Ubuntu is not supported/);
  });

  test('json: every finding, and a refused secret is never echoed', () => {
    const r = mamori('validate', '--json', 'test/fixtures/invalid/inline-private-key', 'test/fixtures/invalid/inline-password', 'test/fixtures/invalid/duplicate-key');
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; findings: Array<{ file: string; line: number; field: string; rule: string }> };
    expect(out.ok).toBe(false);
    expect(out.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'test/fixtures/invalid/inline-private-key/customers/acme/servers/web01.yaml', line: 16, field: 'spec.access.credentials', rule: 'secret-inline' }),
        expect.objectContaining({ file: 'test/fixtures/invalid/inline-password/customers/acme/servers/web01.yaml', line: 17, field: 'spec.access.password', rule: 'secret-inline' }),
        expect.objectContaining({ file: 'test/fixtures/invalid/duplicate-key/customers/acme/servers/web01.yaml', line: 10, field: 'spec.address', rule: 'yaml-duplicate-key' }),
      ]),
    );
    for (const s of PLANTED_SECRETS) expect(r.stdout + r.stderr).not.toContain(s);
  });

  test('a file inside a manifests tree: the tree is loaded, the file is reported', () => {
    const r = mamori('validate', 'test/fixtures/invalid/runbook-of-other-customer/customers/acme/servers/web01.yaml');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('customers/acme/servers/web01.yaml:17:15: error: spec.runbooks.http: runbook globex-httpd belongs to customer globex');
  });

  test('usage errors exit 2: a missing path, a bad format, an unreadable config', () => {
    expect(mamori('validate', 'no/such/path').status).toBe(2);
    expect(mamori('validate', '--format', 'xml', 'examples').status).toBe(2);
    expect(mamori('validate', '--config', 'no-such.yaml', 'examples').status).toBe(2);
  });

  test('--help teaches, with examples', () => {
    const r = mamori('validate', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('customers/<c>/servers/<name>.yaml');
    expect(r.stdout).toContain('$ mamori validate --manifests examples --config examples/mamori.yaml');
    expect(r.stdout).toContain('--format <format>');
  });
});

describe('mamori validate --signers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-signers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const key = (n: string): string => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${n.repeat(43)} ${n}`;
  // The examples' own config, with signing: acme's servers by acme-dev, globex's by globex-dev, both by the operators.
  const config = join(dir, 'mamori.yaml');
  writeFileSync(
    config,
    `${readFileSync(join(REPO, 'examples/mamori.yaml'), 'utf8')}
signing:
  signers:
    ops-alice: { ssh: ["${key('A')}"] }
    acme-dev: { ssh: ["${key('B')}"] }
    globex-dev: { ssh: ["${key('C')}"] }
  groups: { operators: [ops-alice] }
  paths:
    - { glob: "customers/acme/servers/**", signers: [acme-dev, operators] }
    - { glob: "customers/globex/**", signers: [globex-dev, operators] }
    - { glob: "operator/**", signers: [operators] }
`,
  );

  test('names the signers each given file needs; a file nobody may change is a warning', () => {
    const r = mamori('validate', '--manifests', 'examples', '--config', config, '--signers', 'examples/customers/acme', 'examples/customers/globex/servers/app01.yaml');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'examples/customers/acme/servers/mail01.yaml: signed by one of acme-dev, ops-alice (customers/acme/servers/**)',
      'examples/customers/acme/servers/web01.yaml: signed by one of acme-dev, ops-alice (customers/acme/servers/**)',
      'examples/customers/globex/servers/app01.yaml: signed by one of globex-dev, ops-alice (customers/globex/**)',
      'examples/customers/acme/runbooks/acme-httpd.yaml:1:1: warning: no signer may change this file (no path rule matches this file): a change to it is refused [signer-none]',
      '',
    ]);
  });

  test('json and github formats carry the same', () => {
    const json = mamori('validate', '--json', '--manifests', 'examples', '--config', config, '--signers', 'examples/customers/globex');
    const out = JSON.parse(json.stdout) as { signers: Array<{ file: string; glob?: string; signers: string[] }> };
    expect(out.signers).toEqual([
      { file: 'examples/customers/globex/servers/app01.yaml', glob: 'customers/globex/**', signers: ['globex-dev', 'ops-alice'] },
      { file: 'examples/customers/globex/servers/db01.yaml', glob: 'customers/globex/**', signers: ['globex-dev', 'ops-alice'] },
    ]);
    const gh = mamori('validate', '--format', 'github', '--manifests', 'examples', '--config', config, '--signers', 'examples/customers/globex/servers/db01.yaml');
    expect(gh.stdout).toBe('::notice file=examples/customers/globex/servers/db01.yaml::signed by one of globex-dev, ops-alice (customers/globex/**)\n');
  });

  test('without signing in the config it is a usage error', () => {
    const r = mamori('validate', '--manifests', 'examples', '--config', 'examples/mamori.yaml', '--signers');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--signers needs a config with signing');
  });
});
