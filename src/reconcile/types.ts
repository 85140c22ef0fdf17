/**
 * The reconciler's data: desired state (from the manifests), observed state (the latest probe
 * results), history (what the reconciler remembers between passes, rebuilt from the journal after a
 * restart), policy (the config's numbers in milliseconds) and the actions `decide` returns.
 *
 * Everything here is plain data with times as epoch milliseconds: `decide` is pure, so it never
 * reads a clock; `now` is an input.
 */
import type { ServiceName } from '../manifest/types.ts';
import type { TlsObservation } from '../probe/types.ts';
import type { Verdict } from '../runbook/execution.ts';
import type { Vote } from './quorum.ts';

/** The per-service state machine (see README, "The reconcile loop"). */
export type ServiceState = 'Unknown' | 'Healthy' | 'Suspect' | 'Down' | 'Remediating' | 'Recovered' | 'Escalated';

/** What a runbook is for: one service, or the whole host (ping failed: the console/power runbook). */
export type RemediationTarget = ServiceName | 'host';

/** A maintenance window: once (epoch ms), or recurring (a cron schedule read in an IANA zone). */
export type MaintenanceWindow =
  | { kind?: 'once'; startMs: number; endMs: number; reason?: string }
  | { kind: 'recurring'; schedule: string; timeZone: string; durationMs: number; reason?: string };

export interface DesiredLocation {
  site?: string;
  rack?: string;
  switch?: string;
}

/** One server as the reconciler needs it (derived from its manifest by `desiredFromManifest`). */
export interface DesiredServer {
  name: string;
  address: string;
  services: readonly ServiceName[];
  location?: DesiredLocation;
  suspend: boolean;
  /** With `suspend`: when the suspension ends by itself (epoch ms); absent = until set back. */
  suspendUntilMs?: number;
  maintenance: readonly MaintenanceWindow[];
  /** The mass-failure group keys (network, site, rack, switch), computed once per manifest. */
  groupKeys?: readonly string[];
}

/** `up: 'unknown'` is a probe whose result cannot be trusted (the monitor itself lagged). */
export interface Observation {
  up: boolean | 'unknown';
  /** When the probe began (epoch ms). */
  at: number;
  latencyMs: number;
  failureKind?: string;
  message?: string;
  /** The certificate the newest TLS probe saw (kept while later probes fail before TLS). */
  tls?: TlsObservation;
  /** When that probe began (epoch ms). */
  tlsAt?: number;
}

export type ObservedServer = Partial<Record<ServiceName, Observation>>;

/** One runbook step's time (ms), for the incident's phases (time to recovery, step by step). */
export interface AttemptStep {
  id: string;
  startedAt: number;
  finishedAt: number;
  outcome?: string;
}

export interface Attempt {
  n: number;
  startedAt: number;
  finishedAt?: number;
  verdict?: Verdict;
  /** The runbook's steps with their times (from its transcript; absent when none ran). */
  steps?: AttemptStep[];
  /** When the outside probe that confirmed the recovery (the runbook's verify) answered. */
  confirmedAt?: number;
}

export interface Incident {
  id: string;
  server: string;
  target: RemediationTarget;
  openedAt: number;
  /** When the first failing probe of this fault was seen. */
  detectedAt: number;
  attempts: Attempt[];
  /** A destructive (power) runbook may not start before this, and only on a probe taken after it. */
  notBefore?: number;
  closedAt?: number;
  closeReason?: CloseReason;
  /** Notifications already asked for (kinds), so that each goes out once per incident. */
  notified: string[];
}

export type CloseReason = 'recovered' | 'recovered-by-itself' | 'resumed' | 'removed';

/** Why a failing service is not being repaired right now (status shows it as the reason). */
export type HoldReason =
  | 'HostDown'
  | 'SSHDown'
  | 'Suspended'
  | 'Maintenance'
  | 'MassFailurePaused'
  | 'Flapping'
  | 'PowerRateLimited'
  | 'DestructiveWait'
  | 'AwaitingProbe'
  /** Another runbook runs on this server (one httpd serves http and https): wait for it, then re-probe. */
  | 'ServerBusy'
  /** Another service of this server escalated from a runbook that ran while this one was already failing
   * (a wrong pass phrase for the httpd that serves http and https): the same fault, escalated once. */
  | 'ServerEscalated'
  /** Vantage points configured, and too few of them fresh to allow a power cycle (an agent stopped reporting). */
  | 'VantageLost'
  /** A vantage still has to report on the host after the destructive wait. */
  | 'AwaitingVotes'
  /** Down from one vantage, up from another, for many servers at once: mamori's own network, nothing is done. */
  | 'VantageDisagreement';

