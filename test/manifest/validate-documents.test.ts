/**
 * The loader's contract: the examples pass; a bad document never hides the good
 * ones; every error of a file is reported; checks and runbook selection plug in;
 * a revision's files validate from memory, without touching disk.
 */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifests, validateManifests } from '../../src/manifest/load-manifests.ts';
import { FileCheckCache, validateDocuments } from '../../src/manifest/validate-documents.ts';
import { runbookSelector } from '../../src/runbook/manifest-hooks.ts';
import { readManifestTree, SHIPPED_OPERATOR_DIR } from '../../src/manifest/read-tree.ts';
import { loadConfig, resolveConfig } from '../../src/config/load-config.ts';
import { findingAt } from '../../src/manifest/finding.ts';
import { formatFinding } from '../../src/manifest/format-findings.ts';
import type { ManifestFile, SemanticCheck } from '../../src/manifest/types.ts';
import { EXAMPLES, REPO, config } from './helpers.ts';

const errors = (fs: { severity: string }[]): number => fs.filter((f) => f.severity === 'error').length;

/** Each server its own address: two servers may never share one (duplicate-address). */
let nextHost = 0;

function server(name: string, customer: string, extra: Record<string, string> = {}): string {
  const fields = {
    address: `203.0.113.${(nextHost++ % 250) + 1}`,
    os: '{ family: centos, version: "5.4" }',
    plan: 'basic',
    hostKey: '"SHA256:n5b4EE+KUGOtL6UdDkL/CCe7RFkrTSLS1mNAdXJPHyE"',
    ...extra,
  };
  return `apiVersion: mamori/v1
kind: Server
metadata: { name: ${name}, customer: ${customer} }
spec:
  address: ${fields.address}
  os: ${fields.os}
  plan: ${fields.plan}
  contact: { email: ops@${customer}.example }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: [ping, http, ssh]
  access: { user: mamori, hostKey: ${fields.hostKey}, credentials: { secretRef: ${customer}-${name} } }
`;
}

async function operatorFiles(): Promise<ManifestFile[]> {
  const tree = await readManifestTree('/nonexistent-root', { operatorDir: SHIPPED_OPERATOR_DIR });
  return tree.files;
}

describe('the examples', () => {
  test('validate with their config: four servers, every OS family, all nine services, a custom runbook', async () => {
    const exConfig = await loadConfig(join(EXAMPLES, 'mamori.yaml'));
    const set = await loadManifests(EXAMPLES, { config: exConfig });
    expect(set.findings.map(formatFinding)).toEqual([]);
    expect([...set.servers.keys()].sort()).toEqual(['acme/mail01', 'acme/web01', 'globex/app01', 'globex/db01']);
    const families = new Set([...set.servers.values()].map((s) => `${s.doc.spec.os.family}${s.doc.spec.os.variant ? ` ${s.doc.spec.os.variant}` : ''}`));
    expect(families).toEqual(new Set(['centos', 'freebsd', 'rhel es', 'rhel server']));
    const services = new Set([...set.servers.values()].flatMap((s) => s.doc.spec.services.map((x) => (typeof x === 'string' ? x : Object.keys(x)[0]))));
    expect(services).toEqual(new Set(['ping', 'http', 'https', 'ftp', 'ssh', 'telnet', 'smtp', 'pop3', 'imap']));
    expect(set.runbooks.get('acme-httpd')?.owner).toEqual({ kind: 'customer', customer: 'acme' });
    expect(set.servers.get('acme/web01')?.doc.spec.console?.profile).toBe('dc1-ipmi');
    // Positions point into the file.
    expect(set.servers.get('acme/web01')?.positionOf('spec.access.hostKey')).toEqual({ line: 24, col: 5 });
  });

  test('fail against the embedded defaults only where the config matters (its console profiles)', async () => {
    const set = await loadManifests(EXAMPLES, { config });
    expect(new Set(set.findings.map((f) => f.rule))).toEqual(new Set(['owner-console-profile']));
  });
});

