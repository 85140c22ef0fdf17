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
 *
 * The fleet lanes (issue 28, only when named: TTR_LANES=fleet or small,power,fleet): mamori with `probe.intervalSeconds:
 * auto` watching TTR_FLEET_SIZE servers (default 1,000: the fleet lab's addresses, id 253, 6 services
 * each, and one real lab host whose httpd is killed), beside Monit at `set daemon 30` watching the
 * same fleet (the same addresses, a ping and the five ports each, and its own real host with the
 * restart). TTR_FLEET_RUNS kills a lane (default 20), each process's CPU over the kills (% of one
 * core, its reaped children included: fping, the restart script). mamori's median is compared with
 * the formula at the interval `auto` chose (from /api/status). The scheduled readiness check is off
 * in the fleet lane: the fleet lab's SSH is a greeting only, so every login would fail and mail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { breakdownTable, formulaTerms, schedulePhase, type RunPhases } from './ttr-breakdown.ts';
import { BENCH_REMEDIATION, DEFAULT_PROBE, formula, killHostServer, laneServer, mamoriRuns, ROUND_S, RUNBOOK_S, sleep, stats, until, type MamoriLane } from './ttr-kills.ts';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../test/daemon/daemon-process.ts';
import { startLab, type Lab } from '../test/lab/index.ts';
import { startFleet, type FleetLab } from '../test/lab/fleet.ts';
import { fleetConfigYaml, writeLabSecrets, writeServerManifests, type ProbeSettings } from '../test/support/lab-fleet.ts';
import { powerLanes } from './ttr-power.ts';

/** The bench's own lab (250–254 are reserved for it). */
const LAB_ID = 250;
const RUNS = Math.max(1, Math.min(20, Number(process.env.TTR_RUNS ?? 5)));
const RUN_BOUND_MS = 180_000;
const LANES = new Set((process.env.TTR_LANES ?? 'small,power').split(',').map((l) => l.trim()));
/** The fleet lanes' fleet lab (its /16: 10.253.0.0/16, fleetRange(253)) and size, and kills a lane. */
const FLEET_LAB_ID = 253;
const FLEET_SIZE = Math.max(10, Math.min(20_000, Number(process.env.TTR_FLEET_SIZE ?? 1000)));
const FLEET_RUNS = Math.max(1, Math.min(50, Number(process.env.TTR_FLEET_RUNS ?? 20)));
const FLEET_SERVICES = ['ping', 'ssh', 'http', 'ftp', 'smtp', 'imap'] as const;
/** The fleet lab's ports for the services Monit checks with a connection (ping is its own check). */
const FLEET_PORTS = [22, 80, 21, 25, 143] as const;
/** The fastest settings the config schema allows, confirmation kept (two failures make Down). */
export const FASTEST_PROBE: ProbeSettings = { intervalSeconds: 0.2, timeoutSeconds: 1, retryIntervalSeconds: 0.1, failuresToDown: 2, jitter: 0.1 };

/** Does the host answer HTTP from the machine (what Monit's check asks)? */
async function httpUp(address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}/`, { method: 'HEAD', signal: AbortSignal.timeout(1000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

async function startMamori(lab: Lab, host: string, probe: ProbeSettings, dir: string): Promise<MamoriLane> {
  const doc = killHostServer(lab, host, ['ping', 'ssh', 'http']);
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
      remediation: BENCH_REMEDIATION,
    }),
  );
  const daemon = await spawnDaemon({ cwd: dir, config, port });
  return { daemon, stateDir: join(dir, 'state'), probe, kills: [] };
}

async function startMonit(lab: Lab, host: string, intervalS: number, dir: string, extra: readonly string[] = []): Promise<ChildProcess> {
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
      ...extra,
      '',
    ].join('\n'),
  );
  await chmod(rc, 0o600);
  return spawn('monit', ['-I', '-c', rc], { stdio: 'ignore' });
}

async function monitRuns(lab: Lab, host: string, intervalS: number, dir: string, runs = RUNS): Promise<number[]> {
  const address = lab.host(host).address;
  const out: number[] = [];
  try {
    for (let i = 0; i < runs; i += 1) {
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
  if (LANES.has('fleet')) await fleetLanes();
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
      mamoriRuns(l, 'bench-def', def, RUNS),
      mamoriRuns(l, 'bench-fast', fast, RUNS),
      monitRuns(l, 'bench-mon30', 30, dir),
      monitRuns(l, 'bench-mon5', 5, dir),
    ]);
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

/** CPU seconds of a process and its reaped children (/proc/PID/stat: utime stime cutime cstime). */
function cpuSeconds(pid: number): number {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

const fleetCustomer = (i: number): string => `c${String(i % 100).padStart(2, '0')}`;

/** Fleet server i: 6 services at a fleet lab address; its login is never used (nothing fails there). */
function fleetManifest(i: number, address: string, managementNet: string): string {
  const c = fleetCustomer(i);
  return `apiVersion: mamori/v1
