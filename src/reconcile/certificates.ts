/**
 * Certificates as policy: what the TLS probes saw, judged against the operator's warning days.
 * Pure (no clock, no I/O): the controller feeds it the newest observations and `now`, and gets
 * the conditions, the status facts and the mail to send. A certificate problem never touches a
 * service's state: it is a condition and a mail, never a Down and never a runbook.
 */
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { CertificateProblem, Notification } from '../notify/types.ts';
import type { TlsObservation } from '../probe/types.ts';
import type { ConditionInput } from '../status/conditions.ts';
import type { CertificateStatus } from '../status/model.ts';
import { recipientOf, serverRefOf } from './notifications.ts';
import type { ObservedServer } from './types.ts';

const DAY_MS = 86_400_000;
const SELF_SIGNED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);

export interface CertificatePolicy {
  /** Days before notAfter at which the customer is told, e.g. [30, 7]; each once per certificate. */
  warningDays: readonly number[];
}

export const DEFAULT_WARNING_DAYS: readonly number[] = [30, 7];

/** Where a certificate stands against the policy: `ok`, inside a warning threshold (`30d`, `7d`), or `expired`. */
export type ExpiryStage = 'ok' | `${number}d` | 'expired';

export interface CertificateFinding {
  service: ServiceName;
  tls: TlsObservation;
  /** When the probe saw it (epoch ms). */
  at: number;
  notAfterMs: number | undefined;
  daysLeft: number | undefined;
  stage: ExpiryStage;
  /** The smallest threshold crossed, in days (absent when ok or expired). */
  thresholdDays?: number;
  /** Chain and name problems (expiry alone is not one: it has its own stage). */
  problems: CertificateProblem[];
}

/** Whole days left, rounded down; the smallest warning threshold at or above them. */
export function expiryStage(notAfterMs: number | undefined, now: number, warningDays: readonly number[]): { stage: ExpiryStage; daysLeft?: number; thresholdDays?: number } {
  if (notAfterMs === undefined) return { stage: 'ok' };
  const daysLeft = Math.floor((notAfterMs - now) / DAY_MS);
  if (notAfterMs <= now) return { stage: 'expired', daysLeft };
  let threshold: number | undefined;
  for (const d of warningDays) if (daysLeft < d && (threshold === undefined || d < threshold)) threshold = d;
  return threshold === undefined ? { stage: 'ok', daysLeft } : { stage: `${threshold}d`, daysLeft, thresholdDays: threshold };
}

function problemsOf(tls: TlsObservation): CertificateProblem[] {
  const out: CertificateProblem[] = [];
  const chain = tls.chainError;
  if (tls.selfSigned || (chain !== undefined && SELF_SIGNED.has(chain))) out.push('self-signed');
  else if (chain !== undefined && chain !== 'CERT_HAS_EXPIRED') out.push('untrusted');
  if (tls.nameError !== undefined) out.push('name-mismatch');
  return out;
}

/** Every watched service whose newest TLS probe saw a certificate, in the manifest's order. */
export function certificateFindings(services: readonly ServiceName[], observed: ObservedServer | undefined, policy: CertificatePolicy, now: number): CertificateFinding[] {
  const out: CertificateFinding[] = [];
  if (observed === undefined) return out;
  for (const service of services) {
    const o = observed[service];
    const tls = o?.tls;
    if (o === undefined || tls === undefined) continue;
    const parsed = tls.notAfter !== undefined ? Date.parse(tls.notAfter) : Number.NaN;
    const notAfterMs = Number.isFinite(parsed) ? parsed : undefined;
    const e = expiryStage(notAfterMs, now, policy.warningDays);
    const f: CertificateFinding = { service, tls, at: o.tlsAt ?? o.at, notAfterMs, daysLeft: e.daysLeft, stage: e.stage, problems: problemsOf(tls) };
    if (e.thresholdDays !== undefined) f.thresholdDays = e.thresholdDays;
    out.push(f);
  }
  return out;
}

/** What changes the status file or the mail: a new certificate, a new stage, a new problem. */
export function certificateSignature(findings: readonly CertificateFinding[]): string {
  let s = '';
  for (const f of findings) s += `${f.service}|${f.tls.fingerprint ?? ''}|${f.stage}|${f.problems.join(',')}|${f.tls.nameError ?? ''};`;
  return s;
}

function listed(findings: readonly CertificateFinding[], text: (f: CertificateFinding) => string): string {
  return findings.map((f) => `${f.service} ${text(f)}`).join('; ');
}

