/**
 * `mamori doctor` against real peers on the loopback: a real SMTP server (smtp-server), a real git
 * remote (a bare repository), the machine's fping; folders whose modes are wrong, then right.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { checkEtcd, runDoctor, type CheckResult } from '../../src/doctor/checks.ts';
import { startSmtpSink, type SmtpSink } from '../notify/smtp-sink.ts';
import { createGitFixture, REPO_ROOT, type GitFixture } from '../source/git-fixture.ts';
import { freePort } from '../daemon/daemon-process.ts';

let dir: string;
let smtp: SmtpSink;
let repo: GitFixture;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-doctor-'));
  smtp = await startSmtpSink();
  repo = createGitFixture();
  repo.commit('first');
  repo.push();
}, 60_000);
afterAll(async () => {
  await smtp?.close();
  repo?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, body: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `apiVersion: mamori/v1\nkind: Config\nstateDir: state-${name}\nsecretsDir: secrets-${name}\n${body}`);
  return path;
}

const byCheck = (results: CheckResult[]): Record<string, CheckResult> => Object.fromEntries(results.map((r) => [r.check, r]));

describe('mamori doctor', () => {
  it('says what is wrong and what to do: a world-writable state folder, an open secrets folder, a closed relay port, an unreadable remote, a missing secret', async () => {
    const closed = await freePort();
    const config = await loadConfig(
      writeConfig('bad', `source: { type: git, url: ${join(dir, 'nowhere.git')}, ref: main }\nmail: { from: m@x.test, smtp: { host: 127.0.0.1, port: ${closed}, auth: { secretRef: smtp-relay } } }\n`),
    );
    mkdirSync(join(dir, 'state-bad'));
    chmodSync(join(dir, 'state-bad'), 0o777);
    mkdirSync(join(dir, 'secrets-bad'));
    chmodSync(join(dir, 'secrets-bad'), 0o755);
    const r = byCheck(await runDoctor(config));
    expect(r['state folder']).toMatchObject({ status: 'fail', message: expect.stringMatching(/writable by every user \(mode 777\)/), fix: expect.stringMatching(/chmod o-w/) });
    expect(r['secrets folder']).toMatchObject({ status: 'fail', fix: expect.stringMatching(/chmod 700/) });
    expect(r['config secrets']).toMatchObject({ status: 'fail', message: 'missing: smtp-relay' });
    expect(r['smtp relay']).toMatchObject({ status: 'fail', message: expect.stringMatching(/ECONNREFUSED/) });
    expect(r['git remote']).toMatchObject({ status: 'fail' });
    expect(r['git remote']?.fix).toBeTruthy();
  }, 60_000);

  it('all ok on a host set up right: the relay greets, the remote has the ref, fping pings', async () => {
    const config = await loadConfig(writeConfig('good', `source: { type: git, url: ${repo.bare}, ref: main }\nmail: { from: m@x.test, smtp: { host: 127.0.0.1, port: ${smtp.port}, auth: { secretRef: smtp-relay } } }\n`));
    mkdirSync(join(dir, 'secrets-good'), { mode: 0o700 });
    writeFileSync(join(dir, 'secrets-good', 'smtp-relay'), 'user:password', { mode: 0o600 });
    const results = await runDoctor(config);
    const r = byCheck(results);
    for (const check of ['node', 'fping', 'icmp', 'state folder', 'secrets folder', 'config secrets', 'git remote', 'smtp relay']) expect(r[check], check).toMatchObject({ status: 'ok' });
    expect(r['git remote']?.message).toMatch(/ main at [0-9a-f]{12}$/);
    expect(r['smtp relay']?.message).toMatch(new RegExp(`^127\\.0\\.0\\.1:${smtp.port}: 220 `));
    expect(r['state folder']?.message).toMatch(/will be created/);
    expect(['ok', 'warn', 'fail']).toContain(r.clock?.status);
    // No secret value in what doctor says.
    expect(JSON.stringify(results)).not.toContain('password');
  }, 60_000);

  it('etcd, when configured: an endpoint that does not answer fails', async () => {
    const r = await checkEtcd([`http://127.0.0.1:${await freePort()}`], 2000);
    expect(r).toMatchObject({ status: 'fail', check: 'etcd' });
  });

  it('the command: one line per check, exit 1 when one failed', async () => {
    const config = writeConfig('cli', `source: { type: folder, path: ${join(dir, 'missing-manifests')} }\n`);
    const r = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin', 'mamori.js'), 'doctor', '--config', config], { encoding: 'utf8' }).catch((e: { code: number; stdout: string }) => e);
    expect('code' in r ? r.code : 0).toBe(1);
    expect(r.stdout).toMatch(/^ok {4}fping /m);
    expect(r.stdout).toMatch(/^FAIL {2}manifests +folder .*missing-manifests is missing or not readable\n +→ /m);
  }, 60_000);
});
