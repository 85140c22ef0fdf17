/**
 * History → the status file's model. Pure, so that `status()` over HTTP and the files agree.
 */
import { splitServerId } from '../manifest/server-id.ts';
import type { ServiceName } from '../manifest/types.ts';
import { mergeConditions, type ConditionInput } from '../status/conditions.ts';
import type { Condition, IncidentStatus, MaintenanceTimes, QuorumStatus, ServerStatus, ServiceStatus, TransitionStatus } from '../status/model.ts';
import { STATUS_API_VERSION, STATUS_KIND } from '../status/model.ts';
import { certificateConditions, certificateFindings, certificateStatusOf, DEFAULT_WARNING_DAYS, type CertificatePolicy } from './certificates.ts';
import { currentWindow, isSuspended, nextWindow, type WindowTimes } from './maintenance.ts';
import type { DesiredServer, Incident, MassFailureEpisode, Observation, ObservedServer, QuorumNote, ServerHistory, ServiceHistory } from './types.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

function incidentStatus(i: Incident): IncidentStatus {
  const out: IncidentStatus = {
    id: i.id,
    service: i.target,
    openedAt: iso(i.openedAt),
    detectedAt: iso(i.detectedAt),
    attempts: i.attempts.map((a) => ({
      n: a.n,
      startedAt: iso(a.startedAt),
      ...(a.finishedAt !== undefined ? { finishedAt: iso(a.finishedAt) } : {}),
      ...(a.verdict !== undefined ? { verdict: a.verdict } : {}),
      ...(a.steps !== undefined ? { steps: a.steps.map((x) => ({ id: x.id, startedAt: iso(x.startedAt), finishedAt: iso(x.finishedAt), ...(x.outcome !== undefined ? { outcome: x.outcome } : {}) })) } : {}),
      ...(a.confirmedAt !== undefined ? { confirmedAt: iso(a.confirmedAt) } : {}),
    })),
  };
  if (i.closedAt !== undefined) out.closedAt = iso(i.closedAt);
  if (i.closeReason !== undefined) out.closeReason = i.closeReason;
  return out;
}

function serviceStatus(h: ServiceHistory, o: Observation | undefined): ServiceStatus {
  const s: ServiceStatus = { state: h.state, since: iso(h.since), consecutiveFailures: h.consecutiveFailures };
  if (o !== undefined && o.at >= Math.max(h.lastProbeAt, h.lastUnknownAt ?? 0)) {
    s.lastProbe = { at: iso(o.at), up: o.up, ...(o.up !== 'unknown' ? { latencyMs: o.latencyMs } : {}), ...(o.failureKind !== undefined ? { failureKind: o.failureKind } : {}) };
    if (h.hold !== undefined) s.hold = h.hold;
    if (h.escalation !== undefined) s.escalation = h.escalation;
    if (h.quorum !== undefined) s.quorum = quorumStatus(h.quorum);
    return s;
  }
  const lastAt = Math.max(h.lastProbeAt, h.lastUnknownAt ?? 0);
  if (lastAt > 0) {
    const unknown = (h.lastUnknownAt ?? 0) > h.lastProbeAt;
    s.lastProbe = {
      at: iso(lastAt),
      up: unknown ? 'unknown' : (h.lastUp ?? 'unknown'),
      ...(!unknown && h.lastLatencyMs !== undefined ? { latencyMs: h.lastLatencyMs } : {}),
      ...(!unknown && h.lastFailureKind !== undefined ? { failureKind: h.lastFailureKind } : {}),
    };
  }
  if (h.hold !== undefined) s.hold = h.hold;
  if (h.escalation !== undefined) s.escalation = h.escalation;
  if (h.quorum !== undefined) s.quorum = quorumStatus(h.quorum);
  return s;
}

function quorumStatus(q: QuorumNote): QuorumStatus {
  return {
    judgement: q.judgement,
    at: iso(q.at),
    votes: q.votes.map((v) => ({ vantage: v.vantage, network: v.network, up: v.up, at: iso(v.at) })),
    lost: [...q.lost],
    ...(q.missingNetworks !== undefined ? { missingNetworks: [...q.missingNetworks] } : {}),
  };
}

