import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { GitSource } from '../../src/source/git.ts';
import { SourceSyncer } from '../../src/source/syncer.ts';
import { createGitFixture, serverPath, serverYaml, type GitFixture } from './git-fixture.ts';
import { recordingDesired } from './harness.ts';

let fixtures: GitFixture[] = [];
let syncers: SourceSyncer[] = [];
afterEach(async () => {
  for (const s of syncers) await s.stop();
  for (const f of fixtures) f.cleanup();
  fixtures = [];
  syncers = [];
});

function setup(holds: { maxRemovedFraction?: number; holdRollbacks?: boolean } = {}) {
  const repo = createGitFixture();
  fixtures.push(repo);
  const rec = recordingDesired(holds);
  const source = new GitSource({ url: repo.bare, ref: 'main', path: '', cacheDir: join(repo.dir, 'cache'), logger: silentLogger() });
  const syncer = new SourceSyncer({ source, desired: rec.desired, logger: silentLogger(), backoff: { initialMs: 50, maxMs: 200 } });
  syncers.push(syncer);
  return { repo, rec, source, syncer };
}

describe('git source', () => {
  it('applies a pushed commit that adds a server, and reads files straight from the commit', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    const first = repo.commit('add web01');
    repo.push();
    const report = await syncer.start();
    expect(report.ok).toBe(true);
    expect(report.outcome).toMatchObject({ result: 'applied', revision: first, added: ['acme/web01'] });
    repo.write(serverPath('web02'), serverYaml('web02'));
    const second = repo.commit('add web02');
    repo.push();
    const again = await syncer.trigger('manual');
    expect(again.outcome).toMatchObject({ result: 'applied', revision: second, added: ['acme/web02'] });
    expect([...rec.current().keys()].sort()).toEqual(['acme/web01', 'acme/web02']);
    expect((await syncer.trigger('manual')).outcome).toMatchObject({ result: 'unchanged' });
  });

  it('a new revision reads from the object store only the blobs the last one did not have; its files are those a fresh cache reads', async () => {
    const { repo, source } = setup();
    for (const n of ['web01', 'web02', 'web03']) repo.write(serverPath(n), serverYaml(n));
    repo.commit('three servers');
    repo.push();
    const first = await source.sync();
    if (!first.ok) throw new Error(first.message);
    expect(first.snapshot.objectsRead).toBe(first.snapshot.files.length);
    expect(first.snapshot.files.length).toBeGreaterThanOrEqual(3);
    expect(first.snapshot.timings).toEqual(expect.objectContaining({ fetch: expect.any(Number), read: expect.any(Number) }));
    repo.write(serverPath('web02'), serverYaml('web02', { port: 8080 }));
    repo.commit('web02 on 8080');
    repo.push();
    const second = await source.sync();
    if (!second.ok) throw new Error(second.message);
    expect(second.snapshot.objectsRead).toBe(1);
    const fresh = await new GitSource({ url: repo.bare, ref: 'main', path: '', cacheDir: join(repo.dir, 'cache-fresh'), logger: silentLogger() }).sync();
    if (!fresh.ok) throw new Error(fresh.message);
    const text = (s: typeof fresh.snapshot): string[][] => s.files.map((f) => [f.path, Buffer.from(f.content as Uint8Array).toString('utf8')]);
    expect(text(second.snapshot)).toEqual(text(fresh.snapshot));
    expect(second.snapshot.digest).toBe(fresh.snapshot.digest);
    expect(text(second.snapshot).find(([p]) => p === serverPath('web02'))?.[1]).toContain('8080');
  });

  it('reports a YAML file where no manifest is read (servers/ at the top), but not .github/ or mamori.yaml', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    repo.write('servers/web02.yaml', serverYaml('web02'));
    repo.write('.github/workflows/ci.yml', 'on: push\n');
    repo.write('mamori.yaml', 'apiVersion: mamori/v1\nkind: Config\n');
    repo.commit('web01, and web02 in the wrong place');
    repo.push();
    await syncer.start();
    expect([...rec.current().keys()]).toEqual(['acme/web01']);
    const strays = rec.desired.status().findings.filter((f) => f.rule === 'file-stray');
    expect(strays).toEqual([expect.objectContaining({ file: 'servers/web02.yaml', severity: 'error', message: expect.stringMatching(/customers\/<customer>\/servers\/<name>\.yaml/) })]);
  });

  it('keeps the last good manifest of a server whose new one is invalid, with a ManifestInvalid condition', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    repo.write(serverPath('web02'), serverYaml('web02'));
    const good = repo.commit('two servers');
    repo.push();
    await syncer.start();
    repo.write(serverPath('web01'), serverYaml('web01').replace('plan: basic', 'plan: entry-celeron-nope'));
    repo.write(serverPath('web02'), serverYaml('web02', { services: ['http', 'smtp'] }));
    const bad = repo.commit('break web01, change web02');
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'applied', revision: bad, keptLastGood: ['acme/web01'], changed: ['acme/web02'] });
    const web01 = rec.current().get('acme/web01');
    expect(web01?.revision).toBe(good);
    expect(web01?.condition?.type).toBe('ManifestInvalid');
    expect(web01?.condition?.findings[0]).toMatchObject({ file: serverPath('web01'), field: 'spec.plan' });
    expect(rec.current().get('acme/web02')?.document.doc.spec.services).toHaveLength(2);
    expect(rec.desired.status().manifestInvalid['acme/web01']?.revision).toBe(bad);
  });

  it('keeps the whole previous revision when the operator documents break', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    const good = repo.commit('one');
    repo.push();
    await syncer.start();
    repo.write('operator/catalog.yaml', 'apiVersion: mamori/v1\nkind: Catalog\nspec: [this is not a catalog\n');
    repo.write(serverPath('web02'), serverYaml('web02'));
    const broken = repo.commit('break the catalog');
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'refused', revision: broken, reason: 'OperatorDocumentsInvalid' });
    expect(rec.desired.appliedRevision).toBe(good);
    expect([...rec.current().keys()]).toEqual(['acme/web01']);
    expect(rec.notifications.map((n) => n.kind)).toEqual(['revision-refused']);
  });

  it('follows a force-push onto another line of history', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    repo.commit('one');
    repo.write(serverPath('web02'), serverYaml('web02'));
    repo.commit('two');
    repo.push();
    await syncer.start();
    repo.git('reset', '--quiet', '--hard', 'HEAD~1');
    repo.write(serverPath('web03'), serverYaml('web03'));
    const rewritten = repo.commit('rewritten history');
    repo.push({ force: true });
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'applied', revision: rewritten });
    expect([...rec.current().keys()].sort()).toEqual(['acme/web01', 'acme/web03']);
    expect(rec.archived).toEqual(['acme/web02']);
  });

  it('holds a rollback to an ancestor until an operator confirms it', async () => {
    const { repo, rec, syncer } = setup({ maxRemovedFraction: 1 });
    repo.write(serverPath('web01'), serverYaml('web01'));
    const older = repo.commit('one');
    repo.write(serverPath('web02'), serverYaml('web02'));
    const newer = repo.commit('two');
    repo.push();
    await syncer.start();
    repo.git('reset', '--quiet', '--hard', older);
    repo.push({ force: true });
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'held', revision: older, reason: 'Rollback' });
    expect(rec.desired.appliedRevision).toBe(newer);
    expect(rec.desired.status().held?.revision).toBe(older);
    // Polling again does not tell the operator twice.
    await syncer.trigger('poll');
    expect(rec.notifications.filter((n) => n.kind === 'revision-held')).toHaveLength(1);
    await expect(syncer.confirm('0000000')).rejects.toMatchObject({ code: 'MAMORI_DAEMON_NOT_HELD' });
    const confirmed = await syncer.confirm(older.slice(0, 10));
    expect(confirmed).toMatchObject({ result: 'applied', revision: older, removed: ['acme/web02'] });
    expect(rec.archived).toEqual(['acme/web02']);
    // The confirmed revision is now the base: the next poll is quiet.
    expect((await syncer.trigger('poll')).outcome).toMatchObject({ result: 'unchanged' });
  });

  it('holds a revision that removes more than the allowed share of the fleet', async () => {
    const { repo, rec, syncer } = setup({ maxRemovedFraction: 0.3 });
    for (const n of ['a1', 'a2', 'a3', 'a4']) repo.write(serverPath(n), serverYaml(n));
    repo.commit('four');
    repo.push();
    await syncer.start();
    repo.remove(serverPath('a1'));
    const one = repo.commit('remove one of four');
    repo.push();
    expect((await syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: one, removed: ['acme/a1'] });
    repo.remove(serverPath('a2'));
    repo.remove(serverPath('a3'));
    const mass = repo.commit('remove two of three');
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'held', reason: 'TooManyRemovals', revision: mass });
    expect([...rec.current().keys()].sort()).toEqual(['acme/a2', 'acme/a3', 'acme/a4']);
    expect(rec.archived).toEqual(['acme/a1']);
    await syncer.confirm(mass);
    expect([...rec.current().keys()]).toEqual(['acme/a4']);
    expect(rec.archived).toEqual(['acme/a1', 'acme/a2', 'acme/a3']);
  });

  it('keeps the last revision while the remote is unreachable, and recovers when it is back', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    const rev = repo.commit('one');
    repo.push();
    await syncer.start();
    renameSync(repo.bare, `${repo.bare}.away`);
    const down = await syncer.trigger('poll');
    expect(down).toMatchObject({ ok: false, reason: 'SourceUnavailable' });
    expect(syncer.status().condition).toMatchObject({ type: 'SourceUnavailable', status: 'True', reason: 'SourceUnavailable' });
    expect(syncer.status().consecutiveFailures).toBe(1);
    expect(rec.desired.appliedRevision).toBe(rev);
    expect(syncer.status().synced).toBe(true);
    renameSync(`${repo.bare}.away`, repo.bare);
    repo.write(serverPath('web02'), serverYaml('web02'));
    const next = repo.commit('two');
    repo.push();
    // The backoff timer retries on its own.
    await expect.poll(() => rec.desired.appliedRevision, { timeout: 10_000, interval: 50 }).toBe(next);
    await expect.poll(() => syncer.status().condition.status, { timeout: 5000, interval: 20 }).toBe('False');
    expect(syncer.status().condition.reason).toBe('Synced');
  });

  it('remembers the applied revision across a restart, and judges the next one against it', async () => {
    const { repo, source } = setup({ maxRemovedFraction: 0.3 });
    for (const n of ['b1', 'b2', 'b3']) repo.write(serverPath(n), serverYaml(n));
    const rev = repo.commit('three');
    repo.push();
    const first = recordingDesired({ maxRemovedFraction: 0.3 });
    const s1 = new SourceSyncer({ source, desired: first.desired, logger: silentLogger() });
    await s1.start();
    await s1.stop();
    repo.remove(serverPath('b1'));
    repo.remove(serverPath('b2'));
    repo.commit('remove two of three');
    repo.push();
    const second = recordingDesired({ maxRemovedFraction: 0.3 });
    const again = new GitSource({ url: repo.bare, ref: 'main', path: '', cacheDir: join(repo.dir, 'cache'), logger: silentLogger() });
    const s2 = new SourceSyncer({ source: again, desired: second.desired, logger: silentLogger() });
    syncers.push(s2);
    const report = await s2.start();
    expect(second.applied[0]?.revision).toBe(rev);
    expect(report.outcome).toMatchObject({ result: 'held', reason: 'TooManyRemovals' });
  });

  it('follows a tag, and a manifests folder inside the repository', async () => {
    const repo = createGitFixture({ manifestsPath: 'deploy/manifests' });
    fixtures.push(repo);
    repo.write(serverPath('t1'), serverYaml('t1'));
    const tagged = repo.commit('tagged');
    repo.git('tag', 'v1');
    repo.git('push', '--quiet', 'origin', 'v1');
    repo.write(serverPath('t2'), serverYaml('t2'));
    repo.commit('after the tag');
    repo.push();
    const rec = recordingDesired();
    const source = new GitSource({ url: repo.bare, ref: 'v1', path: 'deploy/manifests', cacheDir: join(repo.dir, 'cache-tag'), logger: silentLogger() });
    const syncer = new SourceSyncer({ source, desired: rec.desired, logger: silentLogger() });
    syncers.push(syncer);
    const report = await syncer.start();
    expect(report.outcome).toMatchObject({ result: 'applied', revision: tagged, added: ['acme/t1'] });
  });

  it('keeps credentials out of errors', async () => {
    const rec = recordingDesired();
    const repo = createGitFixture();
    fixtures.push(repo);
    const source = new GitSource({
      url: 'http://deploy:hunter2-secret@127.0.0.1:9/manifests.git',
      ref: 'main',
      path: '',
      cacheDir: join(repo.dir, 'cache-creds'),
      credentials: { kind: 'token', token: 'tok-abcdef-123456' },
      logger: silentLogger(),
    });
    expect(source.description).toBe('git http://127.0.0.1:9/manifests.git#main');
    const syncer = new SourceSyncer({ source, desired: rec.desired, logger: silentLogger() });
    syncers.push(syncer);
    const report = await syncer.start();
    expect(report).toMatchObject({ ok: false, reason: 'SourceUnavailable' });
    expect(report.message).not.toContain('hunter2');
    expect(report.message).not.toContain('tok-abcdef');
  });
});