/** Why a service is Escalated: held until it recovers on its own or an operator resumes it. */
export type EscalationReason =
  | 'AttemptsExhausted'
  | 'BudgetExhausted'
  | 'PowerBudgetExhausted'
  | 'AccessBlocked'
  | 'HostKeyChanged'
  | 'ManagementAccessDenied'
  | 'HostUnreachable'
  | 'OSMismatch'
  | 'PassphraseRequired'
  | 'SecretMissing'
  | 'ConsoleUnavailable'
  | 'RunbookEscalated';

export interface ServiceHistory {
  state: ServiceState;
  /** When `state` last changed. */
  since: number;
  consecutiveFailures: number;
  /** The newest trusted probe folded into this history (epoch ms; 0 = none). */
  lastProbeAt: number;
  /** The newest Unknown probe (the monitor lagged), which moves nothing. */
  lastUnknownAt?: number;
  /** The newest trusted outcome (undefined = never probed, or only unknown probes). */
  lastUp?: boolean;
  lastLatencyMs?: number;
  lastFailureKind?: string;
  /** The first failing probe of the current failure streak. */
  failingSince?: number;
  /** Times the trusted outcome flipped (up↔down), pruned to the flapping window. */
  flips: number[];
  /** Times a runbook for this service started, pruned to one hour (the restart budget). */
  restarts: number[];
  incident?: Incident;
  escalation?: EscalationReason;
  hold?: HoldReason;
  /** hold-flapping already said for the current flapping spell. */
  flapHeld?: boolean;
  /** The vantage votes the newest quorum judgement used (vantage points configured only). */
  quorum?: QuorumNote;
}

/** A quorum judgement and the votes it used (journaled, and shown in the status file). */
export interface QuorumNote {
  judgement: 'power-on' | 'power-cycle' | 'disputed' | 'pending' | 'lost' | 'restart';
  votes: Vote[];
  lost: string[];
  /** The networks that saw the service fail while another saw it up. */
  missingNetworks?: string[];
  at: number;
}

export interface ServerHistory {
  services: Partial<Record<ServiceName, ServiceHistory>>;
  /** The host incident (ping failed): one incident for the whole host, not one per service. */
  host?: Incident;
  /** Times a host (power) runbook started, pruned to six hours (the power budget). */
  powerActions: number[];
  /** Incidents closed recently, newest last (bounded), for the status file. */
  recent: Incident[];
}

export interface MassFailureEpisode {
  scope: MassFailureScope;
  since: number;
  down: number;
  total: number;
  servers: string[];
}

export interface MassFailureScope {
  kind: 'network' | 'location' | 'fleet' | 'canary';
  value: string;
}

export interface FleetHistory {
  servers: Map<string, ServerHistory>;
  /** Power runbooks started anywhere, pruned to one hour (the fleet rate). */
  fleetPowerActions: number[];
  /** Open mass-failure episodes by scope key. */
  massFailure: Map<string, MassFailureEpisode>;
}

/** The config's numbers, in milliseconds, as decide uses them. */
export interface Policy {
  intervalMs: number;
  timeoutMs: number;
  retryMs: number;
  failuresToDown: number;
  jitter: number;
  restartsPerServicePerHour: number;
  powerCyclesPerServerPer6h: number;
  attemptsPerIncident: number;
  destructiveWaitMs: number;
  flapTransitions: number;
  flapWindowMs: number;
  massMinServers: number;
  massFraction: number;
  fleetFraction: number;
  powerActionsPerHour: number;
}

export type NotifyKind = 'recovered' | 'could-not-recover' | 'access-blocked' | 'mass-failure-paused' | 'vantage-lost' | 'vantage-disagreement' | 'provider-fault' | 'provider-working';

export type Action =
  | { type: 'transition'; server: string; service: ServiceName; from: ServiceState; to: ServiceState; reason: string; at: number }
  | { type: 'open-incident'; server: string; incident: Incident }
  | {
      type: 'run-runbook';
      server: string;
      target: RemediationTarget;
      incidentId: string;
      attempt: number;
      destructive: boolean;
    }
  | { type: 'escalate'; server: string; target: RemediationTarget; incidentId: string; reason: EscalationReason }
  | {
      type: 'notify';
      kind: NotifyKind;
      /** Stable dedupe key: the notifier sends an id once. */
      id: string;
      server?: string;
      target?: RemediationTarget;
      incidentId?: string;
      reason?: string;
      /** access-blocked after a disagreement: the management networks the customer's filter misses. */
      missingNetworks?: string[];
    }
  | { type: 'quorum'; server: string; service: ServiceName; note: QuorumNote }
  | { type: 'hold-flapping'; server: string; service: ServiceName; flips: number }
  | { type: 'close-incident'; server: string; incidentId: string; target: RemediationTarget; reason: CloseReason }
  | { type: 'pause-for-mass-failure'; episode: MassFailureEpisode }
  | { type: 'clear-mass-failure'; scope: MassFailureScope; since: number }
  | { type: 'probe-again-at'; server: string; at: number; fast: boolean };

export type ActionType = Action['type'];
