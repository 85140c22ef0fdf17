/**
 * Claims with fencing tokens. A server's remediation is claimed by one replica: the claim key is
 * created only if absent and bound to the replica's session lease; its create revision is the
 * fencing token. Before each destructive step ONE transaction checks that the claim is still ours
 * (same create revision, same lease), that the step has no record, that nothing the fleet-wide
 * limits were judged on changed since they were read (the server's step records — its budgets —,
 * the fleet power ledger, the failing marks behind the mass-failure counts), and writes the step's
 * intent (not lease-bound: it outlives the replica) — with a power step, its ledger entry too.
 *
 * A new owner reads the step records with the claim: budgets are rebuilt from them (a takeover
 * never resets "one power cycle per server per 6 h"), and a step left at intent without an outcome
 * is in doubt: it is never issued again (see takeover.ts).
 */
import type { Logger } from 'pino';
import { isMamoriError } from '../errors.ts';
import { cmp, op, type EtcdSession, type KeyValue } from './etcd-session.ts';
import { RESUMED_RESULT, type ClusterKeys } from './keys.ts';
import type { Membership } from './membership.ts';

export type StepKind = 'restart' | 'power' | 'other';

export interface StepOutcome {
  result: string;
  at: number;
  by: string;
  /** The claim it was written under: the step's own, or a judge's (a later owner's). */
  token?: number;
}

export interface StepRecord {
  incident: string;
  step: string;
  service: string;
  kind: StepKind;
  replica: string;
  token: number;
  /** Wall-clock ms when the intent was written. */
  intentAt: number;
  /** How long the step may take (its own deadline), ms. */
  deadlineMs: number;
  outcome?: StepOutcome;
  /** The record's mod revision (not stored; read from etcd). */
  revision: number;
}

export interface Claim {
  server: string;
  service: string;
  incident: string;
  token: number;
  lease: string;
  /** Every step record of the server (all incidents): budgets and flap history come from these. */
  steps: StepRecord[];
  /** Steps of this incident left at intent by another claim: never re-issued. */
  inDoubt: StepRecord[];
  /** The service's last incident ended escalated and nothing newer began: held for a person. */
  held: boolean;
}

export type ClaimResult =
  | { ok: true; claim: Claim; takenOver: boolean }
  | { ok: false; reason: 'held' | 'fenced' | 'unavailable'; holder?: string };

/** What the fleet-wide limits are judged on, read at one revision. */
export interface FleetView {
  /** The server's step records (all incidents), for its budgets. */
  steps: readonly StepRecord[];
  /** Wall-clock start times of power steps fleet-wide (the whole ledger; the check picks its window). */
  powerTimes: readonly number[];
  /** Servers judged failing fleet-wide, with their group keys. */
  failing: ReadonlyMap<string, readonly string[]>;
}

/** Judges the limits on a fresh view; a string is the refusal's reason. */
export type LimitCheck = (view: FleetView) => string | undefined;

export type BeginResult =
  | { ok: true; handle: StepHandle }
  | { ok: false; reason: 'draining' | 'fenced' | 'recorded' | 'limit' | 'busy' | 'unavailable'; detail?: string };

export interface StepHandle {
  claim: Claim;
  record: StepRecord;
  key: string;
}

export interface ClaimCounters {
  claims: number;
  takeovers: number;
  fencingRefusals: number;
  limitRefusals: number;
}

const MAX_TXN_RETRIES = 8;
export const CLOSED_STEP = 'closed';

/** An incident with step records and no `closed` record: its service and its newest step's intent. */
export interface OpenIncident {
  incident: string;
  /** The claim's service (a service name, or `host`). */
  service: string;
  /** Wall-clock ms of the newest intent among its steps. */
  lastIntentAt: number;
  /** Fencing tokens its steps were written under. */
  tokens: number[];
}

/** The open incidents among a server's step records, oldest first (pure). */
export function openIncidentsOf(steps: readonly StepRecord[]): OpenIncident[] {
  const closed = new Set(steps.filter((s) => s.step === CLOSED_STEP).map((s) => s.incident));
  const byIncident = new Map<string, OpenIncident>();
  for (const s of steps) {
    if (s.step === CLOSED_STEP || closed.has(s.incident)) continue;
    const o = byIncident.get(s.incident);
    if (o === undefined) byIncident.set(s.incident, { incident: s.incident, service: s.service, lastIntentAt: s.intentAt, tokens: [s.token] });
    else {
      o.lastIntentAt = Math.max(o.lastIntentAt, s.intentAt);
      if (!o.tokens.includes(s.token)) o.tokens.push(s.token);
    }
  }
  return [...byIncident.values()].sort((a, b) => a.lastIntentAt - b.lastIntentAt);
}

