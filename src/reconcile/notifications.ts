/**
 * decide's `notify` actions as the notifier's Notifications: facts only (the notifier renders the
 * words), from the server's manifest, the incident and the last transcript. No secret: transcripts
 * are scrubbed by the executor, and only names, times and probe summaries are added here.
 */
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import { servicePort } from '../manifest/services.ts';
import type { CouldNotRecoverReason, Notification, ReadinessCheck, Recipient, ServerRef, StepSummary } from '../notify/types.ts';
import type { ReadinessReport } from '../runbook/readiness.ts';
import type { ReadinessMail } from './readiness-notices.ts';
import type { ReadinessCause, ReadinessVerdict } from './readiness-verdict.ts';
import type { FailureKind } from '../probe/types.ts';
import type { StepRecord, Transcript } from '../runbook/execution.ts';
import type { EscalationReason, Incident, MassFailureEpisode, ServiceHistory } from './types.ts';

const iso = (ms: number): string => new Date(ms).toISOString();
const FAILURE_KINDS: readonly string[] = ['timeout', 'refused', 'reset', 'unreachable', 'tls', 'protocol', 'error'];

export function recipientOf(doc: ServerDocument): Recipient {
  const c = doc.spec.contact;
  const to: Recipient = { email: c.email, locale: c.locale ?? 'ja' };
  if (c.name !== undefined) to.name = c.name;
  if (c.displayName !== undefined) to.organization = c.displayName;
  if (c.cc !== undefined && c.cc.length > 0) to.cc = c.cc;
  return to;
}

export function serverRefOf(doc: ServerDocument): ServerRef {
  return { name: doc.metadata.name, customer: doc.metadata.customer ?? doc.metadata.name, address: doc.spec.address };
}

function stepType(kind: string): StepSummary['type'] {
  return kind === 'check' || kind === 'run' || kind === 'verify' || kind === 'console' || kind === 'power' ? kind : 'check';
}

export function stepSummaries(t: Transcript | undefined): StepSummary[] {
  return (t?.steps ?? []).map((s: StepRecord) => {
    const out: StepSummary = { type: stepType(s.kind), outcome: s.outcome, startedAt: s.startedAt };
    if (s.command !== undefined) out.command = s.command;
    if (typeof s.exitCode === 'number') out.exitCode = s.exitCode;
    if (s.output !== undefined) out.output = s.output.slice(0, 2000);
    return out;
  });
}

/** The port the manifest sets for this service, if any (the default port needs no mention). */
function portOf(doc: ServerDocument, service: ServiceName): { port?: number } {
  const port = servicePort(doc, service);
  return typeof port === 'number' ? { port } : {};
}

function failureOf(doc: ServerDocument, service: ServiceName, h: ServiceHistory | undefined): { target: string; kind: FailureKind; message?: string } {
  const kind = (h?.lastFailureKind !== undefined && FAILURE_KINDS.includes(h.lastFailureKind) ? h.lastFailureKind : 'error') as FailureKind;
  return { target: service === 'ping' ? doc.spec.address : `${doc.spec.address}/${service}`, kind };
}

function couldNotRecoverReason(reason: string | undefined, t: Transcript | undefined): CouldNotRecoverReason {
  const r = reason as EscalationReason | undefined;
  if (r === 'AttemptsExhausted') return t?.verdict === 'StepFailed' ? 'step-failed' : 'verify-failed';
  if (r === 'BudgetExhausted' || r === 'PowerBudgetExhausted') return 'budget-exhausted';
  if (r === 'ManagementAccessDenied' || r === 'HostKeyChanged') return 'login-failed';
  if (r === 'HostUnreachable') return 'console-alive-network-down';
  return 'unexpected';
}

export interface NotifyContext {
  doc: ServerDocument;
  service: ServiceName;
  incident: Incident;
  history: ServiceHistory | undefined;
  transcript?: Transcript;
  now: number;
  managementNetworks: string[];
  sourceAddress?: string;
  /** access-blocked after vantage points disagreed: the networks the customer's filter misses. */
  missingNetworks?: readonly string[];
}