describe('validateDocuments (from memory)', () => {
  test('a bad server never hides the others; every error of a file is reported', async () => {
    const files: ManifestFile[] = [
      ...(await operatorFiles()),
      { path: 'customers/acme/servers/web01.yaml', content: server('web01', 'acme') },
      { path: 'customers/acme/servers/web02.yaml', content: server('web02', 'acme', { address: '203.0.113.999', plan: 'gold', hostKey: 'nope' }) },
      { path: 'customers/globex/servers/db01.yaml', content: server('db01', 'globex', { os: '{ family: freebsd, version: "10.0" }' }) },
    ];
    const set = validateDocuments(files, { config });
    expect([...set.servers.keys()].sort()).toEqual(['acme/web01', 'globex/db01']);
    const web02 = set.findings.filter((f) => f.file === 'customers/acme/servers/web02.yaml').map((f) => `${f.field} [${f.rule}]`);
    expect(web02).toEqual(expect.arrayContaining(['spec.address [schema]', 'spec.access.hostKey [schema]']));
    expect(errors(set.findings)).toBe(web02.length);
  });

  test('a server name twice within one customer is an error naming both files and lines; neither is used', async () => {
    // A folder cannot hold one file name twice, but a source handing over the same path twice (or a
    // future layout) must not make two servers one.
    const files: ManifestFile[] = [
      ...(await operatorFiles()),
      { path: 'customers/acme/servers/web01.yaml', content: server('web01', 'acme') },
      { path: 'customers/acme/servers/web01.yaml', content: `# again\n${server('web01', 'acme')}` },
      { path: 'customers/globex/servers/web01.yaml', content: server('web01', 'globex') },
    ];
    const set = validateDocuments(files, { config });
    const dup = set.findings.filter((f) => f.rule === 'duplicate-name');
    expect(dup.map((f) => `${f.file}:${f.line} ${f.field}`)).toEqual(['customers/acme/servers/web01.yaml:3 metadata.name', 'customers/acme/servers/web01.yaml:4 metadata.name']);
    expect(dup[0]?.message).toBe('the server name web01 is also used by customers/acme/servers/web01.yaml:4: server names are unique within a customer');
    expect(dup[1]?.message).toBe('the server name web01 is also used by customers/acme/servers/web01.yaml:3: server names are unique within a customer');
    expect([...set.servers.keys()]).toEqual(['globex/web01']);
  });

  test('BMCs behind one address (a BMC gateway) are told apart by port; one port is one BMC', async () => {
    const bmc = (port: number) => `  console: { profile: manual, bmc: 192.0.2.50, bmcPort: ${port} }\n`;
    const operator = await operatorFiles();
    const files = (second: number): ManifestFile[] => [
      ...operator,
      { path: 'customers/acme/servers/a1.yaml', content: server('a1', 'acme') + bmc(6230) },
      { path: 'customers/globex/servers/g1.yaml', content: server('g1', 'globex') + bmc(second) },
    ];
    const apart = validateDocuments(files(6231), { config });
    expect(apart.findings.filter((f) => f.rule === 'duplicate-address')).toEqual([]);
    expect([...apart.servers.keys()].sort()).toEqual(['acme/a1', 'globex/g1']);
    const same = validateDocuments(files(6230), { config });
    expect(same.findings.filter((f) => f.rule === 'duplicate-address').map((f) => `${f.file}:${f.line} ${f.field}`)).toEqual([
      'customers/acme/servers/a1.yaml:12 spec.console.bmc',
      'customers/globex/servers/g1.yaml:12 spec.console.bmc',
    ]);
    expect(same.servers.size).toBe(0);
  });

  test('a flood of errors in one file is capped, and counted', async () => {
    const flood = server('web01', 'a').replace('spec:\n', `spec:\n${Array.from({ length: 500 }, (_, i) => `  extra${i}: 1\n`).join('')}`);
    const set = validateDocuments([...(await operatorFiles()), { path: 'customers/a/servers/web01.yaml', content: flood }], { config });
    expect(set.findings).toHaveLength(51);
    expect(set.findings[50]?.message).toBe('and 450 more problems in this file, not shown');
  });

  test('versions compare numerically: FreeBSD 10.0 is later than 6.3, CentOS 10.0 is past the catalog', async () => {
    const files = [
      ...(await operatorFiles()),
      { path: 'customers/a/servers/bsd.yaml', content: server('bsd', 'a', { os: '{ family: freebsd, version: "10.0" }' }) },
      { path: 'customers/a/servers/el.yaml', content: server('el', 'a', { os: '{ family: centos, version: "10.0" }' }) },
    ];
    const set = validateDocuments(files, { config });
    expect(set.servers.has('a/bsd')).toBe(true);
    expect(set.findings.find((f) => f.file === 'customers/a/servers/el.yaml')?.rule).toBe('os-version');
  });

  test('rhel needs its variant; the variant decides the range', async () => {
    const files = [
      ...(await operatorFiles()),
      { path: 'customers/a/servers/es.yaml', content: server('es', 'a', { os: '{ family: rhel, variant: es, version: "4.7" }' }) },
      { path: 'customers/a/servers/es5.yaml', content: server('es5', 'a', { os: '{ family: rhel, variant: es, version: "5.1" }' }) },
      { path: 'customers/a/servers/sv.yaml', content: server('sv', 'a', { os: '{ family: rhel, variant: server, version: "5.1" }' }) },
    ];
    const set = validateDocuments(files, { config });
    expect([...set.servers.keys()].sort()).toEqual(['a/es', 'a/sv']);
    expect(set.findings.find((f) => f.file === 'customers/a/servers/es5.yaml')?.rule).toBe('os-version');
  });

  test('extra checks plug in, and their errors keep a server out', async () => {
    const seen: string[] = [];
    const noWeb: SemanticCheck = {
      name: 'no-web01',
      check: ({ servers, policyPresent }) => {
        seen.push(`policy:${policyPresent}`);
        return servers.filter((s) => s.doc.metadata.name === 'web01').map((s) => findingAt(s, 'metadata.name', 'test-rule', 'refused by a test check'));
      },
    };
    const files = [...(await operatorFiles()), { path: 'customers/a/servers/web01.yaml', content: server('web01', 'a') }];
    const set = validateDocuments(files, { config, checks: [noWeb] });
    expect(seen).toEqual(['policy:true']);
    expect(set.servers.size).toBe(0);
    expect(set.findings).toEqual([expect.objectContaining({ file: 'customers/a/servers/web01.yaml', line: 3, field: 'metadata.name', rule: 'test-rule' })]);
  });

  test('the runbook selector plugs in: none selected → runbook-missing for each service', async () => {
    const files = [...(await operatorFiles()), { path: 'customers/a/servers/web01.yaml', content: server('web01', 'a') }];
    const set = validateDocuments(files, { config, selectRunbook: () => undefined });
    expect(set.findings.map((f) => `${f.field} [${f.rule}]`)).toEqual(['spec.services[0] [runbook-missing]', 'spec.services[1] [runbook-missing]', 'spec.services[2] [runbook-missing]']);
  });

  test('a missing policy is a warning (no forbidden commands); a missing catalog an error', async () => {
    const op = (await operatorFiles()).filter((f) => f.path !== 'operator/policy.yaml');
    const withCatalog = validateDocuments([...op, { path: 'customers/a/servers/web01.yaml', content: server('web01', 'a') }], { config });
    expect(withCatalog.findings).toEqual([expect.objectContaining({ file: 'operator/policy.yaml', rule: 'policy-missing', severity: 'warning' })]);
    expect(withCatalog.servers.has('a/web01')).toBe(true);
    expect(withCatalog.policy.doc.spec.forbiddenCommands).toEqual([]);
    const none = validateDocuments([{ path: 'customers/a/servers/web01.yaml', content: server('web01', 'a') }], { config });
    expect(none.findings.some((f) => f.rule === 'catalog-missing' && f.severity === 'error')).toBe(true);
    expect(none.servers.size).toBe(0);
  });

  test('a runbook with errors is not used, and the server naming it says so', async () => {
    const rb = `apiVersion: mamori/v1
kind: Runbook
metadata: { name: a-httpd, customer: a }
spec:
  services: [http]
  steps: [{ run: { command: "true" }, check: { process: httpd } }]
`;
    const files = [
      ...(await operatorFiles()),
      { path: 'customers/a/runbooks/a-httpd.yaml', content: rb },
      { path: 'customers/a/servers/web01.yaml', content: server('web01', 'a').replace('  access:', '  runbooks: { http: a-httpd }\n  access:') },
    ];
    const set = validateDocuments(files, { config });
    expect(set.runbooks.has('a-httpd')).toBe(false);
    expect(set.servers.has('a/web01')).toBe(false);
    expect(set.findings.map((f) => `${f.file}:${f.line} ${f.field} [${f.rule}]`)).toEqual([
      'customers/a/runbooks/a-httpd.yaml:6 spec.steps[0] [schema]',
      'customers/a/servers/web01.yaml:11 spec.runbooks.http [reference-invalid]',
    ]);
  });

  test('secretRefs are namespaced per customer; a customer may name the operator standard runbooks', async () => {
    const files = [
      ...(await operatorFiles()),
      { path: 'customers/a/servers/web01.yaml', content: server('web01', 'a').replace('  access:', '  runbooks: { http: std-httpd-el-sysv }\n  access:') },
    ];
    const set = validateDocuments(files, { config });
    expect(set.findings).toEqual([]);
    expect(set.servers.get('a/web01')?.owner).toEqual({ kind: 'customer', customer: 'a' });
  });
});