function parseStep(kv: KeyValue, stepsPrefix: string): StepRecord | undefined {
  try {
    const v = JSON.parse(kv.value) as Omit<StepRecord, 'revision'>;
    if (typeof v.incident !== 'string' || typeof v.step !== 'string') return undefined;
    return { ...v, revision: kv.modRevision };
  } catch {
    const rest = kv.key.slice(stepsPrefix.length);
    return { incident: rest, step: 'unreadable', service: '', kind: 'other', replica: '', token: 0, intentAt: 0, deadlineMs: 0, revision: kv.modRevision };
  }
}

function recordValue(r: StepRecord): string {
  const { revision: _revision, ...rest } = r;
  return JSON.stringify(rest);
}

export class ClaimStore {
  readonly counters: ClaimCounters = { claims: 0, takeovers: 0, fencingRefusals: 0, limitRefusals: 0 };

  constructor(
    private readonly session: EtcdSession,
    private readonly keys: ClusterKeys,
    private readonly membership: Membership,
    private readonly log: Logger,
    private readonly wallClock: () => number = Date.now,
  ) {}

  get replica(): string {
    return this.membership.replica;
  }

  /** Reads a server's step records. */
  async steps(server: string): Promise<StepRecord[]> {
    const prefix = this.keys.steps(server);
    const res = await this.session.range(prefix);
    return res.kvs.map((kv) => parseStep(kv, prefix)).filter((r): r is StepRecord => r !== undefined);
  }

  /**
   * Every server's open incidents, in one read (at join and at each membership change: a server
   * that moves here may carry an incident its previous owner left open).
   */
  async openIncidents(): Promise<Map<string, OpenIncident[]>> {
    const prefix = `${this.keys.root}steps/`;
    const res = await this.session.range(prefix);
    const byServer = new Map<string, StepRecord[]>();
    for (const kv of res.kvs) {
      let v: Omit<StepRecord, 'revision'>;
      try {
        v = JSON.parse(kv.value) as Omit<StepRecord, 'revision'>;
      } catch {
        continue;
      }
      if (typeof v.incident !== 'string' || typeof v.step !== 'string') continue;
      const rest = kv.key.slice(prefix.length);
      const server = rest.slice(0, rest.length - `${v.incident}/${v.step}`.length - 1);
      const list = byServer.get(server);
      if (list === undefined) byServer.set(server, [{ ...v, revision: kv.modRevision }]);
      else list.push({ ...v, revision: kv.modRevision });
    }
    const out = new Map<string, OpenIncident[]>();
    for (const [server, steps] of byServer) {
      const open = openIncidentsOf(steps);
      if (open.length > 0) out.set(server, open);
    }
    return out;
  }

  /**
   * Claims a server's remediation for a service. An open incident of that service found in the
   * step records (a takeover) is continued under its own id; otherwise a new one begins.
   */
  async claim(server: string, service: string): Promise<ClaimResult> {
    if (this.membership.phase() !== 'active') return { ok: false, reason: 'fenced' };
    const lease = this.session.leaseId;
    if (lease === undefined) return { ok: false, reason: 'fenced' };
    const key = this.keys.claim(server);
    try {
      const existing = await this.session.get(key);
      if (existing.kv !== undefined) {
        if (existing.kv.lease !== lease) {
          const holder = (JSON.parse(existing.kv.value) as { replica?: string }).replica;
          return { ok: false, reason: 'held', ...(holder !== undefined ? { holder } : {}) };
        }
        return { ok: true, claim: await this.build(server, service, existing.kv.createRevision, lease), takenOver: false };
      }
      const value = JSON.stringify({ replica: this.replica, service, at: new Date(this.wallClock()).toISOString() });
      const res = await this.session.txn([cmp.absent(key)], [op.put(key, value, lease)]);
      if (!res.succeeded) {
        const now = await this.session.get(key);
        const holder = now.kv !== undefined ? (JSON.parse(now.kv.value) as { replica?: string }).replica : undefined;
        return { ok: false, reason: 'held', ...(holder !== undefined ? { holder } : {}) };
      }
      this.counters.claims++;
      const claim = await this.build(server, service, res.revision, lease);
      const takenOver = claim.steps.some((s) => s.incident === claim.incident && s.token !== claim.token);
      if (takenOver) this.counters.takeovers++;
      this.log.info({ server, service, incident: claim.incident, token: claim.token, inDoubt: claim.inDoubt.length, takenOver }, 'cluster claim taken');
      return { ok: true, claim, takenOver };
    } catch (err) {
      if (isMamoriError(err, 'MAMORI_CLUSTER_UNAVAILABLE')) return { ok: false, reason: 'unavailable' };
      throw err;
    }
  }

