/**
 * `mamori run` following a real git remote (a bare repository): commits found by polling and by
 * the signed webhook are probed for real (HEAD to a loopback listener); an invalid manifest keeps
 * the last good one with a condition; an unreachable remote does not stop probing; status is
 * written back to a branch of the remote; a rollback waits for `mamori confirm`; /metrics parses.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHubBody } from '../../src/http/auth.ts';
import { parsePrometheusText } from '../http/prom-text.ts';
import { createGitFixture, gitIn, loopbackFor, serverPath, serverYaml, type GitFixture } from '../source/git-fixture.ts';
import { BIN, freePort, killStrays, ProbeTarget, spawnDaemon, statusField, type DaemonProcess } from './daemon-process.ts';

const SECRET = 'webhook-secret-for-the-test';
let repo: GitFixture;
let daemon: DaemonProcess;
let port: number;
let configPath: string;
const targets = new Map<string, ProbeTarget>();

function config(pollSeconds: number): string {
  return `apiVersion: mamori/v1
kind: Config
source: { type: git, url: ${repo.bare}, ref: main, pollSeconds: ${pollSeconds} }
stateDir: state
secretsDir: secrets
http: { listen: "127.0.0.1:${port}", webhookSecret: { secretRef: git-webhook } }
probe: { intervalSeconds: 1, timeoutSeconds: 1, retryIntervalSeconds: 0.5 }
statusWriteBack: { branch: mamori-status, intervalSeconds: 1 }
log: { level: info }
`;
}

async function addServer(name: string): Promise<string> {
  const target = await new ProbeTarget(loopbackFor(name)).start();
  targets.set(name, target);
  repo.write(serverPath(name), serverYaml(name, { port: target.port }));
  const rev = repo.commit(`add ${name}`);
  repo.push();
  return rev;
}

async function hook(secret = SECRET): Promise<number> {
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const r = await daemon.post('/hooks/git', body, { 'x-hub-signature-256': signHubBody(secret, body) });
  return r.status;
}

const hitsOf = (name: string): number => targets.get(name)?.hits.length ?? 0;

beforeAll(async () => {
  repo = createGitFixture();
  port = await freePort();
  await addServer('web01');
  configPath = join(repo.dir, 'mamori.yaml');
  writeFileSync(configPath, config(2));
  daemon = await spawnDaemon({ cwd: repo.dir, config: configPath, port, env: { MAMORI_SECRET_GIT_WEBHOOK: SECRET } });
});

afterAll(async () => {
  if (process.env.MAMORI_TEST_DEBUG) writeFileSync(process.env.MAMORI_TEST_DEBUG, `${daemon?.stderr()}\n${JSON.stringify(daemon?.logs, null, 1)}`);
  killStrays();
  for (const t of targets.values()) await t.close();
  repo?.cleanup();
});

describe('mamori run on a git remote', () => {
  it('probes the first server, and one added by a pushed commit found by polling', async () => {
    await expect.poll(() => hitsOf('web01'), { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    const rev = await addServer('web02');
    await expect.poll(() => hitsOf('web02'), { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    expect(await statusField(daemon, 'desired', 'revision')).toBe(rev);
    expect(daemon.logs.some((l) => l.msg === 'revision applied' && l.revision === rev)).toBe(true);
  });

  it('with a long poll interval, a signed webhook syncs at once; a bad signature gets 401 and changes nothing', async () => {
    writeFileSync(configPath, config(3600));
    daemon.child.kill('SIGHUP');
    const reloaded = await daemon.waitForLog((l) => l.msg === 'config reloaded' && Array.isArray(l.changed) && l.changed.includes('source.pollSeconds'));
    expect(reloaded.restartRequired).toEqual([]);
    const before = await statusField(daemon, 'desired', 'revision');
    const rev = await addServer('web03');
    expect(await hook('not-the-secret')).toBe(401);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await statusField(daemon, 'desired', 'revision')).toBe(before);
    expect(hitsOf('web03')).toBe(0);
    expect(await hook()).toBe(202);
    await expect.poll(() => hitsOf('web03'), { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    expect(await statusField(daemon, 'desired', 'revision')).toBe(rev);
  });

  it('keeps the last good manifest of a server whose new one is invalid, with ManifestInvalid in its status', async () => {
    const good = targets.get('web01');
    repo.write(serverPath('web01'), serverYaml('web01', { port: good?.port }).replace('plan: basic', 'plan: platinum'));
    const bad = repo.commit('break web01');
    repo.push();
    expect(await hook()).toBe(202);
    await expect.poll(() => statusField(daemon, 'desired', 'revision'), { timeout: 30_000, interval: 100 }).toBe(bad);
    const invalid = (await statusField(daemon, 'desired', 'manifestInvalid')) as Record<string, { findings: { file: string; field: string }[] }>;
    expect(invalid['acme/web01']?.findings[0]).toMatchObject({ file: serverPath('web01'), field: 'spec.plan' });
    const statusFile = join(repo.dir, 'state', 'status', 'acme', 'web01.yaml');
    await expect.poll(() => readFileSync(statusFile, 'utf8'), { timeout: 15_000, interval: 100 }).toMatch(/type: ManifestInvalid\n\s+status: "?True"?/);
    const after = hitsOf('web01');
    await expect.poll(() => hitsOf('web01'), { timeout: 15_000, interval: 100 }).toBeGreaterThan(after);
  });

  it('keeps probing on the last revision while the remote is unreachable (SourceUnavailable), and recovers', async () => {
    renameSync(repo.bare, `${repo.bare}.away`);
    expect(await hook()).toBe(202);
    await expect.poll(() => statusField(daemon, 'source', 'condition', 'status'), { timeout: 30_000, interval: 100 }).toBe('True');
    expect(await statusField(daemon, 'source', 'condition', 'reason')).toBe('SourceUnavailable');
    const during = hitsOf('web02');
    await expect.poll(() => hitsOf('web02'), { timeout: 15_000, interval: 100 }).toBeGreaterThan(during);
    expect(((await daemon.get('/readyz')).json as { ready: boolean }).ready).toBe(true);
    renameSync(`${repo.bare}.away`, repo.bare);
    const rev = await addServer('web04');
    expect(await hook()).toBe(202);
    await expect.poll(() => hitsOf('web04'), { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    await expect.poll(() => statusField(daemon, 'source', 'condition', 'status'), { timeout: 30_000, interval: 100 }).toBe('False');
    expect(await statusField(daemon, 'desired', 'revision')).toBe(rev);
  });

  it('writes status back as commits on the status branch of the bare repository', async () => {
    const files = async (): Promise<string[]> => {
      try {
        return gitIn(repo.bare, ['ls-tree', '-r', '--name-only', 'mamori-status']).trim().split('\n');
      } catch {
        return [];
      }
    };
    await expect.poll(files, { timeout: 30_000, interval: 200 }).toEqual(expect.arrayContaining(['status/acme/web01.yaml', 'status/acme/web04.yaml']));
    expect(Number(gitIn(repo.bare, ['rev-list', '--count', 'mamori-status']).trim())).toBeGreaterThanOrEqual(1);
    expect(gitIn(repo.bare, ['show', 'mamori-status:status/acme/web01.yaml'])).toContain('ManifestInvalid');
  });

  it('holds a rollback until `mamori confirm` releases it', async () => {
    const newer = repo.head();
    repo.git('reset', '--quiet', '--hard', 'HEAD~1');
    const older = repo.head();
    repo.push({ force: true });
    expect(await hook()).toBe(202);
    await expect.poll(() => statusField(daemon, 'desired', 'held', 'revision'), { timeout: 30_000, interval: 100 }).toBe(older);
    expect(await statusField(daemon, 'desired', 'held', 'reason')).toBe('Rollback');
    expect(await statusField(daemon, 'desired', 'revision')).toBe(newer);
    // Over TCP without an operator token a confirm changes nothing; the CLI goes through the socket.
    expect((await daemon.post('/api/confirm', JSON.stringify({ revision: older }))).status).toBe(403);
    expect(await statusField(daemon, 'desired', 'held', 'revision')).toBe(older);
    // Not execFileSync: the probe targets live in this process and must keep answering.
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'confirm', older, '--config', configPath], { cwd: repo.dir, encoding: 'utf8' });
    expect(stdout).toContain('applied');
    expect(await statusField(daemon, 'desired', 'revision')).toBe(older);
    expect(await statusField(daemon, 'desired', 'held')).toBeUndefined();
    // web04 was removed by the rollback: its status file stays, and says nobody probes it any more
    // (it is archived after a retention, never deleted).
    const web04 = join(repo.dir, 'state', 'status', 'acme', 'web04.yaml');
    await expect.poll(() => existsSync(web04) && /type: Monitored\n\s+status: "?False"?\n\s+reason: Removed/.test(readFileSync(web04, 'utf8')), { timeout: 15_000, interval: 100 }).toBe(true);
    expect(readFileSync(web04, 'utf8')).not.toMatch(/type: Ready\n\s+status: "?True"?/);
  });

  it('serves /metrics as Prometheus text with probe results, latency, states and the revision', async () => {
    const { text, status } = await daemon.get('/metrics');
    expect(status).toBe(200);
    const families = parsePrometheusText(text);
    const samples = (name: string) => families.get(name)?.samples ?? [];
    expect(samples('mamori_probe_results_total').find((s) => s.labels.service_type === 'http' && s.labels.result === 'up')?.value).toBeGreaterThan(0);
    expect(samples('mamori_probe_duration_seconds').find((s) => s.name === 'mamori_probe_duration_seconds_count' && s.labels.service_type === 'http')?.value).toBeGreaterThan(0);
    expect(samples('mamori_service_state').map((s) => s.labels)).toEqual(
      expect.arrayContaining([
        { server: 'acme/web01', service: 'http', state: 'Healthy' },
        { server: 'acme/web02', service: 'http', state: 'Healthy' },
      ]),
    );
    expect(samples('mamori_service_state').some((s) => s.labels.server === 'acme/web04')).toBe(false);
    expect(samples('mamori_source_revision_info').map((s) => s.labels.revision)).toEqual([repo.head()]);
    expect(samples('mamori_source_sync_errors_total').find((s) => s.labels.reason === 'SourceUnavailable')?.value).toBeGreaterThanOrEqual(1);
    expect(samples('mamori_servers_manifest_invalid')[0]?.value).toBe(1);
  });

  it('keeps the webhook secret out of its logs, status API, metrics and status files', async () => {
    expect(JSON.stringify(daemon.logs)).not.toContain(SECRET);
    expect(daemon.stderr()).not.toContain(SECRET);
    expect((await daemon.get('/api/status')).text).not.toContain(SECRET);
    expect((await daemon.get('/metrics')).text).not.toContain(SECRET);
    const statusDir = join(repo.dir, 'state', 'status');
    // status/<customer>/<name>.yaml since identity: look in the customers' folders, and make sure some were read
    const files = readdirSync(statusDir, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.yaml'));
    expect(files).toContain(join('acme', 'web01.yaml'));
    for (const f of files) expect(readFileSync(join(statusDir, f), 'utf8')).not.toContain(SECRET);
  });

  it('stops on SIGTERM within its bound and releases the lock', async () => {
    daemon.child.kill('SIGTERM');
    const exit = await daemon.exited;
    expect(exit.code).toBe(0);
    expect(daemon.logs.map((l) => l.msg)).toContain('mamori stopped');
  });
});