/** The two certificate conditions of a server: always present, False when no certificate is in question. */
export function certificateConditions(findings: readonly CertificateFinding[]): ConditionInput[] {
  const expired = findings.filter((f) => f.stage === 'expired');
  const expiring = findings.filter((f) => f.stage !== 'ok' && f.stage !== 'expired');
  const invalid = findings.filter((f) => f.problems.length > 0 || f.stage === 'expired');
  const out: ConditionInput[] = [];
  if (expired.length > 0) {
    out.push({ type: 'CertificateExpiring', status: 'True', reason: 'CertificateExpired', message: listed([...expired, ...expiring], (f) => `${f.stage === 'expired' ? 'expired' : 'expires'} ${f.tls.notAfter ?? '?'}`) });
  } else if (expiring.length > 0) {
    out.push({ type: 'CertificateExpiring', status: 'True', reason: 'ExpiresSoon', message: listed(expiring, (f) => `expires ${f.tls.notAfter ?? '?'} (${f.daysLeft ?? '?'} days left)`) });
  } else {
    out.push({ type: 'CertificateExpiring', status: 'False', reason: findings.length > 0 ? 'NotExpiring' : 'NoCertificates', message: '' });
  }
  if (invalid.length > 0) {
    const first = invalid[0] as CertificateFinding;
    const reason = first.problems.includes('self-signed')
      ? 'SelfSigned'
      : first.problems.includes('untrusted')
        ? 'Untrusted'
        : first.problems.includes('name-mismatch')
          ? 'NameMismatch'
          : 'CertificateExpired';
    out.push({
      type: 'CertificateInvalid',
      status: 'True',
      reason,
      message: listed(invalid, (f) => [...f.problems, ...(f.stage === 'expired' ? ['expired'] : []), ...(f.tls.chainError !== undefined ? [`(${f.tls.chainError})`] : [])].join(' ')),
    });
  } else {
    out.push({ type: 'CertificateInvalid', status: 'False', reason: findings.length > 0 ? 'Verified' : 'NoCertificates', message: '' });
  }
  return out;
}

/** The facts the status file keeps per service (no time-dependent count: the file does not churn daily). */
export function certificateStatusOf(f: CertificateFinding): CertificateStatus {
  const t = f.tls;
  const s: CertificateStatus = { observedAt: new Date(f.at).toISOString(), selfSigned: t.selfSigned, verified: t.authorized, stage: f.stage };
  if (t.notAfter !== undefined) s.notAfter = t.notAfter;
  if (t.notBefore !== undefined) s.notBefore = t.notBefore;
  if (t.subject !== undefined) s.subject = t.subject;
  if (t.issuer !== undefined) s.issuer = t.issuer;
  if (t.names !== undefined) s.names = [...t.names];
  if (t.fingerprint !== undefined) s.fingerprint = t.fingerprint;
  if (t.chainError !== undefined) s.chainError = t.chainError;
  if (t.checkedName !== undefined) s.checkedName = t.checkedName;
  if (t.nameError !== undefined) s.nameError = t.nameError;
  if (t.protocol !== undefined) s.protocol = t.protocol;
  return s;
}

const PLAIN_PORT_TLS = new Set<ServiceName>(['smtps', 'pop3s', 'imaps', 'https']);

/** A short, stable identity for ids: the first 16 hex digits of the SHA-256 fingerprint. */
function shortFingerprint(fp: string | undefined): string {
  return (fp ?? 'unknown').replace(/:/g, '').slice(0, 16);
}

/**
 * The mail the findings call for: one per crossed threshold (only the smallest: a certificate
 * first seen 5 days before expiry gets the 7-day mail, not the 30-day one too), one once expired,
 * one per certificate for chain or name problems. The ids make them once-only in the outbox.
 */
export function certificateNotifications(doc: ServerDocument, findings: readonly CertificateFinding[], target: (service: ServiceName) => string, now: number): Notification[] {
  const out: Notification[] = [];
  const server = serverRefOf(doc);
  // One certificate often serves several ports (exim on 25 and 465, dovecot on four): one mail for it.
  const byCertificate = new Map<string, CertificateFinding[]>();
  for (const f of findings) {
    if (f.tls.notAfter === undefined || f.tls.fingerprint === undefined) continue;
    // The same certificate has the same notAfter, so the same stage; its problems are merged below.
    const key = f.tls.fingerprint;
    const list = byCertificate.get(key);
    if (list === undefined) byCertificate.set(key, [f]);
    else list.push(f);
  }
  for (const group of byCertificate.values()) {
    const f = group[0] as CertificateFinding;
    const t = f.tls;
    if (t.notAfter === undefined || t.fingerprint === undefined) continue;
    const base = {
      endpoints: group.map((g) => ({ service: g.service, target: target(g.service), via: PLAIN_PORT_TLS.has(g.service) ? ('tls' as const) : ('starttls' as const) })),
      names: t.names ?? [],
      notAfter: t.notAfter,
      fingerprint: t.fingerprint,
      observedAt: new Date(f.at).toISOString(),
      ...(t.subject !== undefined ? { subject: t.subject } : {}),
      ...(t.issuer !== undefined ? { issuer: t.issuer } : {}),
    };
    const idBase = `cert:${server.name}:${shortFingerprint(t.fingerprint)}`;
    if (f.stage !== 'ok') {
      out.push({
        id: `${idBase}:${f.stage}`,
        kind: 'certificate-expiring',
        to: recipientOf(doc),
        server,
        service: f.service,
        occurredAt: new Date(now).toISOString(),
        facts: { ...base, daysLeft: f.daysLeft ?? 0, expired: f.stage === 'expired', ...(f.thresholdDays !== undefined ? { thresholdDays: f.thresholdDays } : {}) },
      });
    }
    const problems = [...new Set(group.flatMap((g) => g.problems))];
    const named = group.find((g) => g.tls.nameError !== undefined)?.tls.checkedName;
    if (problems.length > 0) {
      out.push({
        id: `${idBase}:invalid`,
        kind: 'certificate-invalid',
        to: recipientOf(doc),
        server,
        service: f.service,
        occurredAt: new Date(now).toISOString(),
        facts: {
          ...base,
          problems,
          ...(t.chainError !== undefined && t.chainError !== 'CERT_HAS_EXPIRED' ? { chainError: t.chainError } : {}),
          ...(named !== undefined ? { checkedName: named } : {}),
        },
      });
    }
  }
  return out;
}
