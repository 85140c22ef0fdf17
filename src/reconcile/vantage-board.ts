/**
 * What the vantage-point agents reported, kept for decide: the newest trusted report per server,
 * service and vantage, the BMC power state asked for failing hosts, and which servers are disputed
 * (down from the daemon's own network, up from an agent's). No I/O; the HTTP side hands reports in.
 *
 * A report is refused whole when its timestamp is off the daemon's clock by more than
 * `maxSkewMs` (MAMORI_AGENT_REPORT_REFUSED); inside it, an observation for a server the daemon
 * does not watch, one from the future, or one already stale is dropped (a stale report is no vote).
 */
import { MamoriError } from '../errors.ts';
import { isServiceName, type ServiceName } from '../probe/types.ts';
import type { VantageContext } from './decide.ts';
import type { BmcPower, VantageObservation, VantagePolicy } from './quorum.ts';
import type { DesiredServer, ObservedServer, Policy, ServerHistory } from './types.ts';

/** The body an agent POSTs to /api/observations (signed; see src/cli/agent.ts). */
export interface AgentReport {
  vantage: string;
  /** When the agent sent it (epoch ms, its clock). */
  sentAt: number;
  observations: Array<{ server: string; service: ServiceName; up: boolean | 'unknown'; at: number; latencyMs?: number; failureKind?: string; message?: string }>;
}

export interface AcceptResult {
  accepted: number;
  /** Dropped: unknown server or service, stale, or from the future. */
  dropped: number;
}

const MAX_OBSERVATIONS = 20_000;

/** How often a failing host's BMC is asked again (the daemon's probe wrapper, wiring.ts): at most once a retry interval, and not more than every 5 s. */
export function bmcAskPeriodMs(policy: Pick<Policy, 'retryMs'>): number {
  return Math.max(policy.retryMs, 5_000);
}

/**
 * How long the BMC's word is used: one probe interval, and at least until it is asked again (with
 * an interval shorter than the asking period the word would otherwise lapse between two asks, and a
 * powered-off host would wait out the destructive wait and a quorum it does not need).
 */
export function bmcWordValidMs(policy: Pick<Policy, 'retryMs' | 'intervalMs'>): number {
  return Math.max(policy.intervalMs, bmcAskPeriodMs(policy));
}
const MAX_MESSAGE = 300;

function refuse(message: string): never {
  throw new MamoriError('MAMORI_AGENT_REPORT_REFUSED', message);
}

/** The shape of a report, checked field by field (an agent's body is input like any other). */
export function parseAgentReport(value: unknown): AgentReport {
  if (typeof value !== 'object' || value === null) refuse('a report is a JSON object');
  const v = value as Record<string, unknown>;
  if (typeof v.vantage !== 'string' || v.vantage.length > 63) refuse('vantage: a vantage name');
  if (typeof v.sentAt !== 'number' || !Number.isFinite(v.sentAt)) refuse('sentAt: epoch milliseconds');
  if (!Array.isArray(v.observations) || v.observations.length > MAX_OBSERVATIONS) refuse(`observations: a list of at most ${MAX_OBSERVATIONS}`);
  const observations: AgentReport['observations'] = [];
  v.observations.forEach((o: unknown, i: number) => {
    if (typeof o !== 'object' || o === null) refuse(`observations[${i}]: an object`);
    const r = o as Record<string, unknown>;
    if (typeof r.server !== 'string' || r.server.length > 200) refuse(`observations[${i}].server: a server id`);
    if (!isServiceName(r.service)) refuse(`observations[${i}].service: a service name`);
    if (r.up !== true && r.up !== false && r.up !== 'unknown') refuse(`observations[${i}].up: true, false or "unknown"`);
    if (typeof r.at !== 'number' || !Number.isFinite(r.at)) refuse(`observations[${i}].at: epoch milliseconds`);
    observations.push({
      server: r.server,
      service: r.service,
      up: r.up,
      at: r.at,
      ...(typeof r.latencyMs === 'number' && Number.isFinite(r.latencyMs) ? { latencyMs: r.latencyMs } : {}),
      ...(typeof r.failureKind === 'string' ? { failureKind: r.failureKind.slice(0, 40) } : {}),
      ...(typeof r.message === 'string' ? { message: r.message.slice(0, MAX_MESSAGE) } : {}),
    });
  });
  return { vantage: v.vantage, sentAt: v.sentAt, observations };
}