describe('loadManifests (from disk)', () => {
  test('the operator folder: <root>/operator/, else config.operatorDir, else the shipped one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-op-'));
    try {
      mkdirSync(join(dir, 'customers/a/servers'), { recursive: true });
      writeFileSync(join(dir, 'customers/a/servers/web01.yaml'), server('web01', 'a'));
      const shipped = await loadManifests(dir, { config });
      expect(shipped.findings).toEqual([]);
      expect(shipped.catalog.file).toBe('operator/catalog.yaml');
      expect(shipped.runbooks.size).toBeGreaterThan(10);
      // An operator folder of the tree's own, with only a catalog: no runbooks, so every service lacks one.
      mkdirSync(join(dir, 'operator'));
      cpSync(join(REPO, 'manifests/operator/catalog.yaml'), join(dir, 'operator/catalog.yaml'));
      const own = await loadManifests(dir, { config });
      expect(own.runbooks.size).toBe(0);
      expect(own.findings.filter((f) => f.rule === 'runbook-missing')).toHaveLength(3);
      // config.operatorDir wins over the tree's own.
      const explicit = resolveConfig({ operatorDir: join(REPO, 'manifests/operator') }, REPO, undefined);
      const chosen = await loadManifests(dir, { config: explicit });
      expect(chosen.findings).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('validateManifests reports only the findings about the paths asked for', async () => {
    const root = join(REPO, 'test/fixtures/invalid/duplicate-address-across-customers');
    const set = await validateManifests(root, { config, only: [join(root, 'customers/globex')] });
    expect(set.findings.map((f) => f.file)).toEqual(['customers/globex/servers/web02.yaml']);
  });

  test('two customers may each have a web01: both are loaded, as acme/web01 and globex/web01', async () => {
    const set = await loadManifests(join(REPO, 'test/fixtures/two-customers-web01'), { config });
    expect(set.findings.filter((f) => f.severity === 'error').map(formatFinding)).toEqual([]);
    expect([...set.servers.keys()].sort()).toEqual(['acme/web01', 'globex/web01']);
    expect(set.servers.get('globex/web01')?.doc.metadata).toEqual({ name: 'web01', customer: 'globex' });
  });
});