export function buildIncidentNotification(kind: 'recovered' | 'could-not-recover' | 'access-blocked', id: string, reason: string | undefined, ctx: NotifyContext): Notification {
  const { doc, service, incident, transcript: t, now } = ctx;
  const base = {
    id,
    to: recipientOf(doc),
    server: serverRefOf(doc),
    service,
    ...portOf(doc, service),
    incident: { id: incident.id, openedAt: iso(incident.openedAt), ...(incident.closedAt !== undefined ? { closedAt: iso(incident.closedAt) } : {}) },
    occurredAt: iso(now),
  };
  const failure = failureOf(doc, service, ctx.history);
  const runbook = t?.runbook;
  if (kind === 'recovered') {
    const powered = (t?.powerActions.length ?? 0) > 0;
    return {
      ...base,
      kind,
      facts: {
        detectedAt: iso(incident.detectedAt),
        failure,
        remedy: powered ? { type: 'power-cycle' } : t?.acted ? { type: 'restart-service', unit: service } : { type: 'none' },
        steps: stepSummaries(t),
        verification: { externalProbe: { target: failure.target, at: t?.finishedAt ?? iso(now) } },
        recoveredAt: t?.finishedAt ?? iso(now),
        ...(runbook !== undefined ? { runbook } : {}),
      },
    };
  }
  if (kind === 'access-blocked') {
    const ev = t?.evidence ?? {};
    const local: { command?: string; result?: string } = {};
    const check = t?.steps.find((s) => s.kind === 'check' && s.command !== undefined);
    if (check?.command !== undefined) local.command = check.command;
    if (typeof ev.localConnect === 'boolean') local.result = ev.localConnect ? 'connected' : 'refused';
    return {
      ...base,
      kind,
      facts: {
        detectedAt: iso(incident.detectedAt),
        external: failure,
        local,
        ...(typeof ev.process === 'string' ? { process: ev.process } : {}),
        managementNetworks: ctx.managementNetworks,
        ...(ctx.sourceAddress !== undefined ? { sourceAddress: ctx.sourceAddress } : {}),
        ...(ctx.missingNetworks !== undefined && ctx.missingNetworks.length > 0 ? { missingNetworks: [...ctx.missingNetworks] } : {}),
        ...(ctx.history?.quorum !== undefined ? { vantages: ctx.history.quorum.votes.map((v) => ({ vantage: v.vantage, network: v.network, up: v.up, at: iso(v.at) })) } : {}),
      },
    };
  }
  return {
    ...base,
    kind,
    facts: {
      detectedAt: iso(incident.detectedAt),
      failure,
      steps: stepSummaries(t),
      reason: couldNotRecoverReason(reason, t),
      // The escalation reason is ours (PascalCase codes): the reason sentence says it to the customer.
      stateNow: { up: ctx.history?.lastUp === true, checkedAt: iso(ctx.history?.lastProbeAt || now) },
      remediationHeld: true,
      ...(runbook !== undefined ? { runbook } : {}),
    },
  };
}

/** The operator's mail when vantage points hold a repair: too few of them fresh, or many servers disputed. */
export function buildVantageNotification(
  kind: 'vantage-lost' | 'vantage-disagreement',
  id: string,
  ctx: { doc: ServerDocument; service: ServiceName; history: ServiceHistory | undefined; operator: string; now: number },
): Notification {
  const q = ctx.history?.quorum;
  const votes = (q?.votes ?? []).map((v) => `${v.vantage} (${v.network}): ${v.up ? 'up' : 'down'} at ${iso(v.at)}`);
  const lines = [...votes, ...(q?.lost ?? []).map((name) => `${name}: no fresh report`)];
  const console = ctx.doc.spec.console;
  const location = ctx.doc.spec.location;
  return {
    id,
    kind: 'console-check-requested',
    to: { email: ctx.operator, locale: 'en' },
    server: serverRefOf(ctx.doc),
    service: ctx.service,
    ...(ctx.history?.incident !== undefined ? { incident: { id: ctx.history.incident.id, openedAt: iso(ctx.history.incident.openedAt) } } : {}),
    occurredAt: iso(ctx.now),
    facts: {
      reason: kind,
      since: iso(ctx.history?.failingSince ?? ctx.now),
      ...(console?.profile !== undefined || location?.site !== undefined || location?.rack !== undefined
        ? { console: { ...(console?.profile !== undefined ? { profile: console.profile } : {}), ...(location?.site !== undefined ? { site: location.site } : {}), ...(location?.rack !== undefined ? { rack: location.rack } : {}) } }
        : {}),
      ...(lines.length > 0 ? { question: `Vantage points:\n${lines.join('\n')}` } : {}),
    },
  };
}

