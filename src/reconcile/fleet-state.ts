/**
 * The fleet state: the one owner of the server entries (manifest, desired state, newest
 * observations), the history decide reads and returns, and the fleet-wide judgements — the
 * mass-failure counts and the fleet power ledger. Server histories change only by committing what
 * the pure functions returned (decideServer, applyOutcome, applyResume); the fleet's own part only
 * through the pure `fleetStep` (decide.ts). Keyed by an opaque server key.
 *
 * The fleet-wide judgements sit behind interfaces (MassFailureCounts, PowerLedger) so that a
 * coordinated store shared by replicas can implement them instead of each replica judging a slice.
 */
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { ConditionInput } from '../status/conditions.ts';
import type { Condition, TransitionStatus } from '../status/model.ts';
import { serverKey } from './coordinator.ts';
import { HOUR_MS, pruneWindow, refund } from './budgets.ts';
import { emptyFleetHistory, fleetStep, serverFailing, type FleetStepOutput } from './decide.ts';
import { MassFailureIndex, type TrippedScope } from './mass-failure.ts';
import type { DesiredServer, FleetHistory, MassFailureEpisode, ObservedServer, Policy, ServerHistory } from './types.ts';

/** Per server: how many fail, by group; which scopes trip. MassFailureIndex is the local one. */
export interface MassFailureCounts {
  /** Adds or updates a server; true when a count changed. */
  set(server: string, groupKeys: readonly string[], failing: boolean): boolean;
  remove(server: string): void;
  /** A canary's state; true when it changed. */
  setCanary(address: string, down: boolean): boolean;
  tripped(policy: Policy): TrippedScope[];
  /** The tripped scope that covers this server (its key), if any. */
  pausedBy(server: string, policy: Policy): string | undefined;
  /**
   * A store shared by replicas: a number that moves whenever any count changes, other replicas'
   * included (each replica sets only the servers it owns). A server pass runs the fleet step when
   * it moved since the last step, so that a /24 spread over replicas trips on every one of them.
   * The local index has none: only this process changes it, and `set` says when.
   */
  version?(): number;
}

/** Power runbooks started fleet-wide (the fleet rate, `powerActionsPerHour`). */
export interface PowerLedger {
  /** Start times within the hour before `now`. */
  recent(now: number): readonly number[];
  /** Power runbooks decided now: reserved before their records are journaled. */
  add(times: readonly number[]): void;
  /** Gives one back: a host runbook that used no power, or whose records never reached the journal. */
  refund(at: number): void;
}

export interface ServerEntry {
  doc: ServerDocument;
  desired: DesiredServer;
  groupKeys: readonly string[];
  conditions?: Condition[] | undefined;
  lastTransition?: TransitionStatus | undefined;
  /** Set when the server runs on its last-known-good manifest: why the new one was refused. */
  manifestInvalid?: string | undefined;
  /** Status file read once for its conditions' lastTransitionTime. */
  loaded: boolean;
  /** What the last status written was made of: the file shows a pass when both are that pass's. */
  written?: { observedSeq: number | undefined; history: ServerHistory | undefined };
  /** This run's first pass of the server is in its file (written then, or already shown: controller.passLooked). */
  firstPassShown?: boolean;
  /**
   * The newest observations (status shows the newest probe even when history did not change),
   * kept on the entry: one lookup less per server a pass, and carried over by setDesired.
   */
  observed?: ObservedServer;
  /** Moves each time a pass updated `observed` (its objects are updated in place): the views' status cache reads it. */
  observedSeq?: number;
  /** What the certificates looked like when last judged (certificateSignature): a change writes status and mails. */
  certificates?: string;
  /** The scheduled readiness check's condition (readiness-loop.ts). */
  readiness?: ConditionInput;
}

/** The local power ledger: the history's own list (replay rebuilds it from the journal). */
class HistoryPowerLedger implements PowerLedger {
  constructor(private readonly fleet: FleetState) {}

  recent(now: number): readonly number[] {
    const h = this.fleet.history;
    if (h.fleetPowerActions.length === 0) return h.fleetPowerActions;
    const pruned = pruneWindow(h.fleetPowerActions, now, HOUR_MS);
    if (pruned !== h.fleetPowerActions) h.fleetPowerActions = pruned;
    return pruned;
  }

  add(times: readonly number[]): void {
    if (times.length > 0) this.fleet.history.fleetPowerActions = [...this.fleet.history.fleetPowerActions, ...times];
  }

  refund(at: number): void {
    this.fleet.history.fleetPowerActions = refund(this.fleet.history.fleetPowerActions, at);
  }
}

export class FleetState {
  readonly servers = new Map<string, ServerEntry>();
  history: FleetHistory = emptyFleetHistory();
  readonly counts: MassFailureCounts;
  readonly power: PowerLedger;
  /** A canary changed since the fleet step last ran: the next pass (or the canary timer) steps. */
  canariesChanged = false;
  /** A step's records did not reach the journal (its episodes were undone): the next pass steps again. */
  stepStale = false;
  /** The shared counts' version the last fleet step saw (MassFailureCounts.version). */
  private steppedVersion: number | undefined;

