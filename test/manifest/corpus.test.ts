/**
 * The corpus of invalid manifests (test/fixtures/invalid/<case>/ is a manifests tree):
 * each case must be refused with a finding naming the expected file, line, field and
 * rule. Through the API for all; through the CLI for a few (corpus-cli.test.ts).
 * Cases that git cannot hold (huge files, symlinks, FIFOs) are built at run time.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifests } from '../../src/manifest/load-manifests.ts';
import { formatFinding } from '../../src/manifest/format-findings.ts';
import type { Finding } from '../../src/manifest/types.ts';
import { INVALID, config } from './helpers.ts';
import { CORPUS, PLANTED_SECRETS, type CorpusCase } from './corpus.ts';

const S = 'customers/acme/servers/web01.yaml';

function expectFinding(findings: Finding[], c: Pick<CorpusCase, 'file' | 'line' | 'field' | 'rule' | 'says'>): void {
  const hit = findings.find((f) => f.file === c.file && f.line === c.line && f.field === c.field && f.rule === c.rule && f.severity === 'error');
  expect(hit, `expected ${c.file}:${c.line} ${c.field} [${c.rule}] among:\n${findings.map(formatFinding).join('\n')}`).toBeDefined();
  if (c.says && hit) expect(hit.message).toMatch(c.says);
}

describe('the invalid corpus (API)', () => {
  test('holds at least 30 cases, each a folder in test/fixtures/invalid', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(30);
    const dirs = execFileSync('ls', [INVALID], { encoding: 'utf8' }).trim().split('\n');
    expect(new Set(dirs)).toEqual(new Set(CORPUS.map((c) => c.case)));
  });

  test('every rule the corpus expects (but schema itself) is explained in docs/reference.md', () => {
    const reference = readFileSync(join(INVALID, '../../../docs/reference.md'), 'utf8');
    const missing = [...new Set(CORPUS.map((c) => c.rule))].filter((rule) => rule !== 'schema' && !reference.includes(`\`${rule}\``));
    expect(missing).toEqual([]);
  });

  test.each(CORPUS)('$case → $file:$line $field [$rule]', async (c) => {
    const set = await loadManifests(join(INVALID, c.case), { config });
    expectFinding(set.findings, c);
    // The refused document is not among the usable ones.
    if (c.file.includes('/servers/')) expect([...set.servers.keys()].filter((id) => id.endsWith('/web01'))).toEqual([]);
    const text = set.findings.map(formatFinding).join('\n');
    for (const s of PLANTED_SECRETS) expect(text).not.toContain(s);
  });
});

describe('hostile trees built at run time', () => {
  let dir: string;
  const base = (): string => readFileSync(join(INVALID, 'customer-mismatch', S), 'utf8').replace('customer: globex', 'customer: acme');
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mamori-hostile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function tree(name: string): string {
    const root = join(dir, name);
    mkdirSync(join(root, 'customers/acme/servers'), { recursive: true });
    return root;
  }

  test('a file over the size limit is refused without being read (a 50 MB sparse file)', async () => {
    const root = tree('too-large');
    const file = join(root, S);
    writeFileSync(file, '');
    truncateSync(file, 50 * 1024 * 1024);
    const set = await loadManifests(root, { config });
    expectFinding(set.findings, { file: S, line: 1, field: '', rule: 'file-too-large' });
  });

  test('a file just over 256 KiB of valid YAML is refused', async () => {
    const root = tree('just-over');
    writeFileSync(join(root, S), `${base()}#${'x'.repeat(256 * 1024)}\n`);
    const set = await loadManifests(root, { config });
    expectFinding(set.findings, { file: S, line: 1, field: '', rule: 'file-too-large' });
  });

  test('a symbolic link leaving the folder is refused, and its target is never read', async () => {
    const root = tree('symlink-out');
    const outside = join(dir, 'outside.yaml');
    writeFileSync(outside, 'password: hunter2\n');
    symlinkSync(outside, join(root, S));
    const set = await loadManifests(root, { config });
    expectFinding(set.findings, { file: S, line: 1, field: '', rule: 'file-symlink', says: /leaves the manifests folder/ });
    expect(set.findings.map(formatFinding).join('\n')).not.toContain('hunter2');
  });

  test('a symbolic link that stays inside the tree is followed', async () => {
    const root = tree('symlink-in');
    mkdirSync(join(root, 'customers/acme/templates'));
    writeFileSync(join(root, 'customers/acme/templates/web01.txt'), base());
    symlinkSync('../templates/web01.txt', join(root, S));
    const set = await loadManifests(root, { config });
    expect(set.findings).toEqual([]);
    expect(set.servers.get('acme/web01')?.file).toBe(S);
  });

  test('a symbolic link loop is refused', async () => {
    const root = tree('symlink-loop');
    symlinkSync('b.yaml', join(root, 'customers/acme/servers/a.yaml'));
    symlinkSync('a.yaml', join(root, 'customers/acme/servers/b.yaml'));
    const set = await loadManifests(root, { config });
    expectFinding(set.findings, { file: 'customers/acme/servers/a.yaml', line: 1, field: '', rule: 'file-symlink', says: /loops/ });
  });

  test('a folder symlinked back into the tree is walked once', async () => {
    const root = tree('dir-loop');
    writeFileSync(join(root, S), base());
    symlinkSync('..', join(root, 'customers/acme/servers/again'));
    const set = await loadManifests(root, { config });
    expectFinding(set.findings, { file: 'customers/acme/servers/again', line: 1, field: '', rule: 'file-symlink', says: /loops/ });
    expect(set.servers.has('acme/web01')).toBe(true);
  });

  test('customers/ linked out of the root (customers -> /etc) is not followed: nothing under it is read', async () => {
    const root = join(dir, 'customers-out');
    mkdirSync(root);
    const outside = join(dir, 'elsewhere');
    mkdirSync(join(outside, 'acme/servers'), { recursive: true });
    // A valid server where the link leads: were it followed, web01 would load.
    writeFileSync(join(outside, 'acme/servers/web01.yaml'), base());
    symlinkSync(outside, join(root, 'customers'));
    const set = await loadManifests(root, { config });
    expectFinding(set.findings, { file: 'customers', line: 1, field: '', rule: 'file-symlink', says: /customers\/ is a symbolic link that leaves the manifests folder/ });
    expect(set.servers.size).toBe(0);
    // The same tree, the folder in place: web01 loads (so the refusal above is the link's doing).
    const inPlace = join(dir, 'customers-in-place');
    mkdirSync(inPlace);
    execFileSync('cp', ['-r', outside, join(inPlace, 'customers')]);
    expect((await loadManifests(inPlace, { config })).servers.has('acme/web01')).toBe(true);
  });

  test('a root that is itself a link is resolved once; operator/ linked out of it is refused', async () => {
    const real = tree('linked-root');
    writeFileSync(join(real, S), base());
    const link = join(dir, 'root-link');
    symlinkSync(real, link);
    expect((await loadManifests(link, { config })).servers.has('acme/web01')).toBe(true);
    // An operator folder outside the root would replace the catalog and the standard runbooks.
    mkdirSync(join(dir, 'other-operator'));
    writeFileSync(join(dir, 'other-operator/catalog.yaml'), 'not: read\n');
    symlinkSync(join(dir, 'other-operator'), join(real, 'operator'));
    const set = await loadManifests(link, { config });
    expectFinding(set.findings, { file: 'operator', line: 1, field: '', rule: 'file-symlink', says: /leaves the manifests folder/ });
    expect(set.findings.some((f) => f.file === 'operator/catalog.yaml' && f.rule === 'catalog-missing')).toBe(true);
  });

  test('YAML where no manifest is read is a finding naming the valid places; mamori.yaml and hidden folders are not', async () => {
    const root = tree('strays');
    writeFileSync(join(root, S), base());
    mkdirSync(join(root, 'servers'));
    writeFileSync(join(root, 'servers/web02.yaml'), base().replace('name: web01', 'name: web02'));
    writeFileSync(join(root, 'web03.yml'), 'kind: Server\n');
    writeFileSync(join(root, 'mamori.yaml'), 'apiVersion: mamori/v1\nkind: Config\n');
    mkdirSync(join(root, '.github/workflows'), { recursive: true });
    writeFileSync(join(root, '.github/workflows/ci.yml'), 'on: push\n');
    writeFileSync(join(root, 'README.md'), '# fleet\n');
    const outside = join(dir, 'stray-outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.yaml'), 'password: hunter2\n');
    symlinkSync(outside, join(root, 'linked'));
    const set = await loadManifests(root, { config });
    expectFinding(set.findings, { file: 'servers/web02.yaml', line: 1, field: '', rule: 'file-stray', says: /mamori reads no manifest here.*customers\/<customer>\/servers\/<name>\.yaml/ });
    expectFinding(set.findings, { file: 'web03.yml', line: 1, field: '', rule: 'file-stray' });
    expectFinding(set.findings, { file: 'linked', line: 1, field: '', rule: 'file-symlink', says: /leaves the manifests folder/ });
    expect(set.findings.filter((f) => f.severity === 'error').map((f) => f.file).sort()).toEqual(['linked', 'servers/web02.yaml', 'web03.yml']);
    expect(set.servers.has('acme/web01')).toBe(true);
    expect([...set.servers.keys()].filter((id) => id.endsWith('web02'))).toEqual([]);
  });

  test('a FIFO named like a manifest is refused instead of blocking the read', async () => {
    const root = tree('fifo');
    execFileSync('mkfifo', [join(root, S)]);
    const set = await loadManifests(root, { config });
    expectFinding(set.findings, { file: S, line: 1, field: '', rule: 'file-type' });
  });
});
