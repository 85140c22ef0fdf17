import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { FolderSource } from '../../src/source/folder.ts';
import { SourceSyncer, type SyncReport } from '../../src/source/syncer.ts';
import { REPO_ROOT, serverPath, serverYaml } from './git-fixture.ts';
import { recordingDesired } from './harness.ts';

let dirs: string[] = [];
let syncers: SourceSyncer[] = [];
afterEach(async () => {
  for (const s of syncers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  syncers = [];
});

function setup() {
  const root = mkdtempSync(join(tmpdir(), 'mamori-folder-'));
  dirs.push(root);
  cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(root, 'operator'), { recursive: true });
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const rec = recordingDesired();
  const reports: SyncReport[] = [];
  const source = new FolderSource({ root, debounceMs: 150, logger: silentLogger() });
  const syncer = new SourceSyncer({ source, desired: rec.desired, logger: silentLogger(), onReport: (r) => reports.push(r) });
  syncers.push(syncer);
  return { root, write, rec, reports, syncer, source };
}

describe('folder source', () => {
  it('reloads the whole folder after a burst of changes, once, with a content-hash revision', async () => {
    const { write, rec, reports, syncer } = setup();
    write(serverPath('web01'), serverYaml('web01'));
    const start = await syncer.start();
    expect(start.outcome).toMatchObject({ result: 'applied', added: ['acme/web01'] });
    expect(start.outcome?.revision).toMatch(/^sha256:[0-9a-f]{16}$/);
    // A burst of writes (an editor saving, a git checkout) is one reload after the quiet time.
    for (const n of ['web02', 'web03', 'web04']) write(serverPath(n), serverYaml(n));
    await expect.poll(() => rec.current().size, { timeout: 10_000, interval: 50 }).toBe(4);
    const watchReports = reports.filter((r) => r.trigger === 'watch');
    expect(watchReports.length).toBeGreaterThanOrEqual(1);
    expect(watchReports.length).toBeLessThanOrEqual(2);
  });

  it('gives equal files the same revision, and a changed file a new one', async () => {
    const { write, source } = setup();
    write(serverPath('web01'), serverYaml('web01'));
    const a = await source.sync();
    const b = await source.sync();
    write(serverPath('web01'), serverYaml('web01', { services: ['http', 'ssh'] }));
    const c = await source.sync();
    if (!a.ok || !b.ok || !c.ok) throw new Error('sync failed');
    expect(a.snapshot.revision).toBe(b.snapshot.revision);
    expect(c.snapshot.revision).not.toBe(a.snapshot.revision);
  });

  it('the daemon load reports a stray YAML file and a customers/ linked out of the folder, and follows neither', async () => {
    const { root, write, rec, syncer } = setup();
    write('servers/web05.yaml', serverYaml('web05'));
    const outside = mkdtempSync(join(tmpdir(), 'mamori-folder-out-'));
    dirs.push(outside);
    mkdirSync(join(outside, 'acme', 'servers'), { recursive: true });
    writeFileSync(join(outside, 'acme', 'servers', 'web06.yaml'), serverYaml('web06'));
    symlinkSync(outside, join(root, 'customers'));
    await syncer.start();
    const findings = rec.desired.status().findings;
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'servers/web05.yaml', rule: 'file-stray', severity: 'error' }),
        expect.objectContaining({ file: 'customers', rule: 'file-symlink', severity: 'error' }),
      ]),
    );
    expect(rec.current().size).toBe(0);
  });

  it('refuses a symbolic link that leaves the folder (the loader reader), and a missing folder is SourceUnavailable', async () => {
    const { root, source } = setup();
    mkdirSync(join(root, 'customers', 'acme', 'servers'), { recursive: true });
    symlinkSync('/etc/hostname', join(root, 'customers', 'acme', 'servers', 'web09.yaml'));
    const r = await source.sync();
    if (!r.ok) throw new Error('sync failed');
    expect(r.snapshot.errors).toEqual([expect.objectContaining({ file: 'customers/acme/servers/web09.yaml', severity: 'error' })]);
    expect(r.snapshot.files.some((f) => f.path.endsWith('web09.yaml'))).toBe(false);
    const missing = new FolderSource({ root: join(root, 'nope'), debounceMs: 10, logger: silentLogger() });
    expect(await missing.sync()).toMatchObject({ ok: false, reason: 'SourceUnavailable' });
  });
});
