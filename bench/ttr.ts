/**
 * Time to recovery (lab 250): httpd killed on a lab host → mamori's journal records it Recovered
 * (detected, confirmed, restarted over SSH, verified from outside), at the default probe settings
 * and at the fastest supported ones; and, in the same run, Monit (Debian's monit) watching its own
 * lab host with `set daemon 30` and `set daemon 5`, restarting httpd with `exec` → HTTP answers again.
 *
 * The four lanes run side by side, each on its own host. Before each kill a lane waits a random
 * part of its check interval, so kills fall at random phases of the probe schedule (the formula's
 * uniform wait). Both mamori lanes lift the restart budget and the flapping hold (100 an hour):
 * a bench kills the same service over and over, which the defaults would rightly stop repairing.
 * TTR_RUNS (default 5) sets the runs per lane; TTR_KEEP=1 keeps the state folders. Every wait is bounded.
 *
 * Then the power lanes (issue 25, ttr-power.ts, lab 251): a host powered off through its BMC,
 * watched by one vantage point beside one watched by two (an agent on the lab's second management
 * network, over HTTPS), side by side. TTR_LANES=small,power picks the lanes (default both).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJournal } from '../src/status/journal.ts';
import { breakdownTable, formulaTerms, runPhases, schedulePhase, type KillRun, type RunPhases } from './ttr-breakdown.ts';
import { CONFIG_DEFAULTS } from '../src/config/defaults.ts';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../test/daemon/daemon-process.ts';
import { startLab, type Lab } from '../test/lab/index.ts';
import { fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests, type ProbeSettings } from '../test/support/lab-fleet.ts';
import { powerLanes } from './ttr-power.ts';

/** The bench's own lab (250–254 are reserved for it). */
const LAB_ID = 250;
const RUNS = Math.max(1, Math.min(20, Number(process.env.TTR_RUNS ?? 5)));
const RUN_BOUND_MS = 180_000;
const LANES = new Set((process.env.TTR_LANES ?? 'small,power').split(',').map((l) => l.trim()));
/** The fastest settings the config schema allows, confirmation kept (two failures make Down). */
export const FASTEST_PROBE: ProbeSettings = { intervalSeconds: 0.2, timeoutSeconds: 1, retryIntervalSeconds: 0.1, failuresToDown: 2, jitter: 0.1 };
const DEFAULT_PROBE: ProbeSettings = {
  intervalSeconds: CONFIG_DEFAULTS.probe.intervalSeconds,
  timeoutSeconds: CONFIG_DEFAULTS.probe.timeoutSeconds,
  retryIntervalSeconds: CONFIG_DEFAULTS.probe.retryIntervalSeconds,
  failuresToDown: CONFIG_DEFAULTS.probe.failuresToDown,
  jitter: CONFIG_DEFAULTS.probe.jitter,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, boundMs = RUN_BOUND_MS, everyMs = 50): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`ttr bench: ${what} did not happen within ${boundMs} ms`);
    await sleep(everyMs);
  }
}

function stats(ms: number[]): { runs: number; medianS: number; worstS: number; allS: number[] } {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length % 2 === 1 ? (s[(s.length - 1) / 2] ?? NaN) : ((s[s.length / 2 - 1] ?? NaN) + (s[s.length / 2] ?? NaN)) / 2;
  const r = (x: number): number => Math.round(x / 100) / 10;
  return { runs: s.length, medianS: r(mid), worstS: r(s[s.length - 1] ?? NaN), allS: ms.map(r) };
}

/** The README's formula (ttr-breakdown.ts): a uniform wait for the next probe, N rounds and N − 1 retry waits, the runbook. */
function formula(p: ProbeSettings, roundS: number, runbookS: number): { medianS: number; worstS: number } {
  const t = formulaTerms(p, roundS, runbookS);
  return { medianS: +t.median.toFixed(1), worstS: +t.worst.toFixed(1) };
}

