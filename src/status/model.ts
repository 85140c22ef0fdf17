/**
 * The status file of one server, Kubernetes-style: what mamori saw and did, with conditions that
 * say why (type, status, reason, message, lastTransitionTime). Plain data written as YAML to
 * `<stateDir>/status/<server>.yaml`. Never a secret: only names, states, times and probe summaries.
 */
export const STATUS_API_VERSION = 'mamori/v1';
export const STATUS_KIND = 'ServerStatus';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export type ConditionType =
  | 'Ready'
  | 'Degraded'
  | 'Remediating'
  | 'Escalated'
  | 'MassFailurePaused'
  | 'Suspended'
  | 'Flapping'
  | 'ManifestInvalid'
  | 'HostKeyChanged'
  | 'AccessBlocked'
  | 'Reconciled'
  | 'Monitored'
  | 'CertificateExpiring'
  | 'CertificateInvalid'
  /** The readiness check: could a runbook run today (login, sudo, secrets, pass phrase, console)? */
  | 'RecoveryReady';

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  /** PascalCase, machine-readable. */
  reason: string;
  message: string;
  /** ISO 8601: when `status` last changed. */
  lastTransitionTime: string;
}

export interface ProbeSummary {
  at: string;
  up: boolean | 'unknown';
  latencyMs?: number;
  failureKind?: string;
}

/** The certificate a service's newest TLS probe saw (implicit TLS or STARTTLS): observed, never enforced. */
export interface CertificateStatus {
  /** When the probe saw it. */
  observedAt: string;
  notAfter?: string;
  notBefore?: string;
  subject?: string;
  issuer?: string;
  names?: string[];
  /** SHA-256, hex with colons. */
  fingerprint?: string;
  selfSigned: boolean;
  /** The chain verified against the trusted roots and the name (when one is checked) matched. */
  verified: boolean;
  chainError?: string;
  checkedName?: string;
  nameError?: string;
  protocol?: string;
  /** Against the warning days: `ok`, `30d`, `7d` (a threshold crossed), or `expired`. */
  stage: string;
}

export interface ServiceStatus {
  state: string;
  /** ISO 8601: when the state last changed. */
  since: string;
  consecutiveFailures: number;
  lastProbe?: ProbeSummary;
  /** Why a failing service is not being repaired now. */
  hold?: string;
  /** Why it is Escalated (held until it recovers or `mamori resume`). */
  escalation?: string;
  certificate?: CertificateStatus;
  /** Vantage points configured: the newest quorum judgement and the votes it used. */
  quorum?: QuorumStatus;
}

export interface QuorumStatus {
  judgement: string;
  at: string;
  votes: Array<{ vantage: string; network: string; up: boolean; at: string }>;
  /** Vantages with no fresh report then. */
  lost: string[];
  missingNetworks?: string[];
}

export interface AttemptStatus {
  n: number;
  startedAt: string;
  finishedAt?: string;
  verdict?: string;
  /** The runbook's steps with their times (time to recovery, phase by phase). */
  steps?: Array<{ id: string; startedAt: string; finishedAt: string; outcome?: string }>;
  /** When the outside probe that confirmed the recovery answered. */
  confirmedAt?: string;
}

export interface IncidentStatus {
  id: string;
  service: string;
  openedAt: string;
  detectedAt: string;
  attempts: AttemptStatus[];
  closedAt?: string;
  closeReason?: string;
}

export interface TransitionStatus {
  service: string;
  from: string;
  to: string;
  reason: string;
  at: string;
}

export interface ServerStatus {
  apiVersion: typeof STATUS_API_VERSION;
  kind: typeof STATUS_KIND;
  metadata: { name: string; customer?: string };
  /** The manifests revision this status was computed against. */
  observedRevision: string;
  updatedAt: string;
  conditions: Condition[];
  services: Record<string, ServiceStatus>;
  lastTransition?: TransitionStatus;
  incidents: { open: IncidentStatus[]; recent: IncidentStatus[] };
  /** The maintenance window in force and the next one to begin (RFC 3339), when the server has any. */
  maintenance?: { current?: MaintenanceTimes; next?: MaintenanceTimes };
  /** With replicas (config `cluster`): the replica that owns the server — probes it, judges it and writes this status. */
  owner?: string;
  /**
   * With replicas, in the API only: the replica whose view this is when it is not the owner's — the
   * previous owner's last status during a handover, or this replica's own until the owner publishes.
   */
  publishedBy?: string;
}

export interface MaintenanceTimes {
  start: string;
  end: string;
  reason?: string;
}
