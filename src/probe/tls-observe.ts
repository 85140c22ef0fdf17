import { checkServerIdentity, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { TlsObservation } from './types.ts';

/** Below this many days left, a probe result carries a warning (the policy's thresholds are in the config). */
export const CERT_EXPIRY_WARN_DAYS = 14;

const DAY_MS = 86_400_000;
const MAX_NAMES = 20;
const SELF_SIGNED_CODES = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);

export interface CertificateReport {
  tls: TlsObservation;
  warnings: string[];
}

/** A subject or issuer as `CN=a, O=b`, printable and short: it lands in status files and mail. */
function distinguishedName(dn: unknown): string | undefined {
  if (typeof dn !== 'object' || dn === null) return undefined;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(dn as Record<string, unknown>)) {
    parts.push(`${key}=${Array.isArray(value) ? value.join('+') : String(value)}`);
  }
  const text = parts.join(', ').replace(/[^\x20-\x7e]+/g, ' ');
  return text !== '' ? text.slice(0, 200) : undefined;
}

/** `DNS:a, IP Address:1.2.3.4` → [a, 1.2.3.4]; without a SAN, the subject's CN. */
function namesOf(cert: DetailedPeerCertificate): string[] {
  const names: string[] = [];
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const colon = part.indexOf(':');
    if (colon === -1) continue;
    const kind = part.slice(0, colon).trim();
    if (kind !== 'DNS' && kind !== 'IP Address') continue;
    const name = part.slice(colon + 1).trim().replace(/[^\x21-\x7e]+/g, '');
    if (name !== '' && names.length < MAX_NAMES) names.push(name.slice(0, 253));
  }
  const cn = cert.subject?.CN;
  if (names.length === 0 && typeof cn === 'string' && cn !== '') names.push(cn.replace(/[^\x21-\x7e]+/g, '').slice(0, 253));
  return names;
}

function isoOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/**
 * What the seed's check does not look at but an operator wants to know: the certificate, checked
 * against the trusted roots the connection was given and, when the manifest names one, the host
 * name. Problems are facts and warnings, never a down verdict.
 */
export function observeCertificate(socket: TLSSocket, now: number, checkName?: string): CertificateReport {
  const warnings: string[] = [];
  const cert = socket.getPeerCertificate(true);
  const authError = socket.authorizationError === undefined || socket.authorizationError === null
    ? undefined
    : String(socket.authorizationError);
  if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) {
    warnings.push('peer sent no certificate');
    return { tls: { daysToExpiry: 0, selfSigned: false, authorized: false, chainError: 'NO_PEER_CERTIFICATE' }, warnings };
  }
  const notAfter = isoOf(cert.valid_to);
  const validTo = notAfter !== undefined ? Date.parse(notAfter) : Number.NaN;
  const daysToExpiry = Number.isFinite(validTo) ? Math.floor((validTo - now) / DAY_MS) : 0;
  const issuerSame = cert.fingerprint256 !== undefined
    && cert.issuerCertificate !== undefined
    && cert.issuerCertificate.fingerprint256 === cert.fingerprint256;
  const selfSigned = (authError !== undefined && SELF_SIGNED_CODES.has(authError)) || issuerSame;
  const chainError = socket.authorized ? undefined : (authError ?? 'UNABLE_TO_VERIFY');
  let nameError: string | undefined;
  if (checkName !== undefined) {
    const err = checkServerIdentity(checkName, cert);
    if (err !== undefined) nameError = `${checkName} is not among the certificate's names`;
  }
  const tls: TlsObservation = { daysToExpiry, selfSigned, authorized: chainError === undefined && nameError === undefined };
  const subject = distinguishedName(cert.subject);
  if (subject !== undefined) tls.subject = subject;
  const issuer = distinguishedName(cert.issuer);
  if (issuer !== undefined) tls.issuer = issuer;
  if (notAfter !== undefined) tls.notAfter = notAfter;
  const notBefore = isoOf(cert.valid_from);
  if (notBefore !== undefined) tls.notBefore = notBefore;
  const names = namesOf(cert);
  if (names.length > 0) tls.names = names;
  if (typeof cert.fingerprint256 === 'string') tls.fingerprint = cert.fingerprint256;
  if (chainError !== undefined) tls.chainError = chainError;
  if (checkName !== undefined) tls.checkedName = checkName;
  if (nameError !== undefined) tls.nameError = nameError;
  const protocol = socket.getProtocol();
  if (typeof protocol === 'string') tls.protocol = protocol;

  if (Number.isFinite(validTo) && validTo < now) {
    warnings.push(`certificate expired ${Math.floor((now - validTo) / DAY_MS)} day(s) ago`);
  } else if (daysToExpiry < CERT_EXPIRY_WARN_DAYS) {
    warnings.push(`certificate expires in ${daysToExpiry} day(s)`);
  }
  if (selfSigned) warnings.push('certificate is self-signed');
  if (chainError !== undefined && !SELF_SIGNED_CODES.has(chainError) && chainError !== 'CERT_HAS_EXPIRED') {
    warnings.push(`certificate not trusted: ${chainError}`);
  }
  if (nameError !== undefined) warnings.push(`certificate name mismatch: ${nameError}`);
  return { tls, warnings };
}