export interface VantageStatus {
  name: string;
  network: string;
  self: boolean;
  /** When its last report arrived (ISO), if ever. */
  lastReportAt?: string;
  /** No report within the freshness window. */
  lost: boolean;
}

export class VantageBoard {
  readonly policy: VantagePolicy;
  private readonly maxSkewMs: number;
  private readonly reports = new Map<string, Map<ServiceName, Map<string, VantageObservation>>>();
  private readonly lastReport = new Map<string, number>();
  private readonly bmc = new Map<string, { power: BmcPower; at: number }>();
  private readonly disputed = new Set<string>();
  /** Each server's services failing from the daemon's own network at its last pass, and since when. */
  private readonly selfFailing = new Map<string, Map<ServiceName, number>>();

  constructor(policy: VantagePolicy, options: { maxSkewMs: number }) {
    this.policy = policy;
    this.maxSkewMs = options.maxSkewMs;
  }

  /**
   * An agent's report: the vantage its token belongs to (never the body's word alone), the
   * servers the daemon watches. Throws MAMORI_AGENT_REPORT_REFUSED for a skewed or foreign report.
   */
  accept(vantage: string, report: AgentReport, now: number, watched: (server: string) => boolean): AcceptResult {
    if (!this.policy.remotes.some((r) => r.name === vantage)) refuse(`the token is not a configured vantage's (${vantage})`);
    if (report.vantage !== vantage) refuse(`the report says vantage ${report.vantage}, its token is ${vantage}'s`);
    const skew = report.sentAt - now;
    if (Math.abs(skew) > this.maxSkewMs) refuse(`the report's clock is ${Math.round(skew / 1000)} s off the daemon's (at most ${Math.round(this.maxSkewMs / 1000)} s): fix the agent's time (NTP)`);
    this.lastReport.set(vantage, now);
    let accepted = 0;
    let dropped = 0;
    const touched = new Set<string>();
    for (const o of report.observations) {
      // Taken after it was sent, or stale already: no vote.
      if (o.at > report.sentAt || now - (o.at - skew) > this.policy.freshMs || !watched(o.server)) {
        dropped++;
        continue;
      }
      let byService = this.reports.get(o.server);
      if (byService === undefined) this.reports.set(o.server, (byService = new Map()));
      let byVantage = byService.get(o.service);
      if (byVantage === undefined) byService.set(o.service, (byVantage = new Map()));
      const prev = byVantage.get(vantage);
      // Times are the daemon's: the agent's clock moved by the skew measured on this report.
      const at = o.at - skew;
      if (prev !== undefined && prev.at >= at) {
        dropped++;
        continue;
      }
      byVantage.set(vantage, { vantage, up: o.up, at, receivedAt: now, ...(o.failureKind !== undefined ? { failureKind: o.failureKind } : {}), ...(o.message !== undefined ? { message: o.message } : {}) });
      accepted++;
      touched.add(o.server);
    }
    // Every server this report speaks of is re-judged now, not at its own next pass: the first of
    // many servers disputed at once must not be counted alone (one customer's firewall) because the
    // others' passes have not run since the same report arrived.
    for (const server of touched) this.judgeDisputed(server, now);
    return { accepted, dropped };
  }

