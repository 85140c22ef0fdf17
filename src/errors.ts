/**
 * The catalog of mamori's error codes, one line per code (as fastify's lib/errors.js).
 * `MAMORI_<AREA>_<DETAIL>`: the area says which part of mamori raised it, the message
 * is a sentence an operator or a customer can act on. test/errors.test.ts keeps this
 * catalog, the README's table and the codes used in src/ in step.
 *
 * A failed probe or a non-zero runbook step is a *result*, never one of these.
 */
export const ERROR_CATALOG = {
  MAMORI_CONFIG_INVALID: 'the daemon configuration is not valid',
  MAMORI_CONFIG_UNREADABLE: 'the daemon configuration file cannot be read',
  MAMORI_SECRET_MISSING: 'a secretRef does not resolve to a secret',
  MAMORI_SECRET_UNSAFE: 'the secrets folder is readable by other users',
  MAMORI_STATE_LOCKED: 'another mamori holds the lock on this state folder',
  MAMORI_STATE_UNWRITABLE: 'the state folder cannot be written (full disk, I/O error); probing goes on, no runbook starts until it can',
  MAMORI_STATE_FORMAT_NEWER: 'the state folder was written by a newer mamori, in a format this one cannot read',
  MAMORI_STATE_FORMAT_UNREADABLE: "the state folder's format file cannot be read",
  MAMORI_STATE_MIGRATION_FAILED: 'the state folder could not be migrated to the current format (a copy made before is kept)',
  MAMORI_CLI_USAGE: 'the command line is not valid',
  MAMORI_RUNBOOK_UNRENDERABLE: 'a runbook cannot be rendered for this server and service',
  MAMORI_RUNBOOK_HOST_KEY_MISMATCH: 'the server presented a host key other than the pinned one (possible man-in-the-middle); nothing was run',
  MAMORI_RUNBOOK_LOGIN_REFUSED: 'the server refused the management login',
  MAMORI_RUNBOOK_SSH_UNAVAILABLE: 'no SSH session could be opened to the server',
  MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE: 'the console or power channel of the server cannot be used',
  MAMORI_TARGET_REFUSED: "the address is outside the operator's target networks (or not a plain IP address); mamori connects nowhere else",
  MAMORI_PLAN_SOURCE: 'a revision to plan cannot be read',
  MAMORI_SOURCE_WRITEBACK_FAILED: 'the status files could not be pushed to the status branch',
  MAMORI_SIGNING_KEYS: 'the signers\' keys in the configuration could not be read',
  MAMORI_DAEMON_NOT_HELD: 'that revision is not waiting for confirmation',
  MAMORI_HTTP_LISTEN_UNSAFE: 'listening beyond the loopback requires a token (http.token or http.tokens)',
  MAMORI_HTTP_UNREACHABLE: 'no mamori daemon answers on the local API address',
  MAMORI_HTTP_TLS_INVALID: "the daemon's HTTPS certificate or key (http.tls) cannot be read or do not make a usable pair",
  MAMORI_AGENT_REPORT_REFUSED: "a vantage-point agent's report was refused (bad signature, clock skew, wrong vantage or shape); it is no vote",
  MAMORI_AGENT_UNREACHABLE: 'the vantage-point agent cannot reach the daemon, or the daemon refused it',
  MAMORI_AGENT_TLS_REFUSED: "the daemon's certificate is not one the agent trusts (--ca-file, --daemon-fingerprint), or the daemon speaks no TLS; nothing was sent",
  MAMORI_NOTIFY_INVALID: 'a notification is not valid (a bad address, id or field)',
  MAMORI_NOTIFY_OPTIONS_INVALID: 'the notifier options are not valid',
  MAMORI_CLUSTER_UNAVAILABLE: 'etcd cannot be reached; probing, status and alerts go on, no remediation starts until it can',
  MAMORI_CLUSTER_PEER_UNREACHABLE: 'another replica did not answer a forwarded request (or this replica has no operator token to forward it with)',
  MAMORI_CLUSTER_NOT_OWNER: 'a forwarded request reached a replica that does not own the server (membership is changing); ask again',
  MAMORI_NOTIFY_OUTBOX_CORRUPT: 'an outbox file cannot be read; it was set aside',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface MamoriErrorOptions {
  cause?: unknown;
  /** Structured context for logs and JSON output; never put a secret here. */
  details?: Record<string, unknown>;
}

export class MamoriError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, options: MamoriErrorOptions = {}) {
    super(message ?? ERROR_CATALOG[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MamoriError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isMamoriError(value: unknown, code?: ErrorCode): value is MamoriError {
  return value instanceof MamoriError && (code === undefined || value.code === code);
}