export interface StatusViewInput {
  desired: DesiredServer;
  history: ServerHistory | undefined;
  revision: string;
  now: number;
  customer?: string;
  pausedBy?: MassFailureEpisode;
  previous?: readonly Condition[];
  lastTransition?: TransitionStatus;
  /** The newest probes (newer than the history when nothing changed). */
  observed?: ObservedServer;
  /** Set by the daemon when this server's newest manifest did not load (the last good one is used). */
  manifestInvalid?: string;
  /** Its passes are failing (a journal append, a bug): retried with backoff. */
  passFailing?: { failures: number; since: number; error: string };
  /** The certificate warning days (config tls.warningDays). */
  certificates?: CertificatePolicy;
  /** The scheduled readiness check's RecoveryReady condition (readiness-loop.ts), when it has run. */
  readiness?: ConditionInput;
}

function listOf(entries: Array<[ServiceName, ServiceHistory]>, pick: (h: ServiceHistory) => boolean): string {
  return entries
    .filter(([, h]) => pick(h))
    .map(([s, h]) => `${s}${h.escalation ? ` (${h.escalation})` : h.hold ? ` (${h.hold})` : ''}`)
    .join(', ');
}

export function serverStatusOf(input: StatusViewInput): ServerStatus {
  const { desired, history, now } = input;
  const entries: Array<[ServiceName, ServiceHistory]> = [];
  for (const s of desired.services) {
    const h = history?.services[s];
    if (h !== undefined) entries.push([s, h]);
  }
  const services: Record<string, ServiceStatus> = {};
  for (const [s, h] of entries) services[s] = serviceStatus(h, input.observed?.[s]);
  const certs = certificateFindings(desired.services, input.observed, input.certificates ?? { warningDays: DEFAULT_WARNING_DAYS }, now);
  for (const f of certs) {
    const s = services[f.service];
    if (s !== undefined) s.certificate = certificateStatusOf(f);
  }

  const any = (pick: (h: ServiceHistory) => boolean): boolean => entries.some(([, h]) => pick(h));
  const failing = (h: ServiceHistory): boolean => h.state === 'Suspect' || h.state === 'Down' || h.state === 'Remediating' || h.state === 'Escalated';
  const allProbed = entries.length === desired.services.length && !any((h) => h.state === 'Unknown');
  const conds: ConditionInput[] = [];
  if (!allProbed && !any(failing)) conds.push({ type: 'Ready', status: 'Unknown', reason: 'NotProbedYet', message: 'not every service has been probed yet' });
  else if (any(failing)) conds.push({ type: 'Ready', status: 'False', reason: 'ServicesFailing', message: `failing: ${listOf(entries, failing)}` });
  else conds.push({ type: 'Ready', status: 'True', reason: 'AllServicesUp', message: 'every watched service answers' });
  conds.push(
    any(failing)
      ? { type: 'Degraded', status: 'True', reason: 'ServicesFailing', message: listOf(entries, failing) }
      : { type: 'Degraded', status: 'False', reason: 'NoFailures', message: '' },
  );
  const remediating = (h: ServiceHistory): boolean => h.state === 'Remediating';
  conds.push(
    any(remediating)
      ? { type: 'Remediating', status: 'True', reason: 'RunbookRunning', message: listOf(entries, remediating) }
      : { type: 'Remediating', status: 'False', reason: 'Idle', message: '' },
  );
  const escalated = entries.filter(([, h]) => h.state === 'Escalated');
  conds.push(
    escalated.length > 0
      ? {
          type: 'Escalated',
          status: 'True',
          reason: escalated[0]?.[1].escalation ?? 'Escalated',
          message: `held until it recovers or an operator runs mamori resume: ${listOf(entries, (h) => h.state === 'Escalated')}`,
        }
      : { type: 'Escalated', status: 'False', reason: 'NotEscalated', message: '' },
  );
  const p = input.pausedBy;
  conds.push(
    p !== undefined
      ? {
          type: 'MassFailurePaused',
          status: 'True',
          reason: p.scope.kind === 'canary' ? 'CanaryDown' : p.scope.kind === 'fleet' ? 'FleetFailure' : p.scope.kind === 'network' ? 'NetworkFailure' : 'LocationFailure',
          message: `remediation paused: ${p.down} of ${p.total} servers failing in ${p.scope.kind} ${p.scope.value} since ${iso(p.since)}; it resumes by itself when they recover`,
        }
      : { type: 'MassFailurePaused', status: 'False', reason: 'NoMassFailure', message: '' },
  );
  const window = currentWindow(desired, now);
  const next = nextWindow(desired, now);
  conds.push(
    isSuspended(desired, now)
      ? {
          type: 'Suspended',
          status: 'True',
          reason: 'Suspended',
          message:
            desired.suspendUntilMs !== undefined
              ? `spec.suspend until ${iso(desired.suspendUntilMs)}: probes go on, nothing is repaired`
              : 'spec.suspend is true: probes go on, nothing is repaired',
        }
      : window !== undefined
        ? { type: 'Suspended', status: 'True', reason: 'Maintenance', message: `${window.reason ?? 'maintenance window'} until ${iso(window.endMs)}: probes go on, nothing is repaired` }
        : { type: 'Suspended', status: 'False', reason: 'Active', message: '' },
  );
  conds.push(
    any((h) => h.flapHeld === true)
      ? { type: 'Flapping', status: 'True', reason: 'Flapping', message: `held, not restarted: ${listOf(entries, (h) => h.flapHeld === true)}` }
      : { type: 'Flapping', status: 'False', reason: 'Stable', message: '' },
  );
  conds.push(
    any((h) => h.escalation === 'HostKeyChanged')
      ? { type: 'HostKeyChanged', status: 'True', reason: 'HostKeyMismatch', message: 'the SSH host key is not the pinned one: nothing was run' }
      : { type: 'HostKeyChanged', status: 'False', reason: 'HostKeyPinned', message: '' },
  );
  conds.push(
    any((h) => h.escalation === 'AccessBlocked')
      ? { type: 'AccessBlocked', status: 'True', reason: 'RemoteAccessBlocked', message: `runs on the server but not reachable from mamori: ${listOf(entries, (h) => h.escalation === 'AccessBlocked')}` }
      : { type: 'AccessBlocked', status: 'False', reason: 'Reachable', message: '' },
  );
  // Certificate conditions appear once a TLS probe saw a certificate, and stay (False) after.
  if (certs.length > 0 || input.previous?.some((c) => c.type === 'CertificateExpiring') === true) conds.push(...certificateConditions(certs));
  conds.push(
    input.manifestInvalid !== undefined
      ? { type: 'ManifestInvalid', status: 'True', reason: 'ManifestInvalid', message: input.manifestInvalid }
      : { type: 'ManifestInvalid', status: 'False', reason: 'ManifestValid', message: '' },
  );
  const pf = input.passFailing;
  conds.push(
    pf !== undefined
      ? { type: 'Reconciled', status: 'False', reason: 'PassFailed', message: `${pf.failures} pass${pf.failures === 1 ? '' : 'es'} in a row failed since ${iso(pf.since)} (${pf.error}); probed again with backoff` }
      : { type: 'Reconciled', status: 'True', reason: 'PassSucceeded', message: '' },
  );
  conds.push({ type: 'Monitored', status: 'True', reason: 'Probed', message: '' });
  // Kept across restarts from the previous status file until the next check sets it.
  const readiness = input.readiness ?? input.previous?.find((c) => c.type === 'RecoveryReady');
  if (readiness !== undefined) conds.push({ type: 'RecoveryReady', status: readiness.status, reason: readiness.reason, message: readiness.message });

  const open: IncidentStatus[] = [];
  for (const [, h] of entries) if (h.incident !== undefined) open.push(incidentStatus(h.incident));
  const status: ServerStatus = {
    apiVersion: STATUS_API_VERSION,
    kind: STATUS_KIND,
    metadata: input.customer !== undefined ? { name: splitServerId(desired.name).name, customer: input.customer } : { name: desired.name },
    observedRevision: input.revision,
    updatedAt: iso(now),
    conditions: mergeConditions(input.previous, conds, iso(now)),
    services,
    incidents: { open, recent: (history?.recent ?? []).map(incidentStatus).reverse() },
  };
  if (input.lastTransition !== undefined) status.lastTransition = input.lastTransition;
  if (window !== undefined || next !== undefined) {
    const times = (w: WindowTimes): MaintenanceTimes => ({ start: iso(w.startMs), end: iso(w.endMs), ...(w.reason !== undefined ? { reason: w.reason } : {}) });
    status.maintenance = { ...(window !== undefined ? { current: times(window) } : {}), ...(next !== undefined ? { next: times(next) } : {}) };
  }
  return status;
}
