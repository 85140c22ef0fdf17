/**
 * The controller's RemediationCoordinator on etcd: a server is probed by the replica rendezvous
 * hashing gives it; an attempt starts only under a claim and with its intent written by the fenced
 * transaction (claims.ts), the fleet-wide limits judged on what etcd holds (limits.ts); a step a
 * previous owner left without an outcome is judged (takeover.ts), never repeated.
 */
import type { Logger } from 'pino';
import { serverKey, type AttemptGrant, type AttemptRequest, type HostFactReader, type RemediationCoordinator } from '../reconcile/coordinator.ts';
import type { Policy } from '../reconcile/types.ts';
import { CLOSED_STEP, openIncidentsOf, type Claim, type StepKind, type StepRecord } from './claims.ts';
import type { Cluster } from './cluster.ts';
import { limitCheck } from './limits.ts';
import { hostEvidence, inFlightUntil, judgeInDoubt, type HostEvidence } from './takeover.ts';

/** Verdicts after which the incident's claim is given back (the controller closes or escalates it). */
const ENDS_INCIDENT = new Set(['Recovered', 'Escalated', 'RemoteAccessBlocked', 'HostKeyMismatch', 'OSMismatch', 'SecretMissing', 'ManagementAccessDenied', 'PassphraseRequired']);

export class ClusterCoordinator implements RemediationCoordinator {
  private readonly held = new Map<string, Claim>();
  /** Servers whose answered incident is being closed (serviceAnswered). */
  private readonly closing = new Set<string>();
  /** Servers with an attempt granted and not yet ended. */
  private readonly running = new Set<string>();
  private hostReader: HostFactReader | undefined;
  /** What a host showed of a step it ran (stable while its verify window lasts), by step key. */
  private readonly acted = new Map<string, HostEvidence>();

  constructor(
    private readonly cluster: Cluster,
    private readonly policy: Policy,
    private readonly stepDeadlineMs: number,
    private readonly log: Logger,
  ) {}

  owns(server: string, customer: string | undefined): boolean {
    return this.cluster.owns(serverKey(server, customer));
  }

  readHostsWith(reader: HostFactReader): void {
    this.hostReader = reader;
  }

  /** How long a service has to answer after the host showed its step ran (a restart's verify). */
  private get verifyMs(): number {
    return Math.max(30_000, 2 * this.policy.intervalMs);
  }

  private async hostSays(key: string, doubt: StepRecord): Promise<HostEvidence> {
    const id = `${key}|${doubt.incident}/${doubt.step}`;
    const known = this.acted.get(id);
    if (known !== undefined) return known;
    if (this.hostReader === undefined || doubt.kind === 'other') return { host: 'unknown', detail: 'the host cannot be asked' };
    const ev = hostEvidence(doubt, await this.hostReader(key, { kind: doubt.kind, service: doubt.service === 'host' ? 'ping' : doubt.service }));
    if (ev.host === 'acted') {
      if (this.acted.size > 1000) this.acted.clear();
      this.acted.set(id, ev);
    }
    return ev;
  }

  canRemediate(): boolean {
    return this.cluster.canRemediate();
  }

  serverFailing(server: string, customer: string | undefined, groupKeys: readonly string[], failing: boolean): void {
    const key = serverKey(server, customer);
    if (!this.cluster.owns(key)) return;
    this.cluster.publishFailing(key, groupKeys, failing).catch(() => {
      // etcd unreachable: written again on the next pass (only a change is written)
    });
  }

  /**
   * A service of a server this replica owns answered a trusted probe at `at`. An incident of that
   * service (for ping: the host's) that another claim left open in etcd — its replica died, paused
   * or was cut off mid-runbook, and the new owner never had to act because the service came back —
   * is over: the service answered after its steps' intents. Its steps in doubt are recorded as
   * answered (never issued again, not escalated) and the incident is closed as recovered, under a
   * claim of its own. Left open, the service's next fault (maybe weeks later) would continue that
   * old incident and escalate on its stale step in doubt. A memory lookup per probe; etcd is asked
   * only while such an incident is open. A previous owner's late command stays bounded as before:
   * a new step on the server waits its quarantine (inFlightUntil).
   */
  serviceAnswered(server: string, customer: string | undefined, service: string, at: number): void {
    const key = serverKey(server, customer);
    const target = service === 'ping' ? 'host' : service;
    const open = this.cluster.openIncident(key, target);
    const heldClaim = this.held.get(key);
    const ours = heldClaim !== undefined && heldClaim.lease === this.cluster.session.leaseId;
    // Our own claim on the server: closed here only when it is this service's and no attempt of ours
    // runs under it (one that waited — a quarantine, a mass-failure pause — and the service came
    // back meanwhile); a run ends it itself, and another service's claim is given back by its own end.
    if (ours && (this.running.has(key) || heldClaim.service !== target)) return;
    const mine = ours ? heldClaim : undefined;
    if (open === undefined && mine === undefined) return;
    if ((open !== undefined && at <= open.lastIntentAt) || this.closing.has(key)) return;
    if (!this.cluster.canRemediate() || !this.cluster.owns(key)) return;
    this.closing.add(key);
    void this.closeAnswered(key, server, target, at, mine)
      .catch((err: unknown) => this.log.warn({ err, server, service: target }, 'cluster close of an answered incident failed; tried again on a later probe'))
      .finally(() => this.closing.delete(key));
  }

