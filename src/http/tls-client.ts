/**
 * The client side of the daemon's HTTPS (http.tls): a connection handed to `https.request` only
 * once the daemon's certificate has been checked, so that nothing — not the bearer token, not a
 * report — is written to a peer we do not trust.
 *
 * Trust is a CA (`ca`: the daemon's certificate must chain to it and name the host dialled; without
 * `ca` and without pins, the system's roots), or pinned SHA-256 fingerprints of the daemon's own
 * certificate (no CA, no name check: exactly that certificate), or both.
 */
import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ClientRequestArgs } from 'node:http';
import { connect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { MamoriError } from '../errors.ts';

export interface DaemonTrust {
  /** PEM of the CA(s) the daemon's certificate must chain to (instead of the system's roots). */
  ca?: string;
  /** SHA-256 fingerprints (AB:CD:… as normalizeCertFingerprint gives them) of certificates to accept. */
  pins?: readonly string[];
  /** Where the trust came from, for the refusal's message (--ca-file X, --daemon-fingerprint). */
  describe: string;
}

const HANDSHAKE_MS = 15_000;

/**
 * A certificate's SHA-256 fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it (with
 * or without its `sha256 Fingerprint=` prefix, colons or case), as AB:CD:…; undefined if it is not 32 bytes of hex.
 */
export function normalizeCertFingerprint(text: string): string | undefined {
  const hex = text
    .trim()
    .replace(/^sha-?256(\s+fingerprint)?\s*[=:]\s*/i, '')
    .replace(/[:\s]/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)?.join(':');
}

/** The SHA-256 fingerprint of the first certificate of a PEM text (AB:CD:…). */
export function certFingerprint(pem: string | Buffer): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Why the peer is not trusted; undefined when it is. */
function refusal(socket: TLSSocket, trust: DaemonTrust, host: string): string | undefined {
  const cert = socket.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || cert.raw === undefined) return 'the daemon sent no certificate';
  const pins = trust.pins ?? [];
  if (trust.ca !== undefined || pins.length === 0) {
    // Node checked the chain and, when it held, the name (checkServerIdentity): the code says which failed.
    if (!socket.authorized) {
      const err = socket.authorizationError as unknown;
      const code = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `its certificate does not name ${host} (it names ${cert.subjectaltname ?? cert.subject?.CN ?? 'nothing'})`;
      return `its certificate (${cert.subject?.CN ?? 'no CN'}, SHA-256 ${cert.fingerprint256}) does not chain to ${trust.ca !== undefined ? trust.describe : "the system's trusted roots"} (${code})`;
    }
  }
  if (pins.length > 0 && !pins.includes(cert.fingerprint256)) return `its certificate's SHA-256 fingerprint ${cert.fingerprint256} is not the pinned one (${trust.describe})`;
  return undefined;
}

/**
 * `createConnection` for `https.request`: dial, finish the TLS handshake, check the certificate
 * against `trust`, and only then hand the socket over. A refusal is MAMORI_AGENT_TLS_REFUSED
 * (`code` lets callers word it); nothing has been written by then.
 */
export function trustedConnector(trust: DaemonTrust, code: 'MAMORI_AGENT_TLS_REFUSED' | 'MAMORI_HTTP_UNREACHABLE' = 'MAMORI_AGENT_TLS_REFUSED') {
  return (opts: ClientRequestArgs, callback: (err: Error | null, socket: Duplex) => void): undefined => {
    const host = (opts.hostname ?? opts.host ?? 'localhost').replace(/^\[|\]$/g, '');
    let done = false;
    const finish = (err: Error | null, socket?: Duplex): void => {
      if (done) return;
      done = true;
      // The callback's socket is only read without an error.
      callback(err, socket as Duplex);
    };
    const socket = connect({
      host,
      port: Number(opts.port),
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(trust.ca !== undefined ? { ca: trust.ca } : {}),
      // Checked below, before anything is written: a pinned certificate needs no CA.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
    });
    socket.setTimeout(HANDSHAKE_MS, () => socket.destroy(new Error(`no TLS handshake within ${HANDSHAKE_MS / 1000} s`)));
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      const why = refusal(socket, trust, host);
      if (why !== undefined) {
        socket.destroy();
        finish(new MamoriError(code, `${host}:${String(opts.port)}: the daemon is not trusted: ${why}; nothing was sent`));
        return;
      }
      finish(null, socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // A plain-HTTP listener answers a TLS hello with text: OpenSSL calls it a wrong version number.
      const plain = err.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(err.message);
      finish(plain ? new MamoriError(code, `${host}:${String(opts.port)}: the daemon does not speak TLS there (plain HTTP?): use http:// only on the loopback, or configure http.tls on the daemon`, { cause: err }) : err);
    });
    return undefined;
  };
}
