/**
 * The notifier's options: checked by a JSON Schema (additionalProperties: false), defaults
 * filled in, then frozen — fastify's way with its own options. The SMTP password arrives here
 * resolved (the secret store resolves config.mail.smtp.auth); these options are never logged.
 */
import { Ajv } from 'ajv';
import { MamoriError } from '../errors.ts';
import { isDomain, isMailAddress } from './header-safe.ts';
import { NOTIFICATION_KINDS, type Locale, type NotificationKind } from './types.ts';

/** The relay's connection, greeting and socket timeout, each, when the options do not say. */
export const SMTP_TIMEOUT_MS_DEFAULT = 30_000;

/** How long done records are kept, so that a re-told id is recognised (30 days). */
export const RETENTION_MS_DEFAULT = 30 * 24 * 3_600_000;

export interface SmtpOptions {
  host: string;
  /** 587 by default. */
  port?: number;
  /** TLS from the first byte (port 465). */
  secure?: boolean;
  /** Refuse to send unless the relay offers STARTTLS. */
  requireTLS?: boolean;
  auth?: { user: string; pass: string };
  /** PEM of a private CA for the relay's certificate. */
  ca?: string;
  /** Check the relay's certificate (true). */
  rejectUnauthorized?: boolean;
  /** Connection, greeting and socket timeout each (30 s). */
  timeoutMs?: number;
}

export interface NotifyOptions {
  /** The outbox folder (pending/, sent/, …), e.g. `<stateDir>/outbox`. */
  dir: string;
  from: string;
  fromName?: string;
  replyTo?: string;
  /** Right-hand side of Message-IDs; the domain of `from` by default. */
  messageIdDomain?: string;
  subjectPrefix?: string;
  timeZone?: string;
  providerName?: Partial<Record<Locale, string>>;
  /** Without it, messages are written as .eml files into `<dir>/sent/`. */
  smtp?: SmtpOptions;
  retry?: {
    /** First retry delay (5 s); doubles per attempt, with jitter. */
    baseDelayMs?: number;
    /** Longest delay between attempts (15 min). */
    maxDelayMs?: number;
    /** Give up (move to failed/) after this long (3 days). */
    maxAgeMs?: number;
  };
  rate?: {
    /** Messages per recipient and server per window before folding into a digest (4). */
    maxPerWindow?: number;
    /** The window (1 h); the digest goes out at its end. */
    windowMs?: number;
    /** Kinds never folded (could-not-recover: the customer must act on it now; provider-fault: the operator must). */
    urgentKinds?: NotificationKind[];
  };
  /** A new incident of the same server and service within this time joins the open thread (1 h). */
  threadJoinMs?: number;
  /** How long sent/, folded/ and failed/ records (and .eml files) are kept; a re-notified id is a no-op within it (30 days). */
  retentionMs?: number;
}

export interface ResolvedNotifyOptions {
  readonly dir: string;
  readonly from: string;
  readonly fromName: string;
  readonly replyTo: string | undefined;
  readonly messageIdDomain: string;
  readonly subjectPrefix: string;
  readonly timeZone: string;
  readonly providerName: Readonly<Partial<Record<Locale, string>>>;
  readonly smtp: Readonly<Required<Omit<SmtpOptions, 'auth' | 'ca'>> & Pick<SmtpOptions, 'auth' | 'ca'>> | undefined;
  readonly retry: Readonly<{ baseDelayMs: number; maxDelayMs: number; maxAgeMs: number }>;
  readonly rate: Readonly<{ maxPerWindow: number; windowMs: number; urgentKinds: readonly NotificationKind[] }>;
  readonly threadJoinMs: number;
  readonly retentionMs: number;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['dir', 'from'],
  properties: {
    dir: { type: 'string', minLength: 1 },
    from: { type: 'string', maxLength: 254 },
    fromName: { type: 'string', maxLength: 100, pattern: '^[^\\r\\n]*$' },
    replyTo: { type: 'string', maxLength: 254 },
    messageIdDomain: { type: 'string', maxLength: 253 },
    subjectPrefix: { type: 'string', maxLength: 40, pattern: '^[^\\r\\n]*$' },
    timeZone: { type: 'string', maxLength: 64 },
    providerName: {
      type: 'object',
      additionalProperties: false,
      properties: { ja: { type: 'string', maxLength: 100 }, en: { type: 'string', maxLength: 100 } },
    },
    smtp: {
      type: 'object',
      additionalProperties: false,
      required: ['host'],
      properties: {
        host: { type: 'string', minLength: 1, maxLength: 253 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        secure: { type: 'boolean' },
        requireTLS: { type: 'boolean' },
        auth: {
          type: 'object',
          additionalProperties: false,
          required: ['user', 'pass'],
          properties: { user: { type: 'string', minLength: 1 }, pass: { type: 'string' } },
        },
        ca: { type: 'string' },
        rejectUnauthorized: { type: 'boolean' },
        timeoutMs: { type: 'integer', minimum: 100 },
      },
    },
    retry: {
      type: 'object',
      additionalProperties: false,
      properties: {
        baseDelayMs: { type: 'integer', minimum: 1 },
        maxDelayMs: { type: 'integer', minimum: 1 },
        maxAgeMs: { type: 'integer', minimum: 1 },
      },
    },
    rate: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxPerWindow: { type: 'integer', minimum: 1 },
        windowMs: { type: 'integer', minimum: 1000 },
        urgentKinds: { type: 'array', items: { enum: [...NOTIFICATION_KINDS] } },
      },
    },
    threadJoinMs: { type: 'integer', minimum: 0 },
    retentionMs: { type: 'integer', minimum: 3_600_000 },
  },
} as const;

