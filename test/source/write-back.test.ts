import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { GitSource } from '../../src/source/git.ts';
import { StatusWriteBack } from '../../src/source/write-back.ts';
import { createGitFixture, gitIn, type GitFixture } from './git-fixture.ts';

let fixtures: GitFixture[] = [];
afterEach(() => {
  for (const f of fixtures) f.cleanup();
  fixtures = [];
});

function setup() {
  const repo = createGitFixture({ withOperator: false });
  fixtures.push(repo);
  repo.write('README', 'manifests\n');
  repo.commit('init');
  repo.push();
  const statusDir = join(repo.dir, 'state', 'status');
  mkdirSync(statusDir, { recursive: true });
  const source = new GitSource({ url: repo.bare, ref: 'main', path: '', cacheDir: join(repo.dir, 'cache'), logger: silentLogger() });
  const writeBack = new StatusWriteBack({ source, url: repo.bare, branch: 'mamori-status', statusDir, intervalMs: 60_000, logger: silentLogger(), revision: () => 'abc123' });
  return { repo, statusDir, writeBack };
}

const inBare = (repo: GitFixture, ...args: string[]): string => gitIn(repo.bare, args);

describe('status write-back', () => {
  it('commits the status files to the status branch of the bare repository, once per change', async () => {
    const { repo, statusDir, writeBack } = setup();
    writeFileSync(join(statusDir, 'web01.yaml'), 'server: web01\nstate: Healthy\n');
    writeFileSync(join(statusDir, 'web01.yaml.8f3a1c'), 'half-written temp file');
    const first = await writeBack.flush();
    expect(first).toMatchObject({ pushed: true });
    expect(inBare(repo, 'ls-tree', '-r', '--name-only', 'mamori-status').trim().split('\n')).toEqual(['status/web01.yaml']);
    expect(inBare(repo, 'show', 'mamori-status:status/web01.yaml')).toContain('Healthy');
    expect(inBare(repo, 'log', '-1', '--format=%s', 'mamori-status').trim()).toBe('status at manifests revision abc123');
    expect(await writeBack.flush()).toEqual({ pushed: false, reason: 'unchanged' });
    writeFileSync(join(statusDir, 'web01.yaml'), 'server: web01\nstate: Down\n');
    rmSync(join(statusDir, 'web01.yaml.8f3a1c'));
    expect(await writeBack.flush()).toMatchObject({ pushed: true });
    expect(inBare(repo, 'rev-list', '--count', 'mamori-status').trim()).toBe('2');
    // The manifests branch is untouched.
    expect(inBare(repo, 'rev-list', '--count', 'main').trim()).toBe('1');
  });

  it("never force-pushes over someone else's commit: it builds on top and keeps their files", async () => {
    const { repo, statusDir, writeBack } = setup();
    writeFileSync(join(statusDir, 'web01.yaml'), 'state: Healthy\n');
    const ours = await writeBack.flush();
    if (!ours.pushed) throw new Error('not pushed');
    // Another writer pushes to the status branch in between.
    const other = mkdtempSync(join(repo.dir, 'other-'));
    gitIn(other, ['clone', '--quiet', '--branch', 'mamori-status', repo.bare, '.']);
    writeFileSync(join(other, 'NOTES.md'), 'a human note\n');
    gitIn(other, ['add', 'NOTES.md']);
    gitIn(other, ['-c', 'user.name=Other', '-c', 'user.email=other@example.test', 'commit', '--quiet', '-m', 'note']);
    gitIn(other, ['push', '--quiet', 'origin', 'mamori-status']);
    const theirs = gitIn(other, ['rev-parse', 'HEAD']).trim();

    writeFileSync(join(statusDir, 'web02.yaml'), 'state: Down\n');
    const next = await writeBack.flush();
    if (!next.pushed) throw new Error('not pushed');
    expect(inBare(repo, 'rev-parse', `${next.commit}^`).trim()).toBe(theirs);
    expect(inBare(repo, 'merge-base', '--is-ancestor', ours.commit, next.commit)).toBe('');
    expect(inBare(repo, 'ls-tree', '-r', '--name-only', 'mamori-status').trim().split('\n')).toEqual(['NOTES.md', 'status/web01.yaml', 'status/web02.yaml']);
  });

  it('loses a push race, fetches, rebuilds on the winner and pushes again (never forced)', async () => {
    const { repo, statusDir, writeBack } = setup();
    writeFileSync(join(statusDir, 'web01.yaml'), 'state: Healthy\n');
    await writeBack.flush();
    // Another writer, ready to push the moment our push starts.
    const other = mkdtempSync(join(repo.dir, 'racer-'));
    gitIn(other, ['clone', '--quiet', '--branch', 'mamori-status', repo.bare, '.']);
    writeFileSync(join(other, 'RACE.md'), 'pushed between their fetch and their push\n');
    gitIn(other, ['add', 'RACE.md']);
    gitIn(other, ['-c', 'user.name=Racer', '-c', 'user.email=racer@example.test', 'commit', '--quiet', '-m', 'race']);
    const theirs = gitIn(other, ['rev-parse', 'HEAD']).trim();
    // git runs pre-push in the pushing repository (mamori's cache) after mamori fetched and built
    // its commit: the racer's push lands exactly in that window, once.
    const hook = join(repo.dir, 'cache', 'hooks', 'pre-push');
    const flag = join(repo.dir, 'raced');
    mkdirSync(join(repo.dir, 'cache', 'hooks'), { recursive: true });
    writeFileSync(
      hook,
      `#!/bin/sh\n[ -e '${flag}' ] && exit 0\ntouch '${flag}'\nunset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\ncd '${other}' && git push --quiet origin mamori-status >/dev/null 2>&1\nexit 0\n`,
    );
    chmodSync(hook, 0o755);
    writeFileSync(join(statusDir, 'web02.yaml'), 'state: Down\n');
    const r = await writeBack.flush();
    expect(existsSync(flag)).toBe(true);
    expect(r).toMatchObject({ pushed: true, attempts: 2 });
    if (!r.pushed) throw new Error('not pushed');
    expect(inBare(repo, 'rev-parse', `${r.commit}^`).trim()).toBe(theirs);
    expect(inBare(repo, 'ls-tree', '-r', '--name-only', 'mamori-status').trim().split('\n')).toEqual(['RACE.md', 'status/web01.yaml', 'status/web02.yaml']);
  });

  it('moves an archived status file with the status folder, in one commit', async () => {
    const { repo, statusDir, writeBack } = setup();
    writeFileSync(join(statusDir, 'a.yaml'), 'state: Healthy\n');
    writeFileSync(join(statusDir, 'b.yaml'), 'state: Healthy\n');
    await writeBack.flush();
    rmSync(join(statusDir, 'b.yaml'));
    mkdirSync(join(statusDir, 'archive'));
    writeFileSync(join(statusDir, 'archive', 'b.yaml'), 'state: Healthy\narchived: true\n');
    const r = await writeBack.flush();
    expect(r).toMatchObject({ pushed: true, attempts: 1 });
    expect(inBare(repo, 'ls-tree', '-r', '--name-only', 'mamori-status').trim().split('\n')).toEqual(['status/a.yaml', 'status/archive/b.yaml']);
  });

  it('with hooks (the elected publisher): nothing fetched when not flushing, the tip handed to prepare, no push once mayPush says no', async () => {
    const { repo, statusDir } = setup();
    const source = new GitSource({ url: repo.bare, ref: 'main', path: '', cacheDir: join(repo.dir, 'cache-hooks'), logger: silentLogger() });
    let flush = false;
    let push = true;
    const tips: Array<{ commit: string; message: string } | undefined> = [];
    const committed: unknown[] = [];
    let n = 0;
    const writeBack = new StatusWriteBack({
      source, url: repo.bare, branch: 'mamori-status', statusDir, intervalMs: 60_000, logger: silentLogger(),
      hooks: {
        shouldFlush: () => flush,
        prepare: async (tip) => {
          tips.push(tip);
          n++;
          writeFileSync(join(statusDir, 'web01.yaml'), `state: ${n % 2 === 0 ? 'Down' : 'Healthy'}\n`);
          return { message: `status\n\nMamori-Status-Revision: ${n}\n` };
        },
        mayPush: () => push,
        committed: (r) => committed.push(r),
      },
    });
    expect(await writeBack.flush()).toEqual({ pushed: false, reason: 'skipped' });
    expect(tips).toEqual([]);
    flush = true;
    const first = await writeBack.flush();
    expect(first).toMatchObject({ pushed: true });
    expect(tips).toEqual([undefined]);
    expect(committed).toEqual([first]);
    expect(inBare(repo, 'log', '-1', '--format=%B', 'mamori-status')).toContain('Mamori-Status-Revision: 1');
    // The next prepare sees the branch's tip and its message; a tree like the tip's is no commit.
    n = 2;
    const same = await writeBack.flush();
    expect(same).toEqual({ pushed: false, reason: 'unchanged' });
    expect(tips[1]).toMatchObject({ commit: inBare(repo, 'rev-parse', 'mamori-status').trim(), message: expect.stringContaining('Mamori-Status-Revision: 1') });
    // Leadership lost between building and pushing: nothing pushed.
    push = false;
    n = 1;
    expect(await writeBack.flush()).toEqual({ pushed: false, reason: 'skipped' });
    expect(inBare(repo, 'rev-list', '--count', 'mamori-status').trim()).toBe('1');
  });
});