  /** Disputed: a service failing from the daemon's network that another vantage saw answer since the failure began. */
  private judgeDisputed(name: string, now: number): void {
    const failing = this.selfFailing.get(name);
    const byService = this.reports.get(name);
    let disputed = false;
    if (failing !== undefined && byService !== undefined) {
      for (const [svc, since] of failing) {
        for (const r of byService.get(svc)?.values() ?? []) if (r.up === true && now - r.at <= this.policy.freshMs && r.at >= since) disputed = true;
      }
    }
    if (disputed) this.disputed.add(name);
    else this.disputed.delete(name);
  }

  setBmc(server: string, power: BmcPower, at: number): void {
    this.bmc.set(server, { power, at });
  }

  bmcAskedAt(server: string): number | undefined {
    return this.bmc.get(server)?.at;
  }

  /** The reports for decide, the server's disputed flag brought up to date first. */
  contextFor(desired: DesiredServer, observed: ObservedServer | undefined, history: ServerHistory | undefined, now: number, servers: number, policy: Policy): VantageContext {
    const name = desired.name;
    const byService = this.reports.get(name);
    const reports: VantageContext['reports'] = {};
    if (byService !== undefined) for (const [svc, m] of byService) reports[svc] = [...m.values()];
    const failing = new Map<ServiceName, number>();
    for (const svc of desired.services) {
      const o = observed?.[svc];
      const h = history?.services[svc];
      const selfUp = o !== undefined && o.up !== 'unknown' && o.at > (h?.lastProbeAt ?? 0) ? o.up : h?.lastUp;
      if (selfUp === false) failing.set(svc, h?.failingSince ?? o?.at ?? now);
    }
    if (failing.size > 0) this.selfFailing.set(name, failing);
    else this.selfFailing.delete(name);
    this.judgeDisputed(name, now);
    const bmc = this.bmc.get(name);
    // A word from before the server's newest power action is about a host that has been acted on since.
    const lastPower = history?.powerActions.at(-1);
    const bmcValid = bmc !== undefined && now - bmc.at <= bmcWordValidMs(policy) && (lastPower === undefined || bmc.at > lastPower);
    return {
      policy: this.policy,
      reports,
      disputedServers: this.disputed.size,
      ...(bmcValid ? { bmc: bmc.power } : {}),
      doubted: this.doubted(now, servers, policy),
    };
  }

  /**
   * The mass-failure breaker, per vantage: an agent that sees as many servers fail at once as
   * would trip the daemon's own fleet breaker is doubting its own network, and is no vote.
   */
  doubted(now: number, servers: number, policy: Policy): string[] {
    if (servers === 0) return [];
    const failing = new Map<string, number>();
    for (const byService of this.reports.values()) {
      const seen = new Set<string>();
      for (const m of byService.values()) for (const r of m.values()) if (r.up === false && now - r.at <= this.policy.freshMs) seen.add(r.vantage);
      for (const v of seen) failing.set(v, (failing.get(v) ?? 0) + 1);
    }
    const out: string[] = [];
    for (const [v, n] of failing) if (n >= policy.massMinServers && n >= policy.fleetFraction * servers) out.push(v);
    return out;
  }

  /** Servers no longer watched are forgotten. */
  retain(watched: (server: string) => boolean): void {
    for (const name of [...this.reports.keys()]) if (!watched(name)) this.reports.delete(name);
    for (const name of [...this.bmc.keys()]) if (!watched(name)) this.bmc.delete(name);
    for (const name of [...this.disputed]) if (!watched(name)) this.disputed.delete(name);
    for (const name of [...this.selfFailing.keys()]) if (!watched(name)) this.selfFailing.delete(name);
  }

  status(now: number): VantageStatus[] {
    const self: VantageStatus = { name: this.policy.self.name, network: this.policy.self.network, self: true, lost: false };
    return [
      self,
      ...this.policy.remotes.map((r) => {
        const last = this.lastReport.get(r.name);
        return { name: r.name, network: r.network, self: false, ...(last !== undefined ? { lastReportAt: new Date(last).toISOString() } : {}), lost: last === undefined || now - last > this.policy.freshMs };
      }),
    ];
  }
}
