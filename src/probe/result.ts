import type { FailureKind, ProbeFailure, ProbePhase, ProbeResult, ServiceName } from './types.ts';

/** What the peer said is kept short: enough to recognise the daemon, never a flood into status files. */
export const PEER_MAX_CHARS = 200;

/** `addr:port`, with IPv6 literals bracketed (`[::1]:22`). */
export function formatTarget(address: string, port?: number): string {
  if (port === undefined) return address;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Printable ASCII only (a peer can send anything, and this lands in logs and emails). */
export function trimPeer(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]+/g, ' ').trim();
  return printable.length > PEER_MAX_CHARS ? printable.slice(0, PEER_MAX_CHARS) : printable;
}

const ERRNO_KINDS: Readonly<Record<string, FailureKind>> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  ETIMEDOUT: 'timeout',
};

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Classify a socket error. During the TLS handshake everything but a timeout is a TLS failure:
 * a peer that drops the handshake (alert, FIN or RST) is not speaking TLS to us, whatever errno says.
 */
export function failureFromError(err: unknown, phase: ProbePhase): ProbeFailure {
  const code = errorCode(err);
  let kind: FailureKind = (code !== undefined ? ERRNO_KINDS[code] : undefined) ?? 'error';
  if (phase === 'tls' && kind !== 'timeout') kind = 'tls';
  const message = code !== undefined && !errorMessage(err).includes(code) ? `${code}: ${errorMessage(err)}` : errorMessage(err);
  return { kind, phase, message: trimPeer(message) };
}

export interface ResultParts {
  service: ServiceName;
  target: string;
  startedAt: number;
  latencyMs: number;
  failure?: ProbeFailure;
  peer?: string;
  warnings?: string[];
}

/** Assemble a result with only the fields that carry something (results are stored and compared). */
export function makeResult(parts: ResultParts): ProbeResult {
  const result: ProbeResult = {
    service: parts.service,
    target: parts.target,
    up: parts.failure === undefined,
    latencyMs: Math.round(parts.latencyMs * 1000) / 1000,
    startedAt: new Date(parts.startedAt).toISOString(),
  };
  if (parts.peer !== undefined && parts.peer !== '') result.peer = trimPeer(parts.peer);
  if (parts.failure !== undefined) result.failure = parts.failure;
  if (parts.warnings !== undefined && parts.warnings.length > 0) result.warnings = parts.warnings;
  return result;
}