  private async closeAnswered(key: string, server: string, target: string, at: number, mine: Claim | undefined): Promise<void> {
    const claims = this.cluster.claims;
    let claim = mine;
    if (claim === undefined) {
      const got = await claims.claim(key, target);
      // Held by a live replica (its runbook ends the incident), or etcd unavailable: a later probe asks again.
      if (!got.ok) return;
      claim = got.claim;
    }
    this.held.delete(key);
    const c = claim;
    const steps = c.steps.filter((s) => s.incident === c.incident && s.step !== CLOSED_STEP);
    // Every step of the incident began before the answer, and none of ours is without its outcome.
    const answeredAfter = steps.length > 0 && steps.every((s) => s.intentAt < at && (s.token !== c.token || s.outcome !== undefined));
    let closed = false;
    if (answeredAfter) {
      for (const doubt of c.inDoubt) await claims.resolveInDoubt(c, doubt, 'in-doubt-answered');
      closed = await claims.release(c, { result: 'recovered' });
    } else {
      await claims.release(c, undefined);
    }
    this.cluster.setOpenIncidents(key, openIncidentsOf(c.steps).filter((o) => !(closed && o.incident === c.incident)));
    if (closed) {
      this.log.info(
        { server, service: target, incident: c.incident, inDoubt: c.inDoubt.length, previous: [...new Set(steps.map((s) => s.replica))] },
        'cluster incident closed: the service answered again after its steps',
      );
    }
  }

  /**
   * An operator resumed these services of a server this replica owns (`mamori resume`, routed
   * here): the claim it may still hold for them is given back with the incident closed, and etcd
   * records the resume, so no replica holds the server for the old escalation and its budgets
   * count afresh (the controller forgave its own).
   */
  async resumed(server: string, customer: string | undefined, services: readonly string[]): Promise<void> {
    const key = serverKey(server, customer);
    const targets = [...new Set(services.map((s) => (s === 'ping' ? 'host' : s)))];
    const claim = this.held.get(key);
    if (claim !== undefined && targets.includes(claim.service)) {
      this.held.delete(key);
      await this.cluster.claims.release(claim, { result: 'resumed' });
    }
    await this.cluster.claims.markResumed(key, targets);
    this.log.info({ server: key, targets }, 'cluster resume recorded: the hold ends, budgets count afresh');
  }