/** Does the host answer HTTP from the machine (what Monit's check asks)? */
async function httpUp(address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}/`, { method: 'HEAD', signal: AbortSignal.timeout(1000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

interface MamoriLane {
  daemon: DaemonProcess;
  stateDir: string;
  probe: ProbeSettings;
  kills: KillRun[];
}

async function startMamori(lab: Lab, host: string, probe: ProbeSettings, dir: string): Promise<MamoriLane> {
  const doc = fleetServer(lab, lab.host(host), { customer: CUSTOMER, services: ['ping', 'ssh', 'http'], locale: 'en' });
  await writeServerManifests(join(dir, 'manifests'), [doc]);
  await writeLabSecrets(join(dir, 'secrets'), lab);
  const port = await freePort();
  const config = join(dir, 'mamori.yaml');
  await writeFile(
    config,
    fleetConfigYaml({
      lab,
      source: { type: 'folder', path: 'manifests' },
      httpPort: port,
      probe,
      remediation: { restartsPerServicePerHour: 100, flapping: { transitions: 100, windowMinutes: 30 } },
    }),
  );
  const daemon = await spawnDaemon({ cwd: dir, config, port });
  return { daemon, stateDir: join(dir, 'state'), probe, kills: [] };
}

/** The bench's customer: journal records and the API name the server by its id, customer/name. */
const CUSTOMER = 'bench';

async function mamoriRuns(lab: Lab, host: string, lane: MamoriLane): Promise<RunPhases[]> {
  const out: RunPhases[] = [];
  const id = `${CUSTOMER}/${host}`;
  const httpOf = async (): Promise<{ state: string; lastProbe?: { at: string } } | undefined> => {
    const { json } = await lane.daemon.get('/api/status');
    const servers = (json as { reconciler?: { servers?: Array<{ metadata: { name: string; customer?: string }; services: Record<string, { state: string; lastProbe?: { at: string } }> }> } }).reconciler?.servers ?? [];
    const s = servers.find((x) => x.metadata.name === host && x.metadata.customer === CUSTOMER);
    if (s === undefined || !Object.values(s.services).every((v) => v.state === 'Healthy')) return undefined;
    return s.services.http;
  };
  for (let i = 0; i < RUNS; i += 1) {
    await until(`${host} healthy`, async () => ((await httpOf()) !== undefined ? true : undefined), RUN_BOUND_MS, 100);
    await sleep(Math.random() * lane.probe.intervalSeconds * 1000);
    // The newest probe before the kill: where in the schedule the kill falls.
    const last = (await httpOf())?.lastProbe?.at;
    const killAt = Date.now();
    await lab.breakService(host, 'httpd');
    const run: KillRun = { killAt, killMs: Date.now() - killAt, ...(last !== undefined ? { lastProbeAt: Date.parse(last) } : {}) };
    const phases = await until(`${host} Recovered`, async () => runPhases((await readJournal(lane.stateDir)).records, id, 'http', run));
    lane.kills.push(run);
    out.push(phases);
  }
  return out;
}

async function startMonit(lab: Lab, host: string, intervalS: number, dir: string): Promise<ChildProcess> {
  const h = lab.host(host);
  const restart = join(dir, `restart-${host}.sh`);
  // Monit runs on the machine; the host's own init script runs inside the host (its console).
  // (Not `exec console.sh`: Monit then lost every restart after the first one here.)
  await writeFile(restart, `#!/bin/sh\n${lab.dir}/bin/console.sh ${h.dir} '/etc/init.d/httpd start' >>${join(dir, `restart-${host}.log`)} 2>&1\n`, { mode: 0o755 });
  const rc = join(dir, `monitrc-${host}`);
  await writeFile(
    rc,
    [
      `set daemon ${intervalS}`,
      `set logfile ${join(dir, `monit-${host}.log`)}`,
      `set pidfile ${join(dir, `monit-${host}.pid`)}`,
      `set idfile ${join(dir, `monit-${host}.id`)}`,
      `set statefile ${join(dir, `monit-${host}.state`)}`,
      `check host ${host} with address ${h.address}`,
      `  if failed port 80 protocol http then exec "${restart}"`,
      '',
    ].join('\n'),
  );
  await chmod(rc, 0o600);
  return spawn('monit', ['-I', '-c', rc], { stdio: 'ignore' });
}

