import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { DialogTls } from './dialog.ts';

/** Debian's bundle (ca-certificates); where it is absent, Node's own copy of the same Mozilla roots. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface TrustOptions {
  /** PEM text of CAs the operator names (config `tls.caFiles`), trusted beside the system roots. */
  ca?: readonly string[];
  /** Trust the system roots too (default true); false checks only against the operator's CAs. */
  systemRoots?: boolean;
  /** Where the system roots are read from (tests). */
  systemBundle?: string;
}

function systemRoots(path: string): string[] {
  try {
    return [readFileSync(path, 'utf8')];
  } catch {
    return [...rootCertificates];
  }
}

/**
 * The roots every TLS probe checks certificates against, as one secure context made once: a
 * context with ~150 roots costs milliseconds to build, far more than the handshake it serves.
 */
export function createProbeTrust(options: TrustOptions = {}): DialogTls {
  const ca = [...(options.systemRoots === false ? [] : systemRoots(options.systemBundle ?? SYSTEM_CA_BUNDLE)), ...(options.ca ?? [])];
  if (ca.length === 0) return {};
  const secureContext: SecureContext = createSecureContext({ ca, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  return { secureContext };
}