  private async build(server: string, service: string, token: number, lease: string): Promise<Claim> {
    const steps = await this.steps(server);
    const closed = new Set(steps.filter((s) => s.step === CLOSED_STEP).map((s) => s.incident));
    const open = steps
      .filter((s) => s.service === service && s.step !== CLOSED_STEP && !closed.has(s.incident))
      .sort((a, b) => a.intentAt - b.intentAt);
    const incident = open[0]?.incident ?? `${service}@${token}`;
    const inDoubt = steps.filter((s) => s.incident === incident && s.step !== CLOSED_STEP && s.outcome === undefined && s.token !== token);
    const lastClosed = steps.filter((s) => s.step === CLOSED_STEP && s.service === service).sort((a, b) => b.intentAt - a.intentAt)[0];
    // Held while the server has failed without a break since that escalation: its failing mark was
    // created before the escalation was recorded. A mark made later means it answered in between
    // (the mark is deleted when it does), so this is a new fault, not the held one.
    let held = false;
    if (open.length === 0 && lastClosed?.outcome?.result === 'escalated') {
      const mark = await this.session.get(this.keys.failingOf(server));
      held = mark.kv === undefined ? false : mark.kv.createRevision < lastClosed.revision;
    }
    return { server, service, incident, token, lease, steps, inDoubt, held };
  }

  /**
   * The fenced step: one transaction, retried (bounded) while only unrelated fleet data changed
   * between the read and the write.
   */
  async beginStep(claim: Claim, step: { step: string; kind: StepKind; deadlineMs: number }, check: LimitCheck): Promise<BeginResult> {
    if (this.membership.phase() !== 'active') {
      this.counters.fencingRefusals++;
      return { ok: false, reason: this.membership.phase() === 'draining' ? 'draining' : 'fenced' };
    }
    const claimKey = this.keys.claim(claim.server);
    const stepsPrefix = this.keys.steps(claim.server);
    const stepKey = this.keys.step(claim.server, `${claim.incident}/${step.step}`);
    try {
      for (let attempt = 0; attempt < MAX_TXN_RETRIES; attempt++) {
        const snap = await this.session.rangeMany([stepsPrefix, this.keys.power, this.keys.failing]);
        const steps = (snap.byPrefix.get(stepsPrefix) ?? []).map((kv) => parseStep(kv, stepsPrefix)).filter((r): r is StepRecord => r !== undefined);
        const powerTimes = (snap.byPrefix.get(this.keys.power) ?? []).map((kv) => Number((JSON.parse(kv.value) as { at?: number }).at ?? 0));
        const failing = new Map<string, readonly string[]>();
        for (const kv of snap.byPrefix.get(this.keys.failing) ?? []) {
          failing.set(kv.key.slice(this.keys.failing.length), (JSON.parse(kv.value) as { groups?: string[] }).groups ?? []);
        }
        const refusal = check({ steps, powerTimes, failing });
        if (refusal !== undefined) {
          this.counters.limitRefusals++;
          return { ok: false, reason: 'limit', detail: refusal };
        }
        // The local clock is checked again right before the write: a pause between the read and
        // here must not let a fenced replica through on a stale phase.
        if (this.membership.phase() !== 'active') {
          this.counters.fencingRefusals++;
          return { ok: false, reason: 'fenced' };
        }
        const at = this.wallClock();
        const record: StepRecord = {
          incident: claim.incident, step: step.step, service: claim.service, kind: step.kind,
          replica: this.replica, token: claim.token, intentAt: at, deadlineMs: step.deadlineMs, revision: 0,
        };
        const compare = [
          cmp.createdAt(claimKey, claim.token),
          cmp.leaseIs(claimKey, claim.lease),
          cmp.absent(stepKey),
          cmp.prefixUnchangedSince(stepsPrefix, snap.revision),
          cmp.prefixUnchangedSince(this.keys.failing, snap.revision),
          ...(step.kind === 'power' ? [cmp.prefixUnchangedSince(this.keys.power, snap.revision)] : []),
        ];
        const success = [
          op.put(stepKey, recordValue(record)),
          ...(step.kind === 'power' ? [op.put(this.keys.powerEntry(at, this.replica, claim.token), JSON.stringify({ at, server: claim.server, incident: claim.incident }))] : []),
        ];
        const res = await this.session.txn(compare, success);
        if (res.succeeded) {
          record.revision = res.revision;
          this.log.info({ server: claim.server, incident: claim.incident, step: step.step, kind: step.kind, token: claim.token }, 'cluster step intent recorded');
          return { ok: true, handle: { claim, record, key: stepKey } };
        }
        // Why did it fail? The claim lost is final; a record already there is final; anything else
        // (fleet data moved) is read and judged again.
        const [c, s] = await Promise.all([this.session.get(claimKey), this.session.get(stepKey)]);
        if (c.kv === undefined || c.kv.createRevision !== claim.token || c.kv.lease !== claim.lease) {
          this.counters.fencingRefusals++;
          this.log.warn({ server: claim.server, incident: claim.incident, step: step.step, token: claim.token }, 'cluster step refused: claim no longer ours');
          return { ok: false, reason: 'fenced' };
        }
        if (s.kv !== undefined) return { ok: false, reason: 'recorded' };
      }
      return { ok: false, reason: 'busy' };
    } catch (err) {
      if (isMamoriError(err, 'MAMORI_CLUSTER_UNAVAILABLE')) return { ok: false, reason: 'unavailable' };
      throw err;
    }
  }

