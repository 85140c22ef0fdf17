/**
 * `mamori init DIR` gives a repository that validates as it stands, and whose CI files parse and
 * run: the mamori commands of the GitHub workflow and of the GitLab pipeline are run here, in a
 * git repository with a pull request's worth of history (a bare origin, main, a branch adding a
 * server), through a `mamori` on PATH that is this checkout's bin/mamori.js.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { codeowners } from '../../src/init/scaffold.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';

const exec = promisify(execFile);
let base: string;
let repo: string;
let shim: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(script: string, env: Record<string, string> = {}, cwd = repo): Promise<Result> {
  try {
    const r = await exec('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, PATH: `${shim}:${process.env.PATH ?? '/usr/bin:/bin'}`, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x.test', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x.test', ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'mamori-init-'));
  shim = join(base, 'bin');
  mkdirSync(shim);
  writeFileSync(join(shim, 'mamori'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, 'bin', 'mamori.js')}" "$@"\n`);
  chmodSync(join(shim, 'mamori'), 0o755);
  repo = join(base, 'repo');
}, 60_000);
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('mamori init', () => {
  it('scaffolds into an empty folder; after git init the repository validates', async () => {
    const init = await sh(`mamori init ${repo} --customer acme --owner @provider/noc`, {}, base);
    expect(init.code).toBe(0);
    expect((await sh('git init -q -b main && mamori validate --config mamori.yaml --manifests .')).code).toBe(0);
    expect(readFileSync(join(repo, 'CODEOWNERS'), 'utf8')).toContain('/customers/acme/ @provider/noc\n');
  }, 120_000);

  it('refuses a folder that is not empty, and bad names', async () => {
    const again = await sh(`mamori init ${repo}`, {}, base);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is not empty/);
    expect((await sh(`mamori init ${join(base, 'x')} --customer 'Bad Name'`, {}, base)).code).toBe(2);
    expect((await sh(`mamori init ${join(base, 'y')} --owner 'a b'`, {}, base)).code).toBe(2);
  }, 120_000);

  it('CODEOWNERS has a line per customer folder', () => {
    const text = codeowners('@noc', ['globex', 'acme']);
    expect(text.split('\n').filter((l) => l.startsWith('/customers/'))).toEqual(['/customers/acme/ @noc', '/customers/globex/ @noc']);
  });

  it("the CI files parse, and their mamori commands succeed on a pull request's history", async () => {
    // History as CI sees it: origin has main; the branch adds a server.
    expect((await sh(`git add -A && git commit -qm init && git init -q --bare ../origin.git && git remote add origin ../origin.git && git push -q origin main && git fetch -q origin`)).code).toBe(0);
    const web01 = readFileSync(join(repo, 'customers/acme/servers/web01.yaml'), 'utf8');
    writeFileSync(join(repo, 'customers/acme/servers/web02.yaml'), web01.replace('name: web01', 'name: web02').replace('203.0.113.10', '203.0.113.11').replace('acme-web01', 'acme-web02'));
    expect((await sh('git checkout -q -b add-web02 && git add -A && git commit -qm "add web02"')).code).toBe(0);

    const github = parse(readFileSync(join(repo, '.github/workflows/mamori.yml'), 'utf8')) as { jobs: Record<string, { steps: { run?: string }[] }> };
    const ghRuns = Object.values(github.jobs).flatMap((j) => j.steps.map((s) => s.run).filter((r): r is string => r !== undefined && /^mamori /.test(r)));
    expect(ghRuns.some((r) => r.includes('mamori validate') && r.includes('--format github'))).toBe(true);
    expect(ghRuns.some((r) => r.includes('mamori plan') && r.includes('--format markdown'))).toBe(true);
    for (const run of ghRuns) {
      const r = await sh(run, { BASE_REF: 'main', PR_NUMBER: '1' });
      expect(r, run).toMatchObject({ code: 0 });
    }
    const plan = readFileSync(join(repo, 'mamori-plan.md'), 'utf8');
    expect(plan).toMatch(/web02/);
    rmSync(join(repo, 'mamori-plan.md'));

    const gitlab = parse(readFileSync(join(repo, '.gitlab-ci.yml'), 'utf8')) as Record<string, { script?: string[] }>;
    const glRuns = (gitlab.mamori?.script ?? []).filter((l) => /mamori (validate|plan)|git fetch/.test(l));
    expect(glRuns.length).toBe(3);
    for (const run of glRuns) {
      const r = await sh(run, { CI_MERGE_REQUEST_IID: '1', CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main' });
      expect(r, run).toMatchObject({ code: 0 });
    }
    expect(readFileSync(join(repo, 'mamori-plan.md'), 'utf8')).toMatch(/web02/);

    // The validate step gates: a broken manifest fails it with an annotation on the file.
    writeFileSync(join(repo, 'customers/acme/servers/web02.yaml'), web01.replace('name: web01', 'name: web02').replace('203.0.113.10', '192.0.2.300'));
    const gate = await sh(ghRuns.find((r) => r.includes('mamori validate')) ?? 'false');
    expect(gate.code).toBe(1);
    expect(gate.stdout).toMatch(/^::error file=customers\/acme\/servers\/web02\.yaml,line=\d+/m);
  }, 300_000);
});
