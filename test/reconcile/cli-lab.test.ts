/**
 * `mamori reconcile --once [--dry-run]`, `mamori status` and `mamori resume` as an operator runs
 * them (bin/mamori.js in a child process), in-process under the state lock since no daemon runs,
 * against a lab host (lab id 11) through a manifests folder, a secrets folder and a config file.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createProberRegistry } from '../../src/probe/registry.ts';
import type { ReconcileSummary } from '../../src/reconcile/controller.ts';
import { readJournal } from '../../src/status/journal.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { BIN, freePort, killStrays, spawnDaemon } from '../daemon/daemon-process.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { FAST_PROBE, fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests } from '../support/lab-fleet.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const LAB_ID = 11;
let lab: Lab;
let dir: string;
let config: string;
let port: number;

beforeAll(async () => {
  lab = await startLab({ id: LAB_ID, hosts: [{ name: 'acme-c1' }] });
  dir = await mkdtemp(path.join(tmpdir(), 'mamori-cli-reconcile-'));
  const doc = fleetServer(lab, lab.host('acme-c1'), { customer: 'acme', services: ['ping', 'http', 'ssh'] });
  await writeServerManifests(path.join(dir, 'm'), [doc]);
  await writeLabSecrets(path.join(dir, 'secrets'), lab);
  config = path.join(dir, 'mamori.yaml');
  port = await freePort();
  // A generous probe timeout: a CI machine busy with other labs must not make a healthy port look down.
  await writeFile(config, fleetConfigYaml({ lab, source: { type: 'folder', path: 'm' }, httpPort: port, logLevel: 'info', probe: { ...FAST_PROBE, timeoutSeconds: 5 } }));
}, 120_000);

afterAll(async () => {
  killStrays();
  await lab?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function mamori(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, '--config', config, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mamori ${args.join(' ')}: no exit within 120 s\n${stderr}`));
    }, 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('mamori reconcile / status / resume (in-process, no daemon)', () => {
  test('dry run, a real repair in two passes, the status files, resume', async () => {
    const dry = await mamori('reconcile', '--once', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const drySummary = JSON.parse(dry.stdout) as ReconcileSummary;
    expect(drySummary).toMatchObject({ dryRun: true, servers: 1, probes: 3, failing: [] });
    expect((await readJournal(path.join(dir, 'state'))).records.filter((r) => r.type === 'started')).toHaveLength(0);

    await lab.breakService('acme-c1', 'httpd');
    // failuresToDown 2: the first pass sees a Suspect, the second confirms Down and repairs.
    const pass1 = await mamori('reconcile', '--once', '--json');
    expect(pass1.code, pass1.stderr).toBe(1);
    expect(JSON.parse(pass1.stdout)).toMatchObject({ failing: ['acme/acme-c1'], runbooks: [] });
    const pass2 = await mamori('reconcile', '--once', '--json');
    expect(pass2.code, pass2.stderr).toBe(0);
    expect((JSON.parse(pass2.stdout) as ReconcileSummary).runbooks).toEqual([{ server: 'acme/acme-c1', target: 'http', incidentId: expect.stringMatching(/^acme\/acme-c1\.http\./), attempt: 1, verdict: 'Recovered' }]);
    expect((await createProberRegistry({ targets: LAB_TARGETS }).probe({ service: 'http', address: lab.host('acme-c1').address, timeoutMs: 3000 })).up).toBe(true);

    const status = await mamori('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const list = JSON.parse(status.stdout) as ServerStatus[];
    expect(list[0]?.services.http).toMatchObject({ state: 'Recovered' });
    expect(list[0]?.incidents.recent[0]).toMatchObject({ service: 'http', closeReason: 'recovered' });
    const table = await mamori('status');
    expect(table.stdout).toMatch(/^SERVER\s+READY/);
    expect(table.stdout).toMatch(/acme\/acme-c1\s+True/);
    const one = await mamori('status', 'acme-c1');
    expect(one.stdout).toContain('kind: ServerStatus');

    const resume = await mamori('resume', 'acme-c1');
    expect(resume.code, resume.stderr).toBe(0);
    expect(resume.stdout).toContain('nothing was held');
    const records = (await readJournal(path.join(dir, 'state'))).records;
    expect(records.filter((r) => r.type === 'started')).toHaveLength(1);
    expect(records.find((r) => r.type === 'finished')).toMatchObject({ verdict: 'Recovered' });
  }, 300_000);

  test('with a daemon running: reconcile and resume go through its local API socket; a second mamori run is refused', async () => {
    const daemon = await spawnDaemon({ cwd: dir, config, port });
    try {
      await daemon.waitForLog('mamori running', 60_000);
      const dry = await mamori('reconcile', '--once', '--dry-run');
      expect(dry.code, dry.stderr).toBe(0);
      // Through the local API's Unix socket (the CLI's default), not TCP: over TCP without a token nothing changes.
      expect(dry.stdout).toContain(`dry run (through the daemon on ${path.join(dir, 'state', 'mamori.sock')})`);
      const resume = await mamori('resume', 'acme-c1', 'http');
      expect(resume.code, resume.stderr).toBe(0);
      expect(resume.stdout).toContain('acme-c1: nothing was held');
      // The same calls over TCP without an operator token change nothing.
      expect((await daemon.post('/api/reconcile', '{"dryRun":true}')).status).toBe(403);
      expect((await daemon.post('/api/resume', '{"server":"acme-c1"}')).status).toBe(403);

      const second = spawn(process.execPath, [BIN, 'run', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      second.stderr.on('data', (d: Buffer) => (err += d.toString()));
      second.stdout.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve, reject) => {
        const t = setTimeout(() => {
          second.kill('SIGKILL');
          reject(new Error('second mamori run did not exit'));
        }, 60_000);
        second.once('exit', (c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
      expect(code).not.toBe(0);
      expect(err).toContain('MAMORI_STATE_LOCKED');
    } finally {
      daemon.kill();
      await daemon.exited;
    }
  }, 300_000);
});