  async beginAttempt(req: AttemptRequest): Promise<AttemptGrant> {
    const key = serverKey(req.server, req.customer);
    if (this.closing.has(key)) return { ok: false, reason: 'an incident another replica left open is being closed', escalate: false };
    // A host runbook may use the console and power; a service runbook restarts the service.
    const kind: StepKind = req.target === 'host' ? 'power' : 'restart';
    const claims = this.cluster.claims;
    let claim = this.held.get(key);
    if (claim !== undefined && claim.lease !== this.cluster.session.leaseId) {
      this.held.delete(key); // that lease is gone, and the claim with it
      claim = undefined;
    }
    if (claim === undefined) {
      const got = await claims.claim(key, req.target);
      if (!got.ok) return { ok: false, reason: got.reason === 'held' ? `claimed by replica ${got.holder ?? '?'}` : `cluster ${got.reason}`, escalate: false };
      claim = got.claim;
      if (claim.held) {
        // The service's last incident ended escalated (perhaps by another replica, which judged a
        // step in doubt) and it has not answered since: a person decides, nothing is repeated.
        await claims.release(claim, undefined).catch(() => undefined);
        this.log.warn({ server: req.server, incident: claim.incident }, 'cluster claim held for a person: the last incident escalated');
        return { ok: false, reason: 'the last incident of this service was escalated and it has not answered since; held for a person', escalate: true };
      }
      this.held.set(key, claim);
    }
    // A previous owner's step may still be under way (no outcome, or judged by another replica
    // while its own may be paused mid-command): nothing new on this server until its quarantine ends.
    const ttlMs = this.cluster.options.ttlSeconds * 1000;
    const inFlight = inFlightUntil(claim.steps, claim.token, req.now, ttlMs);
    if (inFlight !== undefined) {
      return { ok: false, reason: `a step of replica ${inFlight.record.replica} may still be under way until ${new Date(inFlight.until).toISOString()}`, escalate: false };
    }
    for (const doubt of [...claim.inDoubt]) {
      const waiting = judgeInDoubt(doubt, { serviceUp: false, host: 'unknown' }, req.now, ttlMs);
      if (waiting.kind === 'wait') return { ok: false, reason: `a step of replica ${doubt.replica} is in doubt until ${new Date(waiting.until).toISOString()}`, escalate: false };
      // The controller just saw the service down (that is why it attempts): the host is asked what
      // the step did — its process start or boot time against the intent, its BMC's power.
      const ev = await this.hostSays(key, doubt);
      const verdict = judgeInDoubt(doubt, { serviceUp: false, host: ev.host, ...(ev.at !== undefined ? { hostAt: ev.at } : {}), detail: ev.detail }, req.now, ttlMs, this.verifyMs);
      if (verdict.kind === 'wait') return { ok: false, reason: `a step of replica ${doubt.replica} is in doubt until ${new Date(verdict.until).toISOString()}`, escalate: false };
      if (verdict.kind === 'verify') {
        return { ok: false, reason: `step ${doubt.step} of replica ${doubt.replica} ran (${ev.detail}); not repeated: the service has until ${new Date(verdict.until).toISOString()} to answer`, escalate: false };
      }
      if (verdict.kind === 'reissue') {
        // Known not done, the service down: recorded so (the old owner's late outcome is refused),
        // and this claim issues the step once, under its own intent, below.
        const resolved = await claims.resolveInDoubt(claim, doubt, 'in-doubt-not-run').catch(() => false);
        if (!resolved) {
          this.held.delete(key);
          return { ok: false, reason: `step ${doubt.step} in doubt changed meanwhile; judged again`, escalate: false };
        }
        claim.inDoubt = claim.inDoubt.filter((d) => d !== doubt);
        this.log.warn({ server: req.server, incident: claim.incident, step: doubt.step, previous: doubt.replica, evidence: ev.detail }, 'cluster takeover: a step in doubt did not run (seen on the host); issued once under this claim');
        continue;
      }
      await claims.resolveInDoubt(claim, doubt, 'in-doubt-escalated').catch(() => false);
      await claims.release(claim, { result: 'escalated' }).catch(() => undefined);
      this.held.delete(key);
      const reason = verdict.kind === 'escalate' ? verdict.reason : 'recovered';
      this.log.warn({ server: req.server, incident: claim.incident, step: doubt.step, previous: doubt.replica, evidence: ev.detail }, 'cluster takeover found a step in doubt; escalated, not repeated');
      return { ok: false, reason, escalate: true };
    }
    // An escalation's hold lives in the owner's history (decide); a new owner's budgets come from the
    // step records below, so a takeover never buys the server fresh restarts or power cycles.
    const check = limitCheck({ policy: this.policy, server: key, service: req.target, kind, fleet: req.fleet, now: req.now });
    const res = await claims.beginStep(claim, { step: `${req.incidentId}#${req.attempt}`, kind, deadlineMs: this.stepDeadlineMs }, check);
    if (!res.ok) {
      if (res.reason === 'fenced') this.held.delete(key);
      // A record already there is a step begun before (by this replica's previous life): in doubt,
      // never repeated — a person decides. A spent budget too; a mass-failure pause waits.
      const escalate = res.reason === 'recorded' || (res.reason === 'limit' && res.detail?.startsWith('mass failure') !== true);
      return { ok: false, reason: res.detail ?? `cluster ${res.reason}`, escalate };
    }
    const held = claim;
    const record = res.handle.record;
    this.running.add(key);
    return {
      ok: true,
      // Past the TTL without a confirmed keepalive, or past the step's deadline, the run sends
      // nothing more: a new owner may already be judging this step (it waits that deadline).
      mayAct: () => {
        if (this.cluster.phase() === 'fenced') return `this replica's etcd lease is not confirmed for ${ttlMs / 1000} s; it acts no more`;
        if (Date.now() > record.intentAt + record.deadlineMs) return `past the step's deadline (${Math.round(record.deadlineMs / 1000)} s from its intent)`;
        return undefined;
      },
      end: async (verdict: string) => {
        this.running.delete(key);
        const recorded = await claims.endStep(res.handle, verdict);
        if (!recorded) {
          claims.counters.fencingRefusals++;
          this.log.warn({ server: req.server, incident: claim.incident, step: record.step, token: claim.token, verdict }, 'cluster step outcome refused: the step was judged by another replica');
          this.held.delete(key);
          return;
        }
        if (ENDS_INCIDENT.has(verdict)) {
          await claims.release(held, { result: verdict === 'Recovered' ? 'recovered' : 'escalated' });
          this.held.delete(key);
        }
      },
    };
  }
}