let compiled: ReturnType<Ajv['compile']> | undefined;

function validator(): ReturnType<Ajv['compile']> {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(schema);
  return compiled;
}

function invalid(message: string): never {
  throw new MamoriError('MAMORI_NOTIFY_OPTIONS_INVALID', `notifier options: ${message}`);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function resolveNotifyOptions(input: unknown): ResolvedNotifyOptions {
  const validate = validator();
  if (!validate(input)) {
    const first = validate.errors?.[0];
    invalid(`${first?.instancePath || '/'} ${first?.message ?? 'is not valid'}`);
  }
  const o = input as NotifyOptions;
  if (!isMailAddress(o.from)) invalid('/from is not a plain e-mail address');
  if (o.replyTo !== undefined && !isMailAddress(o.replyTo)) invalid('/replyTo is not a plain e-mail address');
  const messageIdDomain = o.messageIdDomain ?? o.from.slice(o.from.lastIndexOf('@') + 1);
  if (!isDomain(messageIdDomain)) invalid('/messageIdDomain is not a domain name');
  const timeZone = o.timeZone ?? 'Asia/Tokyo';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    invalid(`/timeZone ${JSON.stringify(timeZone)} is not a time zone`);
  }
  const retry = { baseDelayMs: 5_000, maxDelayMs: 15 * 60_000, maxAgeMs: 3 * 24 * 3_600_000, ...o.retry };
  if (retry.maxDelayMs < retry.baseDelayMs) invalid('/retry/maxDelayMs is shorter than baseDelayMs');
  const resolved: ResolvedNotifyOptions = {
    dir: o.dir,
    from: o.from,
    fromName: o.fromName ?? 'mamori',
    replyTo: o.replyTo,
    messageIdDomain,
    subjectPrefix: o.subjectPrefix ?? '[mamori]',
    timeZone,
    providerName: { ...o.providerName },
    smtp:
      o.smtp === undefined
        ? undefined
        : {
            host: o.smtp.host,
            port: o.smtp.port ?? 587,
            secure: o.smtp.secure ?? false,
            requireTLS: o.smtp.requireTLS ?? false,
            rejectUnauthorized: o.smtp.rejectUnauthorized ?? true,
            timeoutMs: o.smtp.timeoutMs ?? SMTP_TIMEOUT_MS_DEFAULT,
            auth: o.smtp.auth === undefined ? undefined : { ...o.smtp.auth },
            ca: o.smtp.ca,
          },
    retry,
    rate: {
      maxPerWindow: o.rate?.maxPerWindow ?? 4,
      windowMs: o.rate?.windowMs ?? 3_600_000,
      urgentKinds: [...(o.rate?.urgentKinds ?? ['could-not-recover', 'provider-fault', 'provider-working'])],
    },
    threadJoinMs: o.threadJoinMs ?? 3_600_000,
    retentionMs: o.retentionMs ?? RETENTION_MS_DEFAULT,
  };
  return deepFreeze(resolved);
}
