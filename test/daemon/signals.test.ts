/**
 * Signals to `mamori run` as an operator sends them: SIGTERM while a runbook runs (every journal
 * `started` gets its `finished` or `interrupted`), SIGHUP with a changed config (applied) and with
 * a broken one (refused, the running one kept). And a secrets folder others can read is refused.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, loopbackFor, serverPath, serverYaml } from '../source/git-fixture.ts';
import { BIN, freePort, killStrays, ProbeTarget, spawnDaemon, statusField } from './daemon-process.ts';

let dirs: string[] = [];
let targets: ProbeTarget[] = [];
afterEach(async () => {
  killStrays();
  for (const t of targets) await t.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  targets = [];
});

function workspace(): { dir: string; manifests: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-daemon-'));
  dirs.push(dir);
  const manifests = join(dir, 'manifests');
  cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(manifests, 'operator'), { recursive: true });
  return { dir, manifests };
}

function write(root: string, path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

interface JournalRecord {
  seq: number;
  type: string;
  server?: string;
  target?: string;
  incidentId?: string;
  attempt?: number;
}

function readJournal(stateDir: string): JournalRecord[] {
  const dir = join(stateDir, 'journal');
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as JournalRecord);
}

describe('signals', () => {
  it('SIGTERM during a runbook leaves every started attempt closed in the journal, and exits within its bound', async () => {
    const { dir, manifests } = workspace();
    const web = await new ProbeTarget(loopbackFor('web01')).start();
    targets.push(web);
    const closedPort = await freePort();
    write(manifests, serverPath('web01'), serverYaml('web01', { port: web.port }));
    // SSH refused on a loopback port: SSH-down goes through the console, here an operator's
    // `command` profile that takes its time (and never runs the command it is given).
    write(
      manifests,
      serverPath('ssh01'),
      serverYaml('ssh01', { services: ['ssh'] }).replace('services: [ssh]', `services: [{ ssh: { port: ${closedPort} } }]\n  console: { profile: slowcon }`),
    );
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    writeFileSync(
      config,
      `apiVersion: mamori/v1
kind: Config
source: { type: folder, path: manifests }
http: { listen: "127.0.0.1:${port}" }
probe: { intervalSeconds: 0.5, timeoutSeconds: 0.5, retryIntervalSeconds: 0.2, failuresToDown: 2 }
remediation: { destructiveWaitSeconds: 0 }
massFailure: { minServers: 50, fleetFraction: 1 }
consoleProfiles:
  slowcon: { driver: command, console: ["sh", "-c", "sleep 30; echo no-console-here; exit 1"] }
`,
    );
    const daemon = await spawnDaemon({ cwd: dir, config, port, args: ['--stop-deadline', '1'] });
    const started = await daemon.waitForLog('runbook started', 60_000);
    expect(started).toMatchObject({ server: 'acme/ssh01', target: 'ssh' });
    const journalBefore = readJournal(join(dir, 'state'));
    expect(journalBefore.filter((r) => r.type === 'started')).toHaveLength(1);
    const t0 = Date.now();
    daemon.child.kill('SIGTERM');
    const exit = await daemon.exited;
    const took = Date.now() - t0;
    expect(exit, daemon.stderr()).toEqual({ code: 0, signal: null });
    // A hang guard, not a speed claim: the bound is the stop deadline plus the flush.
    expect(took).toBeLessThan(20_000);
    const journal = readJournal(join(dir, 'state'));
    const key = (r: JournalRecord): string => `${r.server}/${r.target}/${r.incidentId}/${r.attempt}`;
    const closed = new Set(journal.filter((r) => r.type === 'finished' || r.type === 'interrupted').map(key));
    const opened = journal.filter((r) => r.type === 'started');
    expect(opened.length).toBeGreaterThan(0);
    for (const s of opened) expect(closed.has(key(s)), `started ${key(s)} is closed`).toBe(true);
    expect(journal.some((r) => r.type === 'interrupted' && r.server === 'acme/ssh01')).toBe(true);
  });

  it('SIGHUP applies a changed config and refuses a broken one, keeping the running config', async () => {
    const { dir, manifests } = workspace();
    const web = await new ProbeTarget(loopbackFor('web01')).start();
    targets.push(web);
    write(manifests, serverPath('web01'), serverYaml('web01', { port: web.port }));
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    const text = (interval: number, level: string): string =>
      `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests }\nhttp: { listen: "127.0.0.1:${port}" }\nprobe: { intervalSeconds: ${interval} }\nlog: { level: ${level} }\n`;
    writeFileSync(config, text(30, 'info'));
    const daemon = await spawnDaemon({ cwd: dir, config, port });
    expect(await statusField(daemon, 'daemon', 'probe', 'intervalSeconds')).toBe(30);
    expect(await statusField(daemon, 'daemon', 'logLevel')).toBe('info');

    writeFileSync(config, text(0.5, 'debug'));
    daemon.child.kill('SIGHUP');
    const reloaded = await daemon.waitForLog('config reloaded');
    expect(reloaded.changed).toEqual(expect.arrayContaining(['log.level', 'probe']));
    expect(await statusField(daemon, 'daemon', 'probe', 'intervalSeconds')).toBe(0.5);
    expect(await statusField(daemon, 'daemon', 'logLevel')).toBe('debug');
    // The new interval is used: probes now come every half second, not every 30 s.
    const now = Date.now();
    await expect.poll(() => web.hits.filter((h) => h > now).length, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(3);

    writeFileSync(config, `${text(5, 'info')}probe: { intervalSeconds: -1 }\n`);
    daemon.child.kill('SIGHUP');
    const refused = await daemon.waitForLog('config reload refused; the running config is kept');
    expect(refused.level).toBe(50);
    expect(await statusField(daemon, 'daemon', 'probe', 'intervalSeconds')).toBe(0.5);
    expect(await statusField(daemon, 'daemon', 'logLevel')).toBe('debug');
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });

  it('refuses to start with a secrets folder other users can read', async () => {
    const { dir } = workspace();
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets);
    chmodSync(secrets, 0o755);
    const port = await freePort();
    writeFileSync(join(dir, 'mamori.yaml'), `apiVersion: mamori/v1\nkind: Config\nhttp: { listen: "127.0.0.1:${port}" }\n`);
    const run = promisify(execFile)(process.execPath, [BIN, 'run', '--config', 'mamori.yaml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('MAMORI_SECRET_UNSAFE') });
    chmodSync(secrets, 0o700);
  });

  it('refuses a state folder written by a newer mamori, saying what to do, and leaves it as it was', async () => {
    const { dir } = workspace();
    const port = await freePort();
    mkdirSync(join(dir, 'state', 'status'), { recursive: true });
    const format = JSON.stringify({ format: 99, writtenBy: '9.0.0', history: [] });
    writeFileSync(join(dir, 'state', 'format.json'), format);
    writeFileSync(join(dir, 'mamori.yaml'), `apiVersion: mamori/v1\nkind: Config\nhttp: { listen: "127.0.0.1:${port}" }\n`);
    const run = promisify(execFile)(process.execPath, [BIN, 'run', '--config', 'mamori.yaml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/MAMORI_STATE_FORMAT_NEWER.*state format 99, written by mamori 9\.0\.0.*Run mamori 9\.0\.0 or later/s) });
    expect(readFileSync(join(dir, 'state', 'format.json'), 'utf8')).toBe(format);
    expect(readdirSync(join(dir, 'state', 'status'))).toEqual([]);
  });
});
