/**
 * The message model: what mamori tells a customer or the operator, as plain data.
 *
 * A Notification carries facts, never prose and never a secret: the renderer turns facts into
 * Japanese or English, and the outbox keeps the data on disk until it is delivered. Every field
 * that comes from a manifest (server name, customer, addresses) is treated as hostile text by
 * the renderer (no header injection), whatever validation happened upstream.
 */
import type { FailureKind, ServiceName } from '../vocabulary.ts';

export type Locale = 'ja' | 'en';
export const LOCALES: readonly Locale[] = ['ja', 'en'];

/** Text a runbook may give in both languages; a plain string is shown as is in either. */
export type LocalizedText = string | { ja: string; en: string };

export const CUSTOMER_KINDS = ['recovered', 'could-not-recover', 'access-blocked', 'not-ready', 'provider-working', 'monthly-report', 'certificate-expiring', 'certificate-invalid'] as const;
export const OPERATOR_KINDS = ['revision-refused', 'revision-held', 'mass-failure-paused', 'console-check-requested', 'provider-fault'] as const;
/** Told to the operator and to the customer whose files they are (readiness-restored: to whoever was told the cause). */
export const SHARED_KINDS = ['change-refused', 'readiness-restored'] as const;
/** `digest` is made by the outbox itself when a server's messages pass the rate; callers never send it. */
export const NOTIFICATION_KINDS = [...CUSTOMER_KINDS, ...OPERATOR_KINDS, ...SHARED_KINDS, 'digest'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface Recipient {
  email: string;
  /** Japanese by default (the seed's customers). */
  locale?: Locale;
  /** Used in the greeting (〜様); without it the customer's name is used (〜 ご担当者様). */
  name?: string;
  /** The customer's display name (株式会社アクメ), the greeting's first line; the customer's id stands in without it. */
  organization?: string;
  cc?: string[];
}

export interface ServerRef {
  name: string;
  customer: string;
  address: string;
}

export interface IncidentRef {
  id: string;
  /** ISO 8601. */
  openedAt: string;
  closedAt?: string;
}

/** What the monitor saw from outside (a failed ProbeResult, summarised). */
export interface ProbeFailureSummary {
  /** `addr:port`, or the address for ping. */
  target: string;
  kind: FailureKind;
  /** The probe's own words (English, technical); shown as a detail line. */
  message?: string;
}

/** One step of a runbook transcript, as the customer should read it. */
export interface StepSummary {
  type: 'check' | 'run' | 'answer-prompt' | 'verify' | 'console' | 'power';
  /** What the step does, in words (the runbook's description). */
  title?: LocalizedText;
  /** The command as run (masked by the executor); never an answer to a prompt. */
  command?: string;
  outcome: 'ok' | 'failed' | 'skipped' | 'timeout';
  exitCode?: number;
  /** A few lines of output, trimmed and masked by the executor. */
  output?: string;
  /** ISO 8601. */
  startedAt?: string;
}

export type Remedy = { type: 'restart-service'; unit: string } | { type: 'power-cycle' } | { type: 'none' };

export interface Verification {
  /** The outside probe that passed again. */
  externalProbe: { target: string; at: string };
  /** The process seen running (`ps`), e.g. `httpd`. */
  process?: string;
  /** The service answered on the server itself. */
  localConnect?: boolean;
}

export interface RecoveredFacts {
  /** The first failing probe (ISO 8601). */
  detectedAt: string;
  failure: ProbeFailureSummary;
  remedy: Remedy;
  steps: StepSummary[];
  verification: Verification;
  recoveredAt: string;
  runbook?: string;
}

export type CouldNotRecoverReason =
  | 'budget-exhausted'
  | 'verify-failed'
  | 'step-failed'
  | 'login-failed'
  | 'console-alive-network-down'
  | 'unexpected';

export interface CouldNotRecoverFacts {
  detectedAt: string;
  failure: ProbeFailureSummary;
  steps: StepSummary[];
  reason: CouldNotRecoverReason;
  /** The state now, from the last probe. */
  stateNow: { up: boolean; checkedAt: string; detail?: string };
  /** Remediation is held until the service recovers or an operator resumes it. */
  remediationHeld: boolean;
  runbook?: string;
}

export interface AccessBlockedFacts {
  detectedAt: string;
  /** What mamori saw from its management networks. */
  external: ProbeFailureSummary;
  /** The evidence that the service runs and answers on the server itself. */
  local: { command?: string; result?: string };
  process?: string;
  /** The networks the customer must allow (the seed's 210.224.172.0/24 and 210.188.224.0/24). */
  managementNetworks: string[];
  /** mamori's own source address for the failed probe, if known. */
  sourceAddress?: string;
  /**
   * Vantage points disagreed (no runbook ran): the networks from which the server failed while
   * another vantage saw it answer — the ones the customer's filter is missing.
   */
  missingNetworks?: string[];
  /** Each vantage's verdict that decision used. */
  vantages?: Array<{ vantage: string; network: string; up: boolean; at: string }>;
}

export type ReadinessCheck = 'management-login' | 'host-key' | 'networks' | 'ssl-passphrase' | 'os' | 'bmc';

export interface NotReadyFacts {
  checkedAt: string;
  checks: Array<{ check: ReadinessCheck; ok: boolean; detail?: string }>;
}

/**
 * A fault on the provider's side (a secret missing from our store, a console profile or BMC that
 * does not answer, our own network): told to the operator at once, with the internal reason.
 */
export interface ProviderFaultFacts {
  /** Found by the readiness check, or by a repair that could not run. */
  origin: 'readiness' | 'repair';
  /** PascalCase (SecretMissing, ConsoleBroken, MonitorNetwork, …). */
  cause: string;
  /** What mamori saw (scrubbed of secrets). */
  message: string;
  /** When it was first seen (ISO 8601). */
  since: string;
  /** The services failing and held under it (a repair), if any. */
  services?: ServiceName[];
}

/** The customer's side of a provider fault: plain words, no reason codes, nothing to do. */
export interface ProviderWorkingFacts {
  origin: 'readiness' | 'repair';
  since: string;
  /** The services failing now, when a repair could not run. */
  services?: ServiceName[];
}

/** The readiness check passes again after a cause was told. */
export interface ReadinessRestoredFacts {
  /** When the cause was first seen (ISO 8601). */
  since: string;
  checkedAt: string;
  /** The cause that ended: shown to the operator only. */
  cause?: string;
}

/** A certificate a TLS probe saw (implicit TLS or STARTTLS): what identifies it to the customer. */
export interface CertificateEndpoint {
  service: ServiceName;
  /** `addr:port` of the service. */
  target: string;
  /** `starttls` when reached by STARTTLS (STLS, AUTH TLS), `tls` for an implicit-TLS port. */
  via: 'starttls' | 'tls';
}

/** One certificate, however many services of the server present it (one mail per certificate). */
export interface CertificateFacts {
  /** The services that present it, in the manifest's order. */
  endpoints: CertificateEndpoint[];
  subject?: string;
  issuer?: string;
  /** The names it carries (subjectAltName, else CN). */
  names: string[];
  /** ISO 8601. */
  notAfter: string;
  /** SHA-256, hex with colons. */
  fingerprint: string;
  /** When the probe saw it (ISO 8601). */
  observedAt: string;
}

/** One mail per warning threshold (config tls.warningDays) per certificate, and one once expired. */
export interface CertificateExpiringFacts extends CertificateFacts {
  /** Whole days left (negative once expired). */
  daysLeft: number;
  /** The threshold crossed, in days; absent once expired. */
  thresholdDays?: number;
  expired: boolean;
}

export type CertificateProblem = 'self-signed' | 'untrusted' | 'name-mismatch';

/** The chain or the name does not verify (expiry alone is told by certificate-expiring). */
export interface CertificateInvalidFacts extends CertificateFacts {
  problems: CertificateProblem[];
  /** OpenSSL's code for the chain (e.g. DEPTH_ZERO_SELF_SIGNED_CERT). */
  chainError?: string;
  /** The name the certificate was checked against (the manifest's host). */
  checkedName?: string;
}

export interface RevisionRefusedFacts {
  revision: string;
  source?: string;
  errors: Array<{ file: string; line?: number; field?: string; message: string }>;
  /** The revision still applied (last known good). */
  keptRevision?: string;
}

/** Changes refused because their commit's signer may not change the file (signed changes). */
export interface ChangeRefusedFacts {
  /** The revision applied without these changes. */
  revision: string;
  source?: string;
  /** Set in a customer's mail: whose files these are. */
  customer?: string;
  changes: Array<{
    /** Relative to the manifests root. */
    file: string;
    commit: string;
    /** How the commit's signature verified: good (then `signer` says who), or why nobody is known to answer for it. */
    signature: 'good' | 'unsigned' | 'unknown-key' | 'bad' | 'expired' | 'revoked';
    signer?: string;
    /** The signing key's fingerprint, when there was a signature. */
    key?: string;
    /** The signers allowed to change the file (empty: nobody). */
    allowed: string[];
    /** The last good version is kept (false: the file is new and is not applied). */
    kept: boolean;
  }>;
}

export interface RevisionHeldFacts {
  revision: string;
  /** PascalCase, as the status conditions (`TooManyRemovals`, `Rollback`, `ReviewRequired`). */
  reason: string;
  message: string;
  affected?: string[];
  keptRevision?: string;
  /** How to release it, e.g. `mamori approve <rev>`. */
  releaseCommand?: string;
}

export interface MassFailurePausedFacts {
  scope: { kind: 'network' | 'location' | 'fleet'; value: string };
  down: number;
  total: number;
  /** A few of the servers down (the caller bounds the list). */
  servers: string[];
  pausedAt: string;
  resumeCommand?: string;
}

export interface ConsoleCheckRequestedFacts {
  /**
   * `vantage-lost`: the host fails from mamori's network and too few other vantage points report
   * on it to allow a power cycle. `vantage-disagreement`: down from one vantage, up from another,
   * for many servers at once (mamori's own network): nothing is done.
   */
  reason: 'ping-failed' | 'ssh-down' | 'power-state-unknown' | 'console-unreachable' | 'vantage-lost' | 'vantage-disagreement';
  since: string;
  console?: { profile?: string; site?: string; rack?: string };
  /** What the operator is asked to look at, if more than the reason says. */
  question?: string;
}

export interface DigestItem {
  id: string;
  kind: NotificationKind;
  service?: ServiceName;
  occurredAt: string;
  incidentId?: string;
}

export interface DigestFacts {
  windowStart: string;
  windowEnd: string;
  items: DigestItem[];
}

/** The monthly report (src/report computes it): per server and service, and the incidents. */
export interface MonthlyReportFacts {
  /** YYYY-MM */
  month: string;
  customer: string;
  periodStart: string;
  periodEnd: string;
  /** The month is not over: counted up to periodEnd. */
  partial: boolean;
  servers: Array<{
    name: string;
    /** disputedSeconds: the vantage points disagreed (neither up nor down). */
    services: Array<{ service: string; availability: number | null; upSeconds: number; downSeconds: number; disputedSeconds?: number; unknownSeconds: number }>;
    incidents: Array<{ id: string; target: string; openedAt: string; closedAt?: string; closeReason?: string; timeToRecoverySeconds?: number; verdicts: string[]; powerActions: number }>;
  }>;
}

export interface FactsByKind {
  recovered: RecoveredFacts;
  'could-not-recover': CouldNotRecoverFacts;
  'access-blocked': AccessBlockedFacts;
  'not-ready': NotReadyFacts;
  'provider-fault': ProviderFaultFacts;
  'provider-working': ProviderWorkingFacts;
  'readiness-restored': ReadinessRestoredFacts;
  'revision-refused': RevisionRefusedFacts;
  'revision-held': RevisionHeldFacts;
  'change-refused': ChangeRefusedFacts;
  'mass-failure-paused': MassFailurePausedFacts;
  'console-check-requested': ConsoleCheckRequestedFacts;
  digest: DigestFacts;
  'monthly-report': MonthlyReportFacts;
  'certificate-expiring': CertificateExpiringFacts;
  'certificate-invalid': CertificateInvalidFacts;
}

interface NotificationBase<K extends NotificationKind> {
  /** Stable dedupe key, e.g. `${incidentId}:recovered`. Enqueueing it twice sends once. */
  id: string;
  kind: K;
  to: Recipient;
  server?: ServerRef;
  service?: ServiceName;
  /** The port the service is watched on, when the manifest sets one (mails name the real port). */
  port?: number;
  incident?: IncidentRef;
  /** ISO 8601: when the thing told happened. */
  occurredAt: string;
  facts: FactsByKind[K];
}

/** The discriminated union: `kind` picks the type of `facts`. */
export type Notification = { [K in NotificationKind]: NotificationBase<K> }[NotificationKind];
export type NotificationOf<K extends NotificationKind> = Extract<Notification, { kind: K }>;

/**
 * What the reconciler and executor call. The promise resolves only once the message is durably
 * on disk (fsync) in the outbox; delivery happens later. Notifying the same id twice is a no-op.
 */
export interface Notifier {
  notify(n: Notification): Promise<void>;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
  /** Message-ID, In-Reply-To, References, Auto-Submitted, … (values ASCII; nodemailer folds them). */
  headers: Record<string, string>;
}
