import type { TLSSocket } from 'node:tls';
import type { TlsObservation } from './types.ts';

/** Below this many days left, an expiring certificate is worth a warning (not an outage). */
export const CERT_EXPIRY_WARN_DAYS = 14;

const DAY_MS = 86_400_000;
const SELF_SIGNED_CODES = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);

export interface CertificateReport {
  tls: TlsObservation;
  warnings: string[];
}

function subjectText(subject: unknown): string | undefined {
  if (typeof subject !== 'object' || subject === null) return undefined;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(subject as Record<string, unknown>)) {
    parts.push(`${key}=${Array.isArray(value) ? value.join('+') : String(value)}`);
  }
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/**
 * What the seed's check does not look at but an operator wants to know: the certificate.
 * Problems are warnings, never a down verdict (any HTTP reply is up, as the seed's HEAD check).
 */
export function observeCertificate(socket: TLSSocket, now: number): CertificateReport {
  const warnings: string[] = [];
  const cert = socket.getPeerCertificate(true);
  const authError = socket.authorizationError === undefined || socket.authorizationError === null
    ? undefined
    : String(socket.authorizationError);
  if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) {
    warnings.push('peer sent no certificate');
    return { tls: { daysToExpiry: 0, selfSigned: false, authorized: false }, warnings };
  }
  const validTo = Date.parse(cert.valid_to);
  const daysToExpiry = Number.isFinite(validTo) ? Math.floor((validTo - now) / DAY_MS) : 0;
  const issuerSame = cert.fingerprint256 !== undefined
    && cert.issuerCertificate !== undefined
    && cert.issuerCertificate.fingerprint256 === cert.fingerprint256;
  const selfSigned = (authError !== undefined && SELF_SIGNED_CODES.has(authError)) || issuerSame;
  const tls: TlsObservation = { daysToExpiry, selfSigned, authorized: socket.authorized };
  const subject = subjectText(cert.subject);
  if (subject !== undefined) tls.subject = subject.slice(0, 200);

  if (Number.isFinite(validTo) && validTo < now) {
    warnings.push(`certificate expired ${Math.floor((now - validTo) / DAY_MS)} day(s) ago`);
  } else if (daysToExpiry < CERT_EXPIRY_WARN_DAYS) {
    warnings.push(`certificate expires in ${daysToExpiry} day(s)`);
  }
  if (selfSigned) warnings.push('certificate is self-signed');
  if (!socket.authorized && authError !== undefined && !SELF_SIGNED_CODES.has(authError) && authError !== 'CERT_HAS_EXPIRED') {
    warnings.push(`certificate not trusted: ${authError}`);
  }
  return { tls, warnings };
}