describe('validateDocuments with a FileCheckCache (the daemon: one revision after another)', () => {
  /** What a revision's validation decides, in a form toEqual compares (positions asked of each server's address). */
  function decided(set: ReturnType<typeof validateDocuments>): unknown {
    return {
      findings: set.findings,
      servers: [...set.servers].map(([id, s]) => [id, s.file, s.owner, s.doc, s.positionOf('spec.address')]),
      runbooks: [...set.runbooks].map(([id, r]) => [id, r.file, r.owner, r.doc]),
      catalog: [set.catalog.file, set.catalog.doc],
      policy: [set.policy.file, set.policy.doc],
    };
  }

  test('the same findings and documents as a validation from scratch, revision after revision (the examples and every case of the invalid corpus, in turn); unchanged files are not read again', async () => {
    const { INVALID } = await import('./helpers.ts');
    const { CORPUS } = await import('./corpus.ts');
    const exConfig = await loadConfig(join(EXAMPLES, 'mamori.yaml'));
    // Paths relative to the tree only (no absolutePath): a file equal across two trees is reused.
    const strip = (files: ManifestFile[]): ManifestFile[] => files.map((f) => ({ path: f.path, content: f.content }));
    const examples = strip((await readManifestTree(EXAMPLES, { operatorDir: SHIPPED_OPERATOR_DIR })).files);
    const revisions: ManifestFile[][] = [examples];
    for (const c of CORPUS) {
      revisions.push(strip((await readManifestTree(join(INVALID, c.case), { operatorDir: SHIPPED_OPERATOR_DIR })).files));
      revisions.push(examples);
    }
    // A revision that changes one server of the examples, then one that breaks it, then back.
    const web01 = examples.find((f) => f.path === 'customers/acme/servers/web01.yaml');
    if (web01 === undefined) throw new Error('examples: no web01');
    const edited = (text: string): ManifestFile[] => examples.map((f) => (f === web01 ? { path: f.path, content: new TextEncoder().encode(text) } : f));
    const web01Text = new TextDecoder().decode(web01.content as Uint8Array);
    revisions.push(edited(web01Text.replace(/services:/, 'services:\n    - pop3')), edited(`${web01Text}\n  bogus: 1\n`), examples);
    // The standard runbooks gone, every server file as it was: each server's runbook coverage changes.
    revisions.push(examples.filter((f) => !f.path.startsWith('operator/runbooks/')), examples);
    const cache = new FileCheckCache();
    let reused = 0;
    for (const [i, files] of revisions.entries()) {
      const cached = validateDocuments(files, { config: exConfig, cache, selectRunbook: runbookSelector });
      const fresh = validateDocuments(files, { config: exConfig, selectRunbook: runbookSelector });
      expect(decided(cached), `revision ${i}`).toEqual(decided(fresh));
      reused += files.length - cache.checked;
    }
    // Each return to the examples reads nothing again; each corpus case reads only its own files.
    expect(reused).toBeGreaterThan(revisions.length * 5);
    validateDocuments(examples, { config: exConfig, cache, selectRunbook: runbookSelector });
    expect(cache.checked).toBe(0);
    validateDocuments(edited(`${web01Text}\n`), { config: exConfig, cache, selectRunbook: runbookSelector });
    expect(cache.checked).toBe(1);
  });
});
