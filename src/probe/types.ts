/**
 * The probe contract: what a probe is asked (ProbeTarget) and what it answers (ProbeResult).
 * A probe never throws — a down service is a result with a precise `failure`, not an exception
 * (blackbox_exporter's prober contract).
 */

import { SERVICE_NAMES, type FailureKind, type ServiceName } from '../vocabulary.ts';

/** The services watched and the ways a probe fails: src/vocabulary.ts, shared with manifest and notify. */
export { SERVICE_NAMES, type FailureKind, type ServiceName };
export type TcpServiceName = Exclude<ServiceName, 'ping'>;

/** The seed's nine services: what `mamori probe` tries when no service is named. */
export const SEED_SERVICE_NAMES: readonly ServiceName[] = SERVICE_NAMES.filter((s) => s !== 'smtps' && s !== 'pop3s' && s !== 'imaps');

export const DEFAULT_PORTS: Readonly<Record<TcpServiceName, number>> = Object.freeze({
  http: 80,
  https: 443,
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  pop3: 110,
  imap: 143,
  smtps: 465,
  pop3s: 995,
  imaps: 993,
});

export function isServiceName(value: unknown): value is ServiceName {
  return typeof value === 'string' && (SERVICE_NAMES as readonly string[]).includes(value);
}

/** Where in the conversation a probe was when it failed. */
export type ProbePhase = 'connect' | 'tls' | 'banner' | 'dialog' | 'starttls' | 'response' | 'echo' | 'close';

export interface ProbeTarget {
  service: ServiceName;
  /** An IPv4 or IPv6 literal (a host name is resolved by the caller, never per probe). */
  address: string;
  /** Overrides DEFAULT_PORTS[service]. */
  port?: number;
  /** Host header (http/https), TLS SNI, and the name the certificate must carry (every TLS probe). */
  host?: string;
  /** smtp/pop3/imap/ftp: upgrade the connection with STARTTLS (STLS, AUTH TLS) and observe the certificate. */
  starttls?: boolean;
  /** Request path (http/https); default `/`. */
  path?: string;
  /** Opt-in: only these HTTP status codes are up. By default any HTTP response is up. */
  expectStatus?: number[];
  /** Deadline for the whole probe; each phase gets its own deadline inside it. */
  timeoutMs: number;
  /** Bind the local side of the connection (the management network's address). */
  sourceAddress?: string;
}

export interface ProbeFailure {
  kind: FailureKind;
  phase: ProbePhase;
  message: string;
}

/**
 * The certificate a TLS probe saw. Observed, never enforced: a bad certificate is a fact for
 * conditions and mail, not an outage (the handshake itself failing is one).
 */
export interface TlsObservation {
  /** Whole days until notAfter (negative once expired). */
  daysToExpiry: number;
  selfSigned: boolean;
  /** The chain verified against the trusted roots and, when a name was given, the name matched. */
  authorized: boolean;
  subject?: string;
  /** ISO 8601. */
  notAfter?: string;
  notBefore?: string;
  issuer?: string;
  /** subjectAltName DNS names and addresses (at most 20), else the subject's CN. */
  names?: string[];
  /** SHA-256 of the leaf certificate, hex with colons: one certificate, one identity for mail. */
  fingerprint?: string;
  /** Why the chain did not verify (OpenSSL's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED). */
  chainError?: string;
  /** The name checked (the service's `host`), when it is not among the certificate's names. */
  nameError?: string;
  /** The name the certificate was checked against; absent when the manifest names none. */
  checkedName?: string;
  /** TLSv1.3, TLSv1.2, … */
  protocol?: string;
}

export interface IcmpObservation {
  sent: number;
  received: number;
  lossPct: number;
  rttMs?: number;
}

export interface ProbeResult {
  service: ServiceName;
  /** `addr:port` (`[v6]:port`), or the bare address for ping. */
  target: string;
  up: boolean;
  latencyMs: number;
  /** ISO 8601 time the probe began. */
  startedAt: string;
  /** What the server said, trimmed to printable text, at most 200 characters. */
  peer?: string;
  failure?: ProbeFailure;
  /** Observations that are not outages (certificate problems, expiry soon, unexpected status). */
  warnings?: string[];
  tls?: TlsObservation;
  icmp?: IcmpObservation;
}

export interface Prober {
  readonly service: ServiceName;
  /** Never throws; an aborted probe resolves with a failure. */
  probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult>;
}
