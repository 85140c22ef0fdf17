/**
 * Kills of httpd on a real lab host (test/lab: sshd, the init scripts, the console) watched by a
 * running `mamori run`, each timed to the incident's `Recovered` in the daemon's journal and broken
 * into phases (ttr-breakdown.ts). The runbook really repairs it: it logs in over SSH, looks,
 * restarts and verifies from outside, as in production. Shared by the time-to-recovery bench
 * (bench/ttr.ts: the small and fleet lanes) and the fleet bench's fault lane (bench/fleet.ts: the
 * same host among N generated servers).
 */
import { CONFIG_DEFAULTS } from '../src/config/defaults.ts';
import { readJournal } from '../src/status/journal.ts';
import type { ServiceName } from '../src/manifest/types.ts';
import type { DaemonProcess } from '../test/daemon/daemon-process.ts';
import type { Lab } from '../test/lab/index.ts';
import { fleetServer, type ProbeSettings } from '../test/support/lab-fleet.ts';
import { formulaTerms, runPhases, type KillRun, type RunPhases } from './ttr-breakdown.ts';

/** The benches' customer: journal records and the API name a lab host's server by its id, customer/name (a host's name starts with it). */
export const BENCH_CUSTOMER = 'bench';

/**
 * The remediation settings a kill bench needs: it kills the same service over and over, which the
 * defaults (3 restarts a service an hour, a flapping hold after 6 transitions) would rightly stop repairing.
 */
export const BENCH_REMEDIATION = { restartsPerServicePerHour: 100, flapping: { transitions: 100, windowMinutes: 30 } } as const;

export const DEFAULT_PROBE: ProbeSettings = {
  intervalSeconds: CONFIG_DEFAULTS.probe.intervalSeconds,
  timeoutSeconds: CONFIG_DEFAULTS.probe.timeoutSeconds,
  retryIntervalSeconds: CONFIG_DEFAULTS.probe.retryIntervalSeconds,
  failuresToDown: CONFIG_DEFAULTS.probe.failuresToDown,
  jitter: CONFIG_DEFAULTS.probe.jitter,
};

/** The formula's measured terms in the lab: a probe round tₚ ≈ 0.1 s (fping's first reply, the TCP probes), the httpd runbook R ≈ 1.2 s (login, look, restart, verify). */
export const ROUND_S = 0.1;
export const RUNBOOK_S = 1.2;

const RUN_BOUND_MS = 180_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, boundMs = RUN_BOUND_MS, everyMs = 50): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`ttr bench: ${what} did not happen within ${boundMs} ms`);
    await sleep(everyMs);
  }
}

/** Median (of an even count: the mean of the middle two), worst and every run, in seconds to 0.1. */
export function stats(ms: number[]): { runs: number; medianS: number; worstS: number; allS: number[] } {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length % 2 === 1 ? (s[(s.length - 1) / 2] ?? NaN) : ((s[s.length / 2 - 1] ?? NaN) + (s[s.length / 2] ?? NaN)) / 2;
  const r = (x: number): number => Math.round(x / 100) / 10;
  return { runs: s.length, medianS: r(mid), worstS: r(s[s.length - 1] ?? NaN), allS: ms.map(r) };
}

/** The README's formula (ttr-breakdown.ts): a uniform wait for the next probe, N rounds and N − 1 retry waits, the runbook. */
export function formula(p: ProbeSettings, roundS = ROUND_S, runbookS = RUNBOOK_S): { medianS: number; worstS: number } {
  const t = formulaTerms(p, roundS, runbookS);
  return { medianS: +t.median.toFixed(1), worstS: +t.worst.toFixed(1) };
}

/**
 * The Server document of the lab host a bench kills httpd on: the benches' customer, English mail,
 * its real sshd and the lab's console profile (labConsoleProfiles in the daemon's config), so the
 * standard runbook repairs it. `extraAllowed`: management networks of the daemon besides the lab's.
 */
export function killHostServer(lab: Lab, host: string, services: readonly ServiceName[], extraAllowed: readonly string[] = []): ReturnType<typeof fleetServer> {
  const doc = fleetServer(lab, lab.host(host), { customer: BENCH_CUSTOMER, services: [...services], locale: 'en' });
  doc.spec.allowedNetworks = [...extraAllowed, ...doc.spec.allowedNetworks];
  return doc;
}

export interface MamoriLane {
  daemon: DaemonProcess;
  stateDir: string;
  probe: ProbeSettings;
  kills: KillRun[];
}

