/**
 * Time to recovery of a powered-off host (lab 251, the bench's second lab, with the lab's second
 * management network): a lab host powered off through its BMC → mamori's journal records the host
 * (ping) Recovered, at the default probe settings, with one vantage point (the daemon's own) and
 * with two (the daemon, and `mamori agent` in the second network's vantage namespace reporting to
 * the daemon over HTTPS, its certificate made by openssl for the run). Side by side, each on its
 * own host and daemon. Both lanes lift the power budgets (100 a host per 6 h, 100 an hour): a
 * bench powers the same host off over and over. Every wait is bounded.
 *
 * With one vantage the host waits out the destructive wait (one probe interval) before its power
 * runbook; with two, a host its BMC reports off is powered on at once (the BMC's word does not
 * depend on the network path): the figure shows what the quorum costs, or saves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { readJournal } from '../src/status/journal.ts';
import type { ServerStatus } from '../src/status/model.ts';
import { BIN, freePort, killStrays, spawnDaemon, type DaemonProcess } from '../test/daemon/daemon-process.ts';
import { startLab, type Lab } from '../test/lab/index.ts';
import { makeCa, makeServerCert } from '../test/support/test-certs.ts';
import { fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests, type ProbeSettings } from '../test/support/lab-fleet.ts';
import { breakdownTable, formulaTerms, median, runPhases, schedulePhase, type KillRun, type RunPhases } from './ttr-breakdown.ts';
import { until } from './ttr-kills.ts';

/** The power lanes' lab: its own hosts, and the second management network for the agent. */
export const POWER_LAB_ID = 251;
export const POWER_HOSTS = { one: 'bench-pwr1', two: 'bench-pwr2' } as const;
const CUSTOMER = 'bench';
const AGENT_TOKEN = 'bench-agent-token-0123456789abcdef';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface PowerLane {
  name: string;
  host: string;
  daemon: DaemonProcess;
  stateDir: string;
  probe: ProbeSettings;
  kills: KillRun[];
  agent?: ChildProcess;
  agentOutput?: () => string;
}

/** The lane host's status file (the API is on HTTPS in the two-vantage lane: the file is the same for both). */
function statusOf(lane: PowerLane): ServerStatus | undefined {
  const file = join(lane.stateDir, 'status', CUSTOMER, `${lane.host}.yaml`);
  if (!existsSync(file)) return undefined;
  try {
    return parse(readFileSync(file, 'utf8')) as ServerStatus;
  } catch {
    return undefined;
  }
}

function allHealthy(lane: PowerLane): boolean {
  const states = Object.values(statusOf(lane)?.services ?? {}).map((v) => v?.state);
  return states.length === 3 && states.every((x) => x === 'Healthy');
}

/**
 * A daemon for one power lane. `vantages`: with the lab's second network as an agent's vantage,
 * http.listen on the machine's address there, over HTTPS (the agent trusts the run's CA).
 */
