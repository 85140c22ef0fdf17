/**
 * The git-synced daemon's latency and cost.
 *  1. commit → first probe: `mamori run` (a child process) follows a bare repository; a pushed
 *     commit adds a server whose HTTP port is a loopback listener here; the time from the push to
 *     the first HEAD that listener receives — found by polling (pollSeconds 10), and by the signed
 *     webhook with the poll interval set to an hour. Probe settings are the defaults (a new server
 *     is first probed within one retry interval, 5 s, spread so a large commit is no thundering herd).
 *  2. a 10,000-server revision: fetch + read from the object store + validate + apply.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../src/config/load-config.ts';
import { signHubBody } from '../src/http/auth.ts';
import { silentLogger } from '../src/log.ts';
import { validateDocuments } from '../src/manifest/validate-documents.ts';
import { DesiredState } from '../src/source/desired.ts';
import { GitSource } from '../src/source/git.ts';
import { SourceSyncer } from '../src/source/syncer.ts';
import { freePort, killStrays, ProbeTarget, spawnDaemon, type DaemonProcess } from '../test/daemon/daemon-process.ts';
import { createGitFixture, serverPath, serverYaml, type GitFixture } from '../test/source/git-fixture.ts';

const ROUNDS = 5;
const SECRET = 'bench-webhook-secret';

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)] ?? NaN;
  return `median ${(median / 1000).toFixed(2)} s, min ${((s[0] ?? NaN) / 1000).toFixed(2)} s, max ${((s.at(-1) ?? NaN) / 1000).toFixed(2)} s (n=${s.length})`;
}

interface Latency {
  /** push → first HEAD at the new server's listener */
  total: number[];
  /** push → the daemon's `revision applied` log line */
  toApplied: number[];
  /** applied → first probe: the reconciler's first-probe spread for a new server (within one retry interval) */
  toProbe: number[];
}

async function latency(mode: 'poll' | 'webhook'): Promise<Latency> {
  const repo = createGitFixture();
  const targets: ProbeTarget[] = [];
  let daemon: DaemonProcess | undefined;
  try {
    const first = await new ProbeTarget().start();
    targets.push(first);
    repo.write(serverPath('base'), serverYaml('base', { port: first.port }));
    repo.commit('base');
    repo.push();
    const port = await freePort();
    const config = join(repo.dir, 'mamori.yaml');
    writeFileSync(
      config,
      `apiVersion: mamori/v1\nkind: Config\nsource: { type: git, url: ${repo.bare}, pollSeconds: ${mode === 'poll' ? 10 : 3600} }\nhttp: { listen: "127.0.0.1:${port}", webhookSecret: { secretRef: hook } }\nlog: { level: info }\n`,
    );
    daemon = await spawnDaemon({ cwd: repo.dir, config, port, env: { MAMORI_SECRET_HOOK: SECRET } });
    const out: number[] = [];
    const toApplied: number[] = [];
    const toProbe: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const target = await new ProbeTarget().start();
      targets.push(target);
      repo.write(serverPath(`n${i}`), serverYaml(`n${i}`, { port: target.port }));
      const rev = repo.commit(`add n${i}`);
      // Push at a random point of the poll cycle: right after the last detection would measure
      // the worst case every time.
      if (mode === 'poll') await new Promise((r) => setTimeout(r, Math.random() * 10_000));
      const t0 = Date.now();
      repo.push();
      if (mode === 'webhook') {
        const body = JSON.stringify({ ref: 'refs/heads/main' });
        const r = await daemon.post('/hooks/git', body, { 'x-hub-signature-256': signHubBody(SECRET, body) });
        if (r.status !== 202) throw new Error(`webhook answered ${r.status}`);
      }
      const deadline = t0 + 120_000;
      while (target.hits.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const hit = target.firstHitAfter(t0);
      if (hit === undefined) throw new Error(`n${i} was not probed within 120 s`);
      const applied = daemon.logs.find((l) => l.msg === 'revision applied' && l.revision === rev);
      out.push(hit - t0);
      if (applied) toApplied.push(Date.parse(applied.time) - t0);
      if (applied) toProbe.push(hit - Date.parse(applied.time));
    }
    return { total: out, toApplied, toProbe };
  } finally {
    daemon?.child.kill('SIGTERM');
    await daemon?.exited;
    killStrays();
    for (const t of targets) await t.close();
    repo.cleanup();
  }
}

async function fleet(): Promise<void> {
  const repo: GitFixture = createGitFixture();
  try {
    const N = 10_000;
    for (let i = 0; i < N; i++) {
      const customer = `c${i % 100}`;
      repo.write(serverPath(`s${i}`, customer), serverYaml(`s${i}`, { customer, address: `10.231.${(i >> 8) % 256}.${i % 256}` }));
    }
    repo.commit('10,000 servers');
    repo.push();
    const config = defaultConfig(repo.dir);
    let applied = 0;
    const desired = new DesiredState({
      validate: (files) => validateDocuments(files, { config }),
      sink: { setDesired: (_r, servers) => void (applied = servers.length) },
      holds: { maxRemovedFraction: 0.2, holdRollbacks: true },
      logger: silentLogger(),
    });
    const source = new GitSource({ url: repo.bare, ref: 'main', path: '', cacheDir: join(repo.dir, 'cache'), logger: silentLogger() });
    const syncer = new SourceSyncer({ source, desired, logger: silentLogger() });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const first = await syncer.start();
    const firstMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (!first.ok || applied !== N) throw new Error(`fleet sync failed: ${JSON.stringify(first).slice(0, 300)}`);
    // One more commit that changes one server: the incremental cost.
    repo.write(serverPath('s1', 'c1'), serverYaml('s1', { customer: 'c1', address: '10.231.0.1', services: ['http', 'ssh'] }));
    repo.commit('one change');
    repo.push();
    const cpu1 = process.cpuUsage();
    const t1 = performance.now();
    const second = await syncer.trigger('manual');
    const secondMs = performance.now() - t1;
    const cpuSecond = process.cpuUsage(cpu1);
    await syncer.stop();
    const phases = second.ok ? second.outcome?.result : second.reason;
    process.stdout.write(
      `sync 10,000-server revision (clone + read from objects + validate + apply): ${(firstMs / 1000).toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU in-process (git runs apart)\n` +
        `sync after a one-server commit (fetch + read + validate + apply): ${(secondMs / 1000).toFixed(2)} s wall, ${((cpuSecond.user + cpuSecond.system) / 1e6).toFixed(2)} s CPU in-process (${phases})\n` +
        `(wall figures include waiting for the CPU: load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} cores)\n`,
    );
  } finally {
    repo.cleanup();
  }
}

export async function run(): Promise<void> {
  for (const [mode, label] of [
    ['poll', 'found by polling (pollSeconds 10)'],
    ['webhook', 'signed webhook (pollSeconds 3600)'],
  ] as const) {
    const l = await latency(mode);
    process.stdout.write(`commit → first probe, ${label}: ${stats(l.total)}\n`);
    process.stdout.write(`  of which push → revision applied: ${stats(l.toApplied)}; applied → first probe: ${stats(l.toProbe)}\n`);
  }
  await fleet();
}