  constructor(options: { counts?: MassFailureCounts; power?: (fleet: FleetState) => PowerLedger } = {}) {
    this.counts = options.counts ?? new MassFailureIndex();
    this.power = options.power?.(this) ?? new HistoryPowerLedger(this);
  }

  entry(server: string): ServerEntry | undefined {
    return this.servers.get(server);
  }

  historyOf(server: string): ServerHistory | undefined {
    return this.history.servers.get(server);
  }

  /** A new desired state for one server (its entry replaced, its counts updated). */
  setEntry(server: string, entry: ServerEntry): void {
    this.servers.set(server, entry);
    this.counts.set(server, entry.groupKeys, serverFailing(entry.desired, undefined, this.history.servers.get(server)));
  }

  /** A server left the desired state: its entry, history and counts go; returns what it had. */
  removeServer(server: string): { entry: ServerEntry | undefined; history: ServerHistory | undefined } {
    const entry = this.servers.get(server);
    const history = this.history.servers.get(server);
    this.servers.delete(server);
    this.history.servers.delete(server);
    this.counts.remove(server);
    return { entry, history };
  }

  /** Commits a server's next history (returned by a pure function, after its records are journaled). */
  commit(server: string, history: ServerHistory, options: { recount?: boolean } = {}): void {
    if (this.history.servers.get(server) === history) return;
    this.history.servers.set(server, history);
    const entry = this.servers.get(server);
    // Without recount the counts see the change at the server's next pass (an operator's resume).
    if (entry !== undefined && options.recount !== false) this.counts.set(server, entry.groupKeys, serverFailing(entry.desired, undefined, history));
  }

  /** Counts every server again from the history (after a journal replay). */
  recount(): void {
    for (const [name, entry] of this.servers) this.counts.set(name, entry.groupKeys, serverFailing(entry.desired, undefined, this.history.servers.get(name)));
  }

  /** Replaces the history (a journal replay at start). */
  replaceHistory(history: FleetHistory): void {
    this.history = history;
    this.recount();
  }

  /**
   * The fleet's step now: fleetStep over the open episodes and what the counts trip. The episodes
   * are committed at once (decisions made meanwhile must see them); `undo` puts the previous ones
   * back when the step's records do not reach the journal.
   */
  step(policy: Policy, now: number, removed?: FleetStepInputRemoved): FleetStepOutput & { undo: () => void } {
    const before = this.history.massFailure;
    if (this.counts.version !== undefined) this.steppedVersion = this.counts.version();
    const out = fleetStep({ massFailure: before, tripped: this.counts.tripped(policy), now, ...(removed !== undefined ? { removed } : {}) });
    this.history.massFailure = out.massFailure;
    return {
      ...out,
      undo: () => {
        if (this.history.massFailure === out.massFailure) this.history.massFailure = before;
      },
    };
  }

  /** A canary's newest probe (the mass-failure counts: any canary down trips everything). */
  setCanary(address: string, up: boolean): void {
    if (this.counts.setCanary(address, !up)) this.canariesChanged = true;
  }

  /** The certificates the newest TLS probes saw: notAfter per server and service (the metrics read it at scrape time). */
  *certificateExpiries(): Generator<{ server: string; service: ServiceName; notAfterMs: number }> {
    for (const [server, entry] of this.servers) {
      if (entry.certificates === undefined || entry.observed === undefined) continue;
      for (const service of entry.desired.services) {
        const notAfter = entry.observed[service]?.tls?.notAfter;
        const ms = notAfter !== undefined ? Date.parse(notAfter) : Number.NaN;
        if (Number.isFinite(ms)) yield { server, service, notAfterMs: ms };
      }
    }
  }

  /** Every server's group keys by its key among replicas (the totals the fleet-wide counts are fractions of). */
  groups(): Map<string, readonly string[]> {
    const out = new Map<string, readonly string[]>();
    for (const [name, e] of this.servers) out.set(serverKey(name, e.doc.metadata.customer), e.groupKeys);
    return out;
  }

  /** Shared counts moved (another replica's servers) since the last fleet step. */
  countsMoved(): boolean {
    return this.counts.version !== undefined && this.counts.version() !== this.steppedVersion;
  }

  episodes(): ReadonlyMap<string, MassFailureEpisode> {
    return this.history.massFailure;
  }

  /** The open episode that pauses this server, if any. */
  pausedBy(server: string, policy: Policy): MassFailureEpisode | undefined {
    if (this.history.massFailure.size === 0) return undefined;
    const key = this.counts.pausedBy(server, policy);
    return key !== undefined ? this.history.massFailure.get(key) : undefined;
  }
}

type FleetStepInputRemoved = ReadonlyArray<{ name: string; history: ServerHistory | undefined }>;
