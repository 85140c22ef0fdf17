/**
 * The probe contract: what a probe is asked (ProbeTarget) and what it answers (ProbeResult).
 * A probe never throws — a down service is a result with a precise `failure`, not an exception
 * (blackbox_exporter's prober contract).
 */

import { SERVICE_NAMES, type ServiceName } from '../manifest/types.ts';

/** The nine services the seed watches, in the seed's order: one list, the manifest's. */
export { SERVICE_NAMES, type ServiceName };
export type TcpServiceName = Exclude<ServiceName, 'ping'>;

export const DEFAULT_PORTS: Readonly<Record<TcpServiceName, number>> = Object.freeze({
  http: 80,
  https: 443,
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  pop3: 110,
  imap: 143,
});

export function isServiceName(value: unknown): value is ServiceName {
  return typeof value === 'string' && (SERVICE_NAMES as readonly string[]).includes(value);
}

/**
 * Why a probe failed. `timeout` carries its phase in ProbeFailure.phase; `unreachable` is
 * EHOSTUNREACH/ENETUNREACH (or ICMP 100 % loss); `protocol` is a peer that answered, but wrongly.
 */
export type FailureKind = 'timeout' | 'refused' | 'reset' | 'unreachable' | 'tls' | 'protocol' | 'error';

/** Where in the conversation a probe was when it failed. */
export type ProbePhase = 'connect' | 'tls' | 'banner' | 'dialog' | 'response' | 'echo' | 'close';

export interface ProbeTarget {
  service: ServiceName;
  /** An IPv4 or IPv6 literal (a host name is resolved by the caller, never per probe). */
  address: string;
  /** Overrides DEFAULT_PORTS[service]. */
  port?: number;
  /** Host header and TLS SNI (http/https). */
  host?: string;
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

export interface TlsObservation {
  daysToExpiry: number;
  selfSigned: boolean;
  /** Whether the chain verified against the system's CAs (with the SNI/host name). */
  authorized: boolean;
  subject?: string;
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