type ApiService = { state: string; lastProbe?: { at: string } };

/** One server of a lane's daemon, found through /api/servers (a page of one: cheap at any fleet size). */
export async function laneServer(lane: MamoriLane, host: string): Promise<{ services: Record<string, ApiService> } | undefined> {
  const { json } = await lane.daemon.get(`/api/servers?q=${encodeURIComponent(`${BENCH_CUSTOMER}/${host}`)}&limit=10`);
  const servers = (json as { servers?: Array<{ metadata: { name: string; customer?: string }; services: Record<string, ApiService> }> }).servers ?? [];
  return servers.find((x) => x.metadata.name === host && x.metadata.customer === BENCH_CUSTOMER);
}

/**
 * `count` phases of the probe schedule (0 = just after a probe, 1 = one interval on), one drawn at
 * random in each of `count` equal slices of the interval, in random order: every kill still falls at
 * a random phase, but a handful of kills covers the interval evenly, so two lanes' medians of five
 * compare (five plain uniform draws put a median's wait anywhere within ±6 s of I/2 at 30 s).
 */
export function stratifiedPhases(count: number, random: () => number = Math.random): number[] {
  const out = Array.from({ length: count }, (_, k) => (k + random()) / count);
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}

export interface KillOptions {
  /**
   * How often the journal is read for the run's phases (ms). Above 50 it is read only once the API
   * shows the service failing and answering again: a large fleet's journal is megabytes. The phases
   * come from the journal's own times, so how often it is read changes no figure.
   */
  journalEveryMs?: number;
  /**
   * The phase of the schedule each kill falls at (stratifiedPhases): the kill is timed from the
   * service's newest probe as the API shows it. Without it a kill waits a uniform random part of the
   * interval after the host is seen healthy.
   */
  phases?: readonly number[];
  boundMs?: number;
}

/** `runs` kills of httpd on `host`, each read back from the journal. */
export async function mamoriRuns(lab: Lab, host: string, lane: MamoriLane, runs: number, o: KillOptions = {}): Promise<RunPhases[]> {
  const journalEveryMs = o.journalEveryMs ?? 50;
  const boundMs = o.boundMs ?? RUN_BOUND_MS;
  const out: RunPhases[] = [];
  const id = `${BENCH_CUSTOMER}/${host}`;
  const httpOf = async (): Promise<ApiService | undefined> => {
    const s = await laneServer(lane, host);
    if (s === undefined || !Object.values(s.services).every((v) => v.state === 'Healthy')) return undefined;
    return s.services.http;
  };
  const intervalMs = lane.probe.intervalSeconds * 1000;
  for (let i = 0; i < runs; i += 1) {
    await until(`${host} healthy`, async () => ((await httpOf()) !== undefined ? true : undefined), boundMs, 100);
    const phase = o.phases?.[i];
    let last: number | undefined;
    if (phase === undefined) {
      await sleep(Math.random() * intervalMs);
      // The newest probe before the kill: where in the schedule the kill falls.
      const at = (await httpOf())?.lastProbe?.at;
      last = at === undefined ? undefined : Date.parse(at);
    } else {
      // The kill at the newest probe + phase · I; once that moment has passed, the next probe's.
      const target = await until(
        `a probe of ${host}'s http to time the kill from`,
        async () => {
          const at = (await httpOf())?.lastProbe?.at;
          if (at === undefined) return undefined;
          const t = Date.parse(at) + phase * intervalMs;
          return t > Date.now() + 20 ? { probeAt: Date.parse(at), t } : undefined;
        },
        boundMs,
        200,
      );
      await sleep(target.t - Date.now());
      last = target.probeAt;
    }
    const killAt = Date.now();
    await lab.breakService(host, 'httpd');
    const run: KillRun = { killAt, killMs: Date.now() - killAt, ...(last !== undefined ? { lastProbeAt: last } : {}) };
    if (journalEveryMs > 50) {
      let failed = false;
      await until(
        `${host} http failing then answering`,
        async () => {
          const st = (await laneServer(lane, host))?.services.http?.state;
          if (st !== undefined && st !== 'Healthy') failed = true;
          return failed && (st === 'Recovered' || st === 'Healthy') ? true : undefined;
        },
        boundMs,
        100,
      );
    }
    const phases = await until(`${host} Recovered`, async () => runPhases((await readJournal(lane.stateDir)).records, id, 'http', run), boundMs, journalEveryMs);
    lane.kills.push(run);
    out.push(phases);
  }
  return out;
}