export interface ProviderNotifyContext {
  doc: ServerDocument;
  incident: Incident;
  /** The server's services failing now (held under the cause). */
  services: ServiceName[];
  transcript?: Transcript;
  operatorEmail: string | undefined;
}

/**
 * A repair that could not run for a provider-side cause: the operator's mail (with the reason and
 * what the runbook said) and the customer's plain one (no reason code, nothing to do). undefined
 * for the operator's when no mail.operator is configured.
 */
export function buildProviderNotification(kind: 'provider-fault' | 'provider-working', id: string, reason: string | undefined, ctx: ProviderNotifyContext): Notification | undefined {
  const since = iso(ctx.incident.detectedAt);
  const services = ctx.services.length > 0 ? ctx.services : [serviceOfTarget(ctx.incident.target)];
  const base = { id, server: serverRefOf(ctx.doc), incident: { id: ctx.incident.id, openedAt: iso(ctx.incident.openedAt) }, occurredAt: iso(ctx.incident.attempts.at(-1)?.finishedAt ?? ctx.incident.openedAt) };
  if (kind === 'provider-working') return { ...base, kind, to: recipientOf(ctx.doc), facts: { origin: 'repair', since, services } };
  if (ctx.operatorEmail === undefined) return undefined;
  return {
    ...base,
    kind,
    to: { email: ctx.operatorEmail, locale: 'en' },
    facts: { origin: 'repair', cause: reason ?? 'Unknown', message: ctx.transcript?.message ?? `the ${ctx.incident.target} runbook escalated: ${reason ?? 'unknown'}`, since, services },
  };
}

function serviceOfTarget(target: Incident['target']): ServiceName {
  return target === 'host' ? 'ping' : target;
}

export function buildMassFailureNotification(id: string, episode: MassFailureEpisode, operator: string, now: number): Notification {
  return {
    id,
    kind: 'mass-failure-paused',
    to: { email: operator, locale: 'en' },
    occurredAt: iso(now),
    facts: {
      scope: { kind: episode.scope.kind === 'canary' ? 'fleet' : episode.scope.kind, value: episode.scope.value },
      down: episode.down,
      total: episode.total,
      servers: episode.servers,
      pausedAt: iso(episode.since),
    },
  };
}

/** The customer's check a customer-side readiness cause is about (the not-ready mail's wording). */
const CHECK_OF: Partial<Record<ReadinessCause, ReadinessCheck>> = {
  HostKeyChanged: 'host-key',
  LoginRefused: 'management-login',
  SudoRefused: 'management-login',
  NetworkBlocked: 'networks',
  PassphraseRefused: 'ssl-passphrase',
};

export interface ReadinessNotifyContext {
  doc: ServerDocument;
  report: Pick<ReadinessReport, 'checkedAt'>;
  verdict: ReadinessVerdict;
  operatorEmail: string | undefined;
}

/**
 * A readiness mail (readiness-notices.ts) as a Notification. The customer's carry no reason code
 * and no technical detail; the operator's carry both. undefined: an operator mail without
 * mail.operator configured.
 */
export function buildReadinessNotification(mail: ReadinessMail, ctx: ReadinessNotifyContext): Notification | undefined {
  const base = { id: mail.id, server: serverRefOf(ctx.doc), occurredAt: ctx.report.checkedAt };
  const operator = ctx.operatorEmail !== undefined ? { email: ctx.operatorEmail, locale: 'en' as const } : undefined;
  const to = mail.audience === 'customer' ? recipientOf(ctx.doc) : operator;
  if (to === undefined) return undefined;
  switch (mail.kind) {
    case 'not-ready': {
      const check = CHECK_OF[mail.cause as ReadinessCause] ?? 'management-login';
      return { ...base, kind: 'not-ready', to, facts: { checkedAt: ctx.report.checkedAt, checks: [{ check, ok: false }] } };
    }
    case 'provider-fault':
      return { ...base, kind: 'provider-fault', to, facts: { origin: 'readiness', cause: mail.cause, message: ctx.verdict.message, since: mail.since } };
    case 'provider-working':
      return { ...base, kind: 'provider-working', to, facts: { origin: 'readiness', since: mail.since } };
    case 'readiness-restored':
      return { ...base, kind: 'readiness-restored', to, facts: { since: mail.since, checkedAt: ctx.report.checkedAt, ...(mail.audience === 'operator' ? { cause: mail.cause } : {}) } };
  }
}