async function monitRuns(lab: Lab, host: string, intervalS: number, dir: string): Promise<number[]> {
  const address = lab.host(host).address;
  const out: number[] = [];
  try {
    for (let i = 0; i < RUNS; i += 1) {
      await until(`${host} answers`, async () => ((await httpUp(address)) ? true : undefined), RUN_BOUND_MS, 100);
      // Monit acts on a change of state: it must have seen the service up again (one cycle) before
      // the next kill, or it still holds the old failure and does nothing.
      await sleep((intervalS + 1) * 1000 + Math.random() * intervalS * 1000);
      const t0 = Date.now();
      await lab.breakService(host, 'httpd');
      await until(`${host} restarted by monit`, async () => ((await httpUp(address)) ? true : undefined), RUN_BOUND_MS, 50);
      out.push(Date.now() - t0);
    }
  } catch (err) {
    const tail = async (f: string): Promise<string> => (await readFile(join(dir, f), 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
    throw new Error(`${(err as Error).message}; runs so far ${JSON.stringify(out)}\nmonit log:\n${await tail(`monit-${host}.log`)}\nrestart log:\n${await tail(`restart-${host}.log`)}`);
  }
  return out;
}

export async function run(): Promise<void> {
  if (LANES.has('small')) await smallLanes();
  if (LANES.has('power')) await powerLanes({ runs: RUNS, probe: DEFAULT_PROBE, boundMs: RUN_BOUND_MS });
}

async function smallLanes(): Promise<void> {
  let lab: Lab | undefined;
  const monits: ChildProcess[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'mamori-ttr-'));
  try {
    lab = await startLab({ id: LAB_ID, hosts: [{ name: 'bench-def' }, { name: 'bench-fast' }, { name: 'bench-mon30' }, { name: 'bench-mon5' }] });
    const l = lab;
    const defDir = await mkdtemp(join(dir, 'def-'));
    const fastDir = await mkdtemp(join(dir, 'fast-'));
    const [def, fast] = await Promise.all([startMamori(l, 'bench-def', DEFAULT_PROBE, defDir), startMamori(l, 'bench-fast', FASTEST_PROBE, fastDir)]);
    monits.push(await startMonit(l, 'bench-mon30', 30, dir), await startMonit(l, 'bench-mon5', 5, dir));
    console.log(JSON.stringify({ loadavg: loadavg().map((x) => +x.toFixed(2)), cpus: cpus().length, at: 'start' }));
    console.log(JSON.stringify({ note: `${RUNS} kills per lane, the four lanes side by side on lab ${LAB_ID}; mamori: kill → Recovered in its journal; Monit: kill → HTTP answers again` }));
    const [dRuns, fRuns, m30, m5] = await Promise.all([
      mamoriRuns(l, 'bench-def', def),
      mamoriRuns(l, 'bench-fast', fast),
      monitRuns(l, 'bench-mon30', 30, dir),
      monitRuns(l, 'bench-mon5', 5, dir),
    ]);
    // A probe round tₚ ≈ 0.1 s (the ping prober's 50 ms batching window, fping's first reply, the TCP
    // probes); the runbook R ≈ 1.2 s in the lab (login, look, restart, verify).
    const [ROUND_S, RUNBOOK_S] = [0.1, 1.2];
    const totals = (runs: RunPhases[]): number[] => runs.map((r) => r.totalS * 1000);
    console.log(JSON.stringify({ figure: 'mamori TTR, default settings (30 s interval, 5 s timeout, retry, 3 failures to Down)', probe: DEFAULT_PROBE, ...stats(totals(dRuns)), formula: formula(DEFAULT_PROBE, ROUND_S, RUNBOOK_S), goal: { medianS: 20, worstS: 40 } }));
    console.log(JSON.stringify({ figure: 'mamori TTR, fastest supported settings (0.2 s interval, 0.1 s retry, 2 failures to Down)', probe: FASTEST_PROBE, ...stats(totals(fRuns)), formula: formula(FASTEST_PROBE, ROUND_S, RUNBOOK_S), goal: { medianS: 2 } }));
    console.log(JSON.stringify({ figure: 'Monit 5.33 TTR, set daemon 30, exec restart, no confirmation', ...stats(m30) }));
    console.log(JSON.stringify({ figure: 'Monit 5.33 TTR, set daemon 5, exec restart, no confirmation', ...stats(m5) }));
    // Each mamori lane phase by phase (its journal), beside the formula's terms.
    for (const [name, lane, runs] of [
      ['mamori defaults', def, dRuns],
      ['mamori fastest', fast, fRuns],
    ] as const) {
      console.log(breakdownTable(name, runs, formulaTerms(lane.probe, ROUND_S, RUNBOOK_S), lane.kills.map((k) => schedulePhase(k, lane.probe.intervalSeconds))));
    }
    console.log(JSON.stringify({ loadavg: loadavg().map((x) => +x.toFixed(2)), cpus: cpus().length, at: 'end' }));
    for (const lane of [def, fast]) {
      lane.daemon.child.kill('SIGTERM');
      await Promise.race([lane.daemon.exited, sleep(20_000)]);
    }
  } finally {
    killStrays();
    for (const m of monits) if (m.exitCode === null && m.signalCode === null) m.kill('SIGTERM');
    await lab?.stop();
    // TTR_KEEP=1 keeps the lanes' state folders (journals, status files) for a look afterwards.
    if (process.env.TTR_KEEP === '1') console.log(JSON.stringify({ kept: dir }));
    else await rm(dir, { recursive: true, force: true });
  }
}
