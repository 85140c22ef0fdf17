/**
 * The reconcile loop's shared types: what the controller is given (options, the prober, the
 * runbook renderer), what it tells (events) and what a pass over the fleet returns.
 */
import type { VantageBoard } from './vantage-board.ts';
import type { Logger } from '../log.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { Notifier } from '../notify/types.ts';
import type { ProbeResult } from '../probe/types.ts';
import type { Executor, Verdict } from '../runbook/execution.ts';
import type { RenderedRunbook } from '../runbook/types.ts';
import type { Journal } from '../status/journal.ts';
import type { StatusStore } from '../status/store.ts';
import type { CertificatePolicy } from './certificates.ts';
import type { Clock } from './clock.ts';
import type { RemediationCoordinator } from './coordinator.ts';
import type { FleetState, MassFailureCounts, PowerLedger } from './fleet-state.ts';
import type { LagMonitor } from './lag-monitor.ts';
import type { Lanes } from './lanes.ts';
import type { Action, MassFailureEpisode, Policy, RemediationTarget } from './types.ts';

export type ProbeFn = (server: ServerDocument, service: ServiceName, signal?: AbortSignal) => Promise<ProbeResult>;
export type CanaryProbeFn = (canary: CanaryTarget, signal?: AbortSignal) => Promise<ProbeResult>;
export type RenderRunbookFn = (server: ServerDocument, target: RemediationTarget) => RenderedRunbook | Error | Promise<RenderedRunbook | Error>;

export interface CanaryTarget {
  address: string;
  service?: ServiceName;
  port?: number;
}

export type ControllerEvent =
  | {
      type: 'probe';
      server: string;
      result: ProbeResult;
      unknown: boolean;
      /** When the probe started (ms), as its observation records it: the result's `startedAt` without parsing an ISO string. */
      at?: number;
    }
  | { type: 'transition'; server: string; service: ServiceName; from: string; to: string; reason: string; at: number }
  | { type: 'incident-opened'; server: string; incidentId: string; target: RemediationTarget }
  | { type: 'incident-closed'; server: string; incidentId: string; target: RemediationTarget; reason: string }
  | { type: 'remediation-started'; server: string; target: RemediationTarget; incidentId: string; attempt: number }
  | { type: 'remediation-finished'; server: string; target: RemediationTarget; incidentId: string; attempt: number; verdict: Verdict; durationMs: number }
  | { type: 'mass-failure-paused'; episode: MassFailureEpisode }
  | { type: 'mass-failure-cleared'; scope: MassFailureEpisode['scope'] }
  | { type: 'pass-failed'; server: string; failures: number; retryInMs: number }
  | { type: 'status-written'; server: string };

export interface ControllerOptions {
  policy: Policy;
  probe: ProbeFn;
  executor: Executor;
  renderRunbook: RenderRunbookFn;
  notifier: Notifier;
  store: StatusStore;
  journal: Journal;
  logger: Logger;
  onEvent?: (e: ControllerEvent) => void;
  clock?: Clock;
  /** Seeded in tests; Math.random otherwise. */
  random?: () => number;
  lagMonitor?: LagMonitor;
  probeConcurrency?: number;
  remediationConcurrency?: number;
  canaries?: CanaryTarget[];
  /** Vantage points configured: the agents' reports and the BMC states decide's quorum reads. */
  vantages?: VantageBoard;
  probeCanary?: CanaryProbeFn;
  /** Where mass-failure pauses are told (config mail.operator); without it they are only logged. */
  operatorEmail?: string;
  managementNetworks?: string[];
  sourceAddress?: string;
  /** False while the state folder cannot be written: a pass that would start a runbook fails (retried with backoff). */
  stateWritable?: () => boolean;
  /** Replicas sharing the fleet (config cluster): ownership, fenced attempts, fleet-wide marks. */
  coordinator?: RemediationCoordinator;
  /**
   * The fleet-wide judgements kept by a store that replicas share (fleet-state.ts); without it the
   * local ones: this process's mass-failure counts, and the power ledger in its journal's history.
   */
  fleetJudgements?: { counts?: MassFailureCounts; power?: PowerLedger };
  /** Certificate warning days (config tls.warningDays); [30, 7] without it. */
  certificates?: CertificatePolicy;
  /** Every batch of actions the controller carries out, their records already journaled (tests, tracing). */
  onActions?: (server: string, actions: readonly Action[]) => void;
  /** Each server pass as it ends: its id, duration and whether it failed (the daemon's metrics). */
  onPass?: (pass: PassReport) => void;
  /** How late each server's pass started against its planned due time (ms): the schedule's lateness. */
  onLate?: (lateMs: number) => void;
}

export interface PassReport {
  server: string;
  /** The pass id the pass's log lines carry (`pass`). */
  pass: number;
  durationMs: number;
  failed: boolean;
}

export type RunbookRun = ReconcileSummary['runbooks'][number];

/** What the parts of the loop share: the options, the clock, the fleet state and the per-server lanes. */
export interface LoopContext {
  readonly o: ControllerOptions;
  readonly clock: Clock;
  readonly random: () => number;
  readonly fleet: FleetState;
  readonly lanes: Lanes;
  /** Aborted when the controller stops (probes, runbooks and sleeps end). */
  readonly abort: AbortController;
  stopping(): boolean;
  /** Keeps a promise in the controller's in-flight set (whenIdle and stop wait for it). */
  track<T>(p: Promise<T>): Promise<T>;
}

export interface ReconcileSummary {
  dryRun: boolean;
  servers: number;
  probes: number;
  unknownProbes: number;
  failing: string[];
  actions: Record<string, number>;
  /** dry-run: what would run; otherwise what ran, with verdicts. */
  runbooks: Array<{ server: string; target: RemediationTarget; incidentId: string; attempt: number; verdict?: Verdict }>;
  paused: string[];
}