  /**
   * The step's outcome, written whatever the phase (an in-flight step finishes and is recorded).
   * Refused only when someone else already resolved it (a takeover that judged it in doubt).
   */
  async endStep(handle: StepHandle, result: string): Promise<boolean> {
    const outcome: StepOutcome = { result, at: this.wallClock(), by: this.replica, token: handle.claim.token };
    const next = { ...handle.record, outcome };
    const res = await this.session.txn([cmp.modifiedAt(handle.key, handle.record.revision)], [op.put(handle.key, recordValue(next))]);
    if (res.succeeded) handle.record.outcome = outcome;
    return res.succeeded;
  }

  /** A step in doubt judged by the new owner (re-probed, checked on the host, or escalated). */
  async resolveInDoubt(claim: Claim, record: StepRecord, result: string): Promise<boolean> {
    const key = this.keys.step(claim.server, `${record.incident}/${record.step}`);
    const outcome: StepOutcome = { result, at: this.wallClock(), by: this.replica, token: claim.token };
    const res = await this.session.txn(
      [cmp.createdAt(this.keys.claim(claim.server), claim.token), cmp.modifiedAt(key, record.revision)],
      [op.put(key, recordValue({ ...record, outcome }))],
    );
    return res.succeeded;
  }

  /** The service answers again: an escalation's hold ends (the next fault is a new incident). */
  async clearHold(server: string, service: string): Promise<void> {
    const key = this.keys.step(server, `hold-cleared@${this.wallClock()}/${CLOSED_STEP}`);
    const at = this.wallClock();
    const rec: StepRecord = {
      incident: `hold-cleared@${at}`, step: CLOSED_STEP, service, kind: 'other', replica: this.replica, token: 0, intentAt: at, deadlineMs: 0,
      outcome: { result: 'cleared', at, by: this.replica }, revision: 0,
    };
    await this.session.put(key, recordValue(rec));
  }

  /**
   * An operator's `mamori resume` of these targets (a service, or `host`), on the owner: a closed
   * record per target that ends an escalation's hold (it is the target's newest close) and from
   * which its restart and power budgets count again (limits.ts) — the fleet's power rate is not
   * forgiven.
   */
  async markResumed(server: string, targets: readonly string[]): Promise<void> {
    const at = this.wallClock();
    for (const target of targets) {
      const incident = `resumed@${at}-${target}`;
      const rec: StepRecord = {
        incident, step: CLOSED_STEP, service: target, kind: 'other', replica: this.replica, token: 0, intentAt: at, deadlineMs: 0,
        outcome: { result: RESUMED_RESULT, at, by: this.replica }, revision: 0,
      };
      await this.session.put(this.keys.step(server, `${incident}/${CLOSED_STEP}`), recordValue(rec));
    }
  }

  /** Ends the incident (recovered or escalated) and gives the claim back; false when the claim was no longer ours. */
  async release(claim: Claim, closeIncident: { result: string } | undefined): Promise<boolean> {
    const claimKey = this.keys.claim(claim.server);
    const ops = [op.del(claimKey)];
    if (closeIncident !== undefined) {
      const rec: StepRecord = {
        incident: claim.incident, step: CLOSED_STEP, service: claim.service, kind: 'other', replica: this.replica,
        token: claim.token, intentAt: this.wallClock(), deadlineMs: 0, outcome: { result: closeIncident.result, at: this.wallClock(), by: this.replica }, revision: 0,
      };
      ops.push(op.put(this.keys.step(claim.server, `${claim.incident}/${CLOSED_STEP}`), recordValue(rec)));
    }
    const res = await this.session.txn([cmp.createdAt(claimKey, claim.token)], ops);
    return res.succeeded;
  }

  /** Deletes step records and ledger entries older than `keepMs` (their windows are past). */
  async prune(server: string, keepMs: number): Promise<void> {
    const cutoff = this.wallClock() - keepMs;
    const records = await this.steps(server);
    const byIncident = new Map<string, StepRecord[]>();
    for (const r of records) byIncident.set(r.incident, [...(byIncident.get(r.incident) ?? []), r]);
    for (const [incident, rs] of byIncident) {
      const closed = rs.some((r) => r.step === CLOSED_STEP);
      if (closed && rs.every((r) => r.intentAt < cutoff)) {
        for (const r of rs) await this.session.del(this.keys.step(server, `${incident}/${r.step}`));
      }
    }
  }
}
