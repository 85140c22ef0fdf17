/**
 * The daemon's HTTPS certificate and key (config http.tls): read and checked at start — a missing
 * file, a key that is not the certificate's, or a key other users can read stops the start with an
 * error naming the config file and the field — and re-read while running (every minute and on
 * SIGHUP), so that a renewed certificate is served without a restart. A renewal that cannot be
 * used is logged once and the pair in use is kept: the agents' door never closes over it.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** The config file that names them (for messages); undefined for the embedded defaults. */
  configFile: string | undefined;
}

export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 of the certificate (AB:CD:…): what agents pin (--daemon-fingerprint). */
  fingerprint256: string;
  subject: string;
  /** Epoch ms. */
  notAfter: number;
  /** Of the two files' bytes: a change of either is a new pair. */
  digest: string;
}

/** The daemon's TLS settings for https.createServer and setSecureContext. */
export const SERVER_TLS_OPTIONS = { minVersion: 'TLSv1.2' } as const;

function invalid(files: TlsFiles, field: 'certFile' | 'keyFile', path: string, why: string, cause?: unknown): MamoriError {
  return new MamoriError('MAMORI_HTTP_TLS_INVALID', `${files.configFile ?? 'the configuration'}: http.tls.${field} ${path}: ${why}`, {
    ...(cause !== undefined ? { cause } : {}),
    details: { file: files.configFile, field: `http.tls.${field}`, path },
  });
}

async function readPem(files: TlsFiles, field: 'certFile' | 'keyFile'): Promise<Buffer> {
  const path = files[field];
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > 1024 * 1024) throw new Error('larger than 1 MiB: not a PEM certificate or key');
    if (field === 'keyFile' && (st.mode & 0o004) !== 0) throw new Error(`every user may read it (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 (or 640 for the daemon's group), and replace the key if others could read it`);
    return await readFile(path);
  } catch (err) {
    throw invalid(files, field, path, `cannot be used: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** Read and check the pair; throws MAMORI_HTTP_TLS_INVALID naming the config file and the field. */
export async function loadServerTls(files: TlsFiles): Promise<ServerTls> {
  const cert = await readPem(files, 'certFile');
  const key = await readPem(files, 'keyFile');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw invalid(files, 'certFile', files.certFile, 'not a PEM certificate', err);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    // The message never repeats the file's contents.
    throw invalid(files, 'keyFile', files.keyFile, `not an unencrypted PEM private key (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, err);
  }
  if (!x509.checkPrivateKey(privateKey)) throw invalid(files, 'keyFile', files.keyFile, `is not the key of http.tls.certFile ${files.certFile} (${x509.subject.replace(/\n/g, ', ')}, SHA-256 ${x509.fingerprint256})`);
  try {
    createSecureContext({ cert, key, ...SERVER_TLS_OPTIONS });
  } catch (err) {
    throw invalid(files, 'certFile', files.certFile, `cannot be served with its key: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  return {
    cert,
    key,
    fingerprint256: x509.fingerprint256,
    subject: x509.subject.replace(/\n/g, ', '),
    notAfter: Date.parse(x509.validTo),
    digest: createHash('sha256').update(cert).update('\0').update(key).digest('hex'),
  };
}

const DAY_MS = 86_400_000;

/** Logs the certificate served, and loudly when it has expired or will within two weeks (agents then refuse it). */
export function logServedCertificate(logger: Logger, tls: ServerTls, now: number, message: 'https certificate' | 'https certificate reloaded'): void {
  const fields = { subject: tls.subject, fingerprint256: tls.fingerprint256, notAfter: new Date(tls.notAfter).toISOString() };
  if (tls.notAfter <= now) logger.error(fields, 'https certificate expired: agents refuse it; renew it (it is re-read every minute)');
  else if (tls.notAfter - now < 14 * DAY_MS) logger.warn({ ...fields, daysLeft: Math.floor((tls.notAfter - now) / DAY_MS) }, 'https certificate expires soon: renew it (it is re-read every minute)');
  logger.info(fields, message);
}

export interface TlsReloaderOptions {
  files: TlsFiles;
  /** The pair in use. */
  current: ServerTls;
  /** Serve the new pair (HttpServer.setTls). */
  apply(tls: ServerTls): void;
  logger: Logger;
  intervalMs?: number;
  now?: () => number;
}

/** Re-reads the pair every `intervalMs` (and on `check()`, which SIGHUP calls). */
export class TlsReloader {
  private readonly o: TlsReloaderOptions;
  private current: ServerTls;
  private timer: NodeJS.Timeout | undefined;
  /** The digest of a renewal that failed (its error logged once), or the message of an unreadable file. */
  private failed: string | undefined;
  private running: Promise<'unchanged' | 'reloaded' | 'refused'> | undefined;

  constructor(options: TlsReloaderOptions) {
    this.o = options;
    this.current = options.current;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.o.intervalMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  served(): ServerTls {
    return this.current;
  }

  /** One look at the files; concurrent calls share it. */
  check(): Promise<'unchanged' | 'reloaded' | 'refused'> {
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  private async look(): Promise<'unchanged' | 'reloaded' | 'refused'> {
    const log = this.o.logger;
    let next: ServerTls;
    try {
      next = await loadServerTls(this.o.files);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // A pair caught mid-renewal (the key written, the certificate not yet) is retried next time; logged once per cause.
      if (this.failed !== message) log.error({ err: message, fingerprint256: this.current.fingerprint256 }, 'https certificate not reloaded; the one in use is kept');
      this.failed = message;
      return 'refused';
    }
    this.failed = undefined;
    if (next.digest === this.current.digest) return 'unchanged';
    this.o.apply(next);
    this.current = next;
    logServedCertificate(log, next, (this.o.now ?? Date.now)(), 'https certificate reloaded');
    return 'reloaded';
  }
}
