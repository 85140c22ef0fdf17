/**
 * Two vantage points against the real processes: `mamori run` probes from 127.0.0.1 (its own
 * vantage), `mamori agent` from 127.0.0.2 (a second "network"), both to a real HTTP server that can
 * refuse one of them. Cutting only the daemon's path is a disagreement for one server: escalated
 * AccessBlocked with the missing network named, no runbook; it clears by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ServerStatus } from '../../src/status/model.ts';
import { loopbackFor, REPO_ROOT, serverPath, serverYaml } from '../source/git-fixture.ts';
import { BIN, freePort, killStrays, spawnDaemon } from './daemon-process.ts';

const AGENT_SOURCE = '127.0.0.2';
const TOKEN = 'second-vantage-token-0123456789';

let dirs: string[] = [];
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  killStrays();
  for (const c of closers.splice(0)) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function statusFile(state: string): ServerStatus | undefined {
  const file = join(state, 'status', 'acme', 'web01.yaml');
  if (!existsSync(file)) return undefined;
  try {
    return parse(readFileSync(file, 'utf8')) as ServerStatus;
  } catch {
    return undefined;
  }
}

function journal(state: string): Array<Record<string, unknown>> {
  const dir = join(state, 'journal');
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>));
}

describe('two vantage points, the real daemon and agent', () => {
  it('the primary path cut to one server: access-blocked naming the missing network, no runbook; it clears by itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-vantages-'));
    dirs.push(dir);
    const manifests = join(dir, 'manifests');
    const state = join(dir, 'state');
    cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(manifests, 'operator'), { recursive: true });
    // The web server: answers everyone, or (primary path cut) only the agent's network.
    let primaryCut = false;
    const agentHits: number[] = [];
    const web: Server = createServer((req, res) => {
      const from = req.socket.remoteAddress ?? '';
      if (from.endsWith(AGENT_SOURCE)) agentHits.push(Date.now());
      if (primaryCut && !from.endsWith(AGENT_SOURCE)) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200);
      res.end(req.method === 'HEAD' ? undefined : 'ok');
    });
    await new Promise<void>((resolve) => web.listen(0, loopbackFor('web01'), resolve));
    closers.push(() => {
      web.closeAllConnections();
      return new Promise<void>((r) => web.close(() => r()));
    });
    const webPort = (web.address() as AddressInfo).port;
    mkdirSync(join(manifests, 'customers', 'acme', 'servers'), { recursive: true });
    writeFileSync(join(manifests, serverPath('web01')), serverYaml('web01', { port: webPort }));
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    chmodSync(secrets, 0o700);
    writeFileSync(join(secrets, 'agent-second'), `${TOKEN}\n`, { mode: 0o600 });
    const tokenFile = join(dir, 'agent-token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    writeFileSync(
      config,
      `apiVersion: mamori/v1
kind: Config
source: { type: folder, path: manifests }
http: { listen: "127.0.0.1:${port}" }
probe: { intervalSeconds: 0.5, retryIntervalSeconds: 0.2 }
vantages:
  - { name: primary, network: 127.0.0.1/32, self: true }
  - { name: second, network: 127.0.0.2/32, token: { secretRef: agent-second } }
quorum: { freshSeconds: 15 }
`,
    );
    const d = await spawnDaemon({ cwd: dir, config, port });
    await expect.poll(() => statusFile(state)?.services.http?.state, { timeout: 30_000, interval: 100 }).toBe('Healthy');

    const agent: ChildProcess = spawn(process.execPath, [BIN, 'agent', '--daemon', `http://127.0.0.1:${port}`, '--vantage', 'second', '--token-file', tokenFile, '--source', AGENT_SOURCE], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let agentOut = '';
    agent.stdout?.on('data', (c: Buffer) => (agentOut += c.toString('utf8')));
    agent.stderr?.on('data', (c: Buffer) => (agentOut += c.toString('utf8')));
    const agentExit = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    closers.push(() => {
      if (agent.exitCode === null) agent.kill('SIGKILL');
    });
    // The agent probes from its own address, and the daemon takes its reports.
    await expect.poll(() => agentHits.length, { timeout: 30_000, interval: 100 }).toBeGreaterThan(1);
    expect(agentOut).not.toContain('agent report refused');

    primaryCut = true;
    await expect.poll(() => statusFile(state)?.services.http?.escalation, { timeout: 30_000, interval: 100 }).toBe('AccessBlocked');
    const s = statusFile(state);
    expect(s?.services.http?.quorum?.judgement).toBe('disputed');
    expect(s?.services.http?.quorum?.missingNetworks).toEqual(['127.0.0.1/32']);
    expect(s?.services.http?.quorum?.votes.map((v) => `${v.vantage}:${v.up}`)).toEqual(['primary:false', 'second:true']);
    const records = journal(state);
    expect(records.filter((r) => r.type === 'started')).toEqual([]);
    expect(records.filter((r) => r.type === 'notify').map((r) => [r.kind, r.missingNetworks])).toEqual([['access-blocked', ['127.0.0.1/32']]]);
    expect(records.some((r) => r.type === 'quorum' && r.judgement === 'disputed')).toBe(true);

    // The primary path comes back: Healthy again by itself, the incident closed.
    primaryCut = false;
    await expect.poll(() => statusFile(state)?.services.http?.state, { timeout: 30_000, interval: 100 }).toBe('Healthy');
    expect(journal(state).filter((r) => r.type === 'started')).toEqual([]);

    agent.kill('SIGTERM');
    expect(await agentExit, agentOut).toBe(0);
    d.child.kill('SIGTERM');
    expect((await d.exited).code, d.stderr()).toBe(0);
  }, 120_000);
});
