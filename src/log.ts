import { pino, stdTimeFunctions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Fixed redaction paths (pino's way: by path, never by scanning values). Secrets are
 * kept out of log calls by construction; these paths are the belt to that braces.
 */
export const REDACT_PATHS = [
  'password',
  'passphrase',
  'secret',
  'token',
  'privateKey',
  '*.password',
  '*.passphrase',
  '*.secret',
  '*.token',
  '*.privateKey',
  'headers.authorization',
  'req.headers.authorization',
];

export interface LogOptions {
  level?: string;
  /** Human-readable lines for a terminal (pino-pretty); JSON otherwise. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const base: LoggerOptions = {
    // An empty MAMORI_LOG_LEVEL (as tests set it to clear the caller's) means the default, not a level named ''.
    level: options.level ?? (process.env.MAMORI_LOG_LEVEL || 'info'),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { name: 'mamori' },
    // ISO 8601 in UTC ("time":"2026-12-06T10:00:00.000Z"), as the journal and every other log shows time.
    timestamp: stdTimeFunctions.isoTime,
  };
  if (options.pretty) {
    // Colour only for a terminal that wants it (NO_COLOR: https://no-color.org).
    const colorize = process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === '';
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return options.destination ? pino(base, options.destination as DestinationStream) : pino(base);
}

/** A logger that drops everything: for tests and pure helpers that take a logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