export async function startPowerLane(lab: Lab, name: string, host: string, probe: ProbeSettings, dir: string, vantages: boolean): Promise<PowerLane> {
  const doc = fleetServer(lab, lab.host(host), { customer: CUSTOMER, services: ['ping', 'ssh', 'http'], locale: 'en' });
  await writeServerManifests(join(dir, 'manifests'), [doc]);
  await writeLabSecrets(join(dir, 'secrets'), lab, vantages ? { 'agent-second': AGENT_TOKEN } : {});
  const port = await freePort();
  const config = join(dir, 'mamori.yaml');
  const second = lab.second;
  if (vantages && second === undefined) throw new Error(`ttr bench: lab ${lab.id} has no second management network`);
  const yaml = fleetConfigYaml({
    lab,
    source: { type: 'folder', path: 'manifests' },
    httpPort: port,
    probe,
    remediation: { powerCyclesPerServerPer6h: 100, restartsPerServicePerHour: 100, flapping: { transitions: 100, windowMinutes: 30 } },
    massFailure: { powerActionsPerHour: 100 },
  });
  const cfg = parse(yaml) as Record<string, unknown> & { http: Record<string, unknown>; targetNetworks: string[] };
  let caFile: string | undefined;
  if (vantages && second !== undefined) {
    const tls = join(dir, 'tls');
    await mkdir(tls, { recursive: true });
    const ca = makeCa(tls, 'bench-ca');
    const cert = makeServerCert(tls, ca, 'bench-daemon', `IP:${second.gateway}`);
    caFile = ca.certFile;
    cfg.http = { ...cfg.http, listen: `${second.gateway}:${port}`, tls: { certFile: cert.certFile, keyFile: cert.keyFile } };
    cfg.vantages = [
      { name: 'primary', network: lab.subnet, self: true },
      { name: 'second', network: second.subnet, token: { secretRef: 'agent-second' } },
    ];
  }
  await writeFile(config, stringify(cfg, { lineWidth: 0 }));
  const daemon = await spawnDaemon({ cwd: dir, config, port });
  const lane: PowerLane = { name, host, daemon, stateDir: join(dir, 'state'), probe, kills: [] };
  if (vantages && second !== undefined && caFile !== undefined) {
    const tokenFile = join(dir, 'agent-token');
    await writeFile(tokenFile, `${AGENT_TOKEN}\n`, { mode: 0o600 });
    // `ip netns exec` execs: the child's pid is the agent's own.
    const agent = spawn('ip', ['netns', 'exec', second.vantageNetns, process.execPath, BIN, 'agent', '--daemon', `https://${second.gateway}:${port}`, '--vantage', 'second', '--token-file', tokenFile, '--ca-file', caFile, '--refresh', '5'], {
      cwd: dir,
      env: { ...process.env, MAMORI_LOG_LEVEL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = (c: Buffer): void => {
      out = (out + c.toString('utf8')).slice(-20_000);
    };
    agent.stdout?.on('data', keep);
    agent.stderr?.on('data', keep);
    lane.agent = agent;
    lane.agentOutput = () => out;
  }
  return lane;
}

/** `runs` power-offs of the lane's host, each until its host incident is journaled Recovered. */
export async function powerRuns(lab: Lab, lane: PowerLane, runs: number, boundMs: number): Promise<RunPhases[]> {
  const out: RunPhases[] = [];
  const id = `${CUSTOMER}/${lane.host}`;
  for (let i = 0; i < runs; i += 1) {
    try {
      await until(`${lane.name}: ${lane.host} healthy`, () => (allHealthy(lane) ? true : undefined), boundMs, 200);
      // Two vantages: the agent must have reported the host up (its report is in the journal's votes
      // only when judged; its log says it reported): a few rounds after the first.
      if (lane.agent !== undefined) {
        if (lane.agent.exitCode !== null || lane.agent.signalCode !== null) throw new Error(`${lane.name}: the agent exited`);
        await until(`${lane.name}: the agent reporting`, () => (/"service state changed"/.test(lane.agentOutput?.() ?? '') ? true : undefined), boundMs, 200);
      }
      await sleep(Math.random() * lane.probe.intervalSeconds * 1000);
      // The newest ping probe before the power-off: where in the schedule it falls.
      const last = statusOf(lane)?.services.ping?.lastProbe?.at;
      const killAt = Date.now();
      await lab.power(lane.host, 'off');
      const run: KillRun = { killAt, killMs: Date.now() - killAt, ...(last !== undefined ? { lastProbeAt: Date.parse(String(last)) } : {}) };
      const phases = await until(`${lane.name}: ${lane.host} Recovered`, async () => runPhases((await readJournal(lane.stateDir)).records, id, 'ping', run, 'host'), boundMs, 100);
      lane.kills.push(run);
      out.push(phases);
    } catch (err) {
      const agent = lane.agentOutput !== undefined ? `\nagent output:\n${lane.agentOutput().split('\n').slice(-10).join('\n')}` : '';
      throw new Error(`${(err as Error).message}; runs so far ${JSON.stringify(out.map((r) => r.totalS))}${agent}`);
    }
  }
  return out;
}

export async function stopPowerLane(lane: PowerLane): Promise<void> {
  if (lane.agent !== undefined && lane.agent.exitCode === null && lane.agent.signalCode === null && lane.agent.pid !== undefined) {
    process.kill(lane.agent.pid, 'SIGTERM');
    await Promise.race([new Promise((r) => lane.agent?.once('exit', r)), sleep(10_000)]);
    if (lane.agent.exitCode === null && lane.agent.signalCode === null) lane.agent.kill('SIGKILL');
  }
  lane.daemon.child.kill('SIGTERM');
  await Promise.race([lane.daemon.exited, sleep(20_000)]);
}

const r1 = (s: number): number => Math.round(s * 10) / 10;

/**
 * The two power lanes side by side on lab 251 (each its own host and daemon), `runs` power-offs
 * each, at `probe` (the defaults); prints each lane's median, worst and every run, then the phases.
 */
export async function powerLanes(o: { runs: number; probe: ProbeSettings; boundMs: number }): Promise<void> {
  let lab: Lab | undefined;
  const lanes: PowerLane[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'mamori-ttr-power-'));
  try {
    lab = await startLab({ id: POWER_LAB_ID, hosts: [{ name: POWER_HOSTS.one }, { name: POWER_HOSTS.two }], secondNetwork: true });
    const l = lab;
    lanes.push(
      ...(await Promise.all([
        startPowerLane(l, 'one vantage', POWER_HOSTS.one, o.probe, await mkdtemp(join(dir, 'one-')), false),
        startPowerLane(l, 'two vantages', POWER_HOSTS.two, o.probe, await mkdtemp(join(dir, 'two-')), true),
      ])),
    );
    console.log(JSON.stringify({ loadavg: loadavg().map((x) => +x.toFixed(2)), cpus: cpus().length, at: 'start of the power lanes' }));
    console.log(JSON.stringify({ note: `${o.runs} power-offs per lane (BMC chassis power off → the host incident journaled Recovered), the two lanes side by side on lab ${POWER_LAB_ID}; two vantages: mamori agent on the second management network, reports over HTTPS` }));
    const results = await Promise.all(lanes.map((lane) => powerRuns(l, lane, o.runs, o.boundMs)));
    lanes.forEach((lane, i) => {
      const totals = (results[i] ?? []).map((r) => r.totalS);
      console.log(JSON.stringify({ figure: `mamori TTR, a powered-off host, ${lane.name} (default settings)`, probe: lane.probe, runs: totals.length, medianS: r1(median(totals)), worstS: r1(Math.max(...totals)), allS: totals.map(r1) }));
    });
    lanes.forEach((lane, i) => {
      // The formula's terms for a powered-off host: every round lasts the timeout (tₚ = timeout, nothing
      // answers); with one vantage the queue is the destructive wait (one interval) and the probe round
      // taken after it, with two none (a host its BMC reports off is powered on at once); R is the
      // console look, the power action, the boot and the verify (not the httpd formula's: left out).
      const roundS = lane.probe.timeoutSeconds;
      const base = formulaTerms(lane.probe, roundS, NaN);
      const queue = lane.agent === undefined ? lane.probe.intervalSeconds + roundS : 0;
      const terms = { ...base, queue, median: base.wait + base.confirm + queue, worst: base.waitWorst + base.confirm + queue };
      console.log(breakdownTable(`mamori, a powered-off host, ${lane.name} (kill → Recovered without R)`, results[i] ?? [], terms, lane.kills.map((k) => schedulePhase(k, lane.probe.intervalSeconds))));
    });
    console.log(JSON.stringify({ loadavg: loadavg().map((x) => +x.toFixed(2)), cpus: cpus().length, at: 'end of the power lanes' }));
    for (const lane of lanes.splice(0)) await stopPowerLane(lane);
  } finally {
    for (const lane of lanes) if (lane.agent?.pid !== undefined && lane.agent.exitCode === null && lane.agent.signalCode === null) lane.agent.kill('SIGKILL');
    killStrays();
    await lab?.stop();
    if (process.env.TTR_KEEP === '1') console.log(JSON.stringify({ kept: dir }));
    else await rm(dir, { recursive: true, force: true });
  }
}