kind: Server
metadata: { name: s${i}, customer: ${c} }
spec:
  address: ${address}
  os: { family: centos, version: "5.4" }
  plan: basic
  contact: { email: ops@${c}.example }
  allowedNetworks: [${managementNet}]
  services: [${FLEET_SERVICES.join(', ')}]
  access: { user: mamori, hostKey: "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", credentials: { secretRef: ${c}-login } }
`;
}

/** Monit's checks of one fleet server: a ping and a connection to each of the five ports. */
function monitFleetChecks(i: number, address: string): string[] {
  return [`check host s${i} with address ${address}`, '  if failed ping count 1 with timeout 3 seconds then alert', ...FLEET_PORTS.map((p) => `  if failed port ${p} with timeout 3 seconds then alert`)];
}

/**
 * mamori with `auto` and Monit at `set daemon 30`, each watching the same FLEET_SIZE servers (the
 * fleet lab's addresses and one real lab host of its own), killed side by side FLEET_RUNS times.
 */
async function fleetLanes(): Promise<void> {
  let lab: Lab | undefined;
  let fleet: FleetLab | undefined;
  let daemon: DaemonProcess | undefined;
  let monit: ChildProcess | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'mamori-ttr-fleet-'));
  try {
    lab = await startLab({ id: LAB_ID, hosts: [{ name: 'bench-auto' }, { name: 'bench-monf' }] });
    const l = lab;
    const f = await startFleet({ id: FLEET_LAB_ID, n: FLEET_SIZE - 1, sample: 0 });
    fleet = f;
    // mamori: the real host and FLEET_SIZE − 1 fleet servers, a folder source.
    const mdir = await mkdtemp(join(dir, 'auto-'));
    await writeServerManifests(join(mdir, 'manifests'), [killHostServer(l, 'bench-auto', ['ping', 'ssh', 'http'])]);
    for (let i = 0; i < f.n; i += 1) {
      const folder = join(mdir, 'manifests', 'customers', fleetCustomer(i), 'servers');
      if (i < 100) await mkdir(folder, { recursive: true });
      await writeFile(join(folder, `s${i}.yaml`), fleetManifest(i, f.address(i), l.subnet));
    }
    const logins: Record<string, string> = {};
    for (let c = 0; c < Math.min(100, f.n); c += 1) logins[`${fleetCustomer(c)}-login`] = 'not-a-key\n';
    await writeLabSecrets(join(mdir, 'secrets'), l, logins);
    const port = await freePort();
    const config = join(mdir, 'mamori.yaml');
    const doc = parse(
      fleetConfigYaml({
        lab: l,
        source: { type: 'folder', path: 'manifests' },
        httpPort: port,
        probe: DEFAULT_PROBE,
        remediation: BENCH_REMEDIATION,
        readiness: { enabled: false },
      }),
    ) as { probe: Record<string, unknown>; targetNetworks: string[] };
    doc.probe.intervalSeconds = 'auto';
    doc.targetNetworks.push(f.range);
    await writeFile(config, stringify(doc, { lineWidth: 0 }));
    const t0 = Date.now();
    daemon = await spawnDaemon({ cwd: mdir, config, port });
    const d = daemon;
    const lane: MamoriLane = { daemon: d, stateDir: join(mdir, 'state'), probe: DEFAULT_PROBE, kills: [] };
    await until(
      'bench-auto healthy',
      async () => {
        const s = await laneServer(lane, 'bench-auto');
        return s !== undefined && Object.values(s.services).every((v) => v.state === 'Healthy') ? true : undefined;
      },
      300_000,
      500,
    );
    // The interval `auto` chose for the applied fleet (every server's services counted).
    type Interval = { mode?: string; seconds?: number; limitedBy?: string; probesPerRound?: number; probesPerSecond?: number };
    const interval = await until(
      'the automatic interval for the whole fleet',
      async () => {
        const i = ((await d.get('/api/status')).json as { daemon?: { probeInterval?: Interval } }).daemon?.probeInterval;
        return i?.mode === 'auto' && typeof i.seconds === 'number' && (i.probesPerRound ?? 0) >= f.n * FLEET_SERVICES.length ? i : undefined;
      },
      60_000,
      1000,
    );
    const autoS = interval.seconds as number;
    const probe: ProbeSettings = { ...DEFAULT_PROBE, intervalSeconds: autoS };
    lane.probe = probe;
    console.log(JSON.stringify({ note: `fleet lanes: ${FLEET_SIZE} servers each (fleet lab ${FLEET_LAB_ID}: ${f.n} addresses × ${FLEET_SERVICES.length} services, and one lab host), ${FLEET_RUNS} kills a lane side by side; mamori running and its host healthy ${((Date.now() - t0) / 1000).toFixed(1)} s after spawn`, interval, loadavg: loadavg().map((x) => +x.toFixed(2)) }));
    // Monit: the same fleet, and its own host with the restart.
    const extra = f.addresses().flatMap((a, i) => monitFleetChecks(i, a));
    monit = await startMonit(l, 'bench-monf', 30, dir, extra);
    const m = monit;
    const mamoriPid = d.child.pid as number;
    const monitPid = m.pid as number;
    // One Monit cycle over the whole fleet before the first kill (it must have seen everything up once).
    await sleep(35_000);
    const c0 = { mamori: cpuSeconds(mamoriPid), monit: cpuSeconds(monitPid), at: Date.now() };
    const [auto, mon] = await Promise.all([
      mamoriRuns(l, 'bench-auto', lane, FLEET_RUNS, { journalEveryMs: 1000 }).then((runs) => ({ runs, cpu: cpuSeconds(mamoriPid), at: Date.now() })),
      monitRuns(l, 'bench-monf', 30, dir, FLEET_RUNS).then((runs) => ({ runs, cpu: cpuSeconds(monitPid), at: Date.now() })),
    ]);
    const pct = (cpu: number, c: number, at: number): number => +(((cpu - c) / ((at - c0.at) / 1000)) * 100).toFixed(1);
    const fm = formula(probe, ROUND_S, RUNBOOK_S);
    const st = stats(auto.runs.map((r) => r.totalS * 1000));
    const off = (st.medianS - fm.medianS) / fm.medianS;
    console.log(
      JSON.stringify({
        figure: `mamori TTR, probe.intervalSeconds auto at ${FLEET_SIZE} servers (interval ${autoS} s, limited by ${interval?.limitedBy ?? '?'})`,
        probe,
        ...st,
        formula: fm,
        offFormula: `${(off * 100).toFixed(0)} %`,
        withinTwentyPercent: Math.abs(off) <= 0.2,
        cpuPctOfOneCore: pct(auto.cpu, c0.mamori, auto.at),
      }),
    );
    console.log(JSON.stringify({ figure: `Monit 5.33 TTR, set daemon 30, the same ${FLEET_SIZE} servers (ping + 5 ports each), exec restart, no confirmation`, ...stats(mon.runs), cpuPctOfOneCore: pct(mon.cpu, c0.monit, mon.at) }));
    console.log(breakdownTable(`mamori auto, ${FLEET_SIZE} servers`, auto.runs, formulaTerms(probe, ROUND_S, RUNBOOK_S), lane.kills.map((k) => schedulePhase(k, probe.intervalSeconds))));
    console.log(JSON.stringify({ loadavg: loadavg().map((x) => +x.toFixed(2)), cpus: cpus().length, at: 'end of the fleet lanes' }));
  } finally {
    if (daemon !== undefined) {
      daemon.child.kill('SIGTERM');
      await Promise.race([daemon.exited, sleep(20_000)]);
    }
    killStrays();
    if (monit !== undefined && monit.exitCode === null && monit.signalCode === null) monit.kill('SIGTERM');
    await fleet?.stop();
    await lab?.stop();
    if (process.env.TTR_KEEP === '1') console.log(JSON.stringify({ kept: dir }));
    else await rm(dir, { recursive: true, force: true });
  }
}
