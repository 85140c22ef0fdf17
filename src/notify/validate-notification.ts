/**
 * The checks that protect the mail headers and the outbox from a notification's contents. The
 * notification is typed, but its strings come from manifests and transcripts: an address with a
 * line break or an id that is not a safe file name is refused here, with the field named.
 */
import { MamoriError } from '../errors.ts';
import { isMailAddress, isNotificationId } from './header-safe.ts';
import { LOCALES, NOTIFICATION_KINDS, type Notification } from './types.ts';

function fail(id: unknown, field: string, problem: string): never {
  const label = typeof id === 'string' && isNotificationId(id) ? id : '(no valid id)';
  throw new MamoriError('MAMORI_NOTIFY_INVALID', `notification ${label}: ${field} ${problem}`, { details: { field } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isIso(value: unknown): boolean {
  return typeof value === 'string' && value.length <= 40 && !Number.isNaN(Date.parse(value));
}

/** Throws MAMORI_NOTIFY_INVALID naming the field; returns the value, narrowed. */
export function validateNotification(value: unknown): Notification {
  if (!isRecord(value)) fail(undefined, 'notification', 'is not an object');
  const id = value.id;
  if (!isNotificationId(id)) fail(id, 'id', 'must be 1–128 printable ASCII characters without space or <>');
  if (typeof value.kind !== 'string' || !(NOTIFICATION_KINDS as readonly string[]).includes(value.kind)) {
    fail(id, 'kind', `must be one of ${NOTIFICATION_KINDS.join(', ')}`);
  }
  const to = value.to;
  if (!isRecord(to)) fail(id, 'to', 'is missing');
  if (!isMailAddress(to.email)) fail(id, 'to.email', 'is not a plain e-mail address (local@domain, ASCII)');
  if (to.locale !== undefined && !(LOCALES as readonly unknown[]).includes(to.locale)) fail(id, 'to.locale', 'must be ja or en');
  if (to.name !== undefined && (typeof to.name !== 'string' || to.name.length > 100)) fail(id, 'to.name', 'must be a string of at most 100 characters');
  if (to.organization !== undefined && (typeof to.organization !== 'string' || to.organization.length > 100)) fail(id, 'to.organization', 'must be a string of at most 100 characters');
  if (to.cc !== undefined) {
    if (!Array.isArray(to.cc) || to.cc.length > 10) fail(id, 'to.cc', 'must be a list of at most 10 addresses');
    to.cc.forEach((cc, i) => {
      if (!isMailAddress(cc)) fail(id, `to.cc[${i}]`, 'is not a plain e-mail address');
    });
  }
  if (value.server !== undefined) {
    const s = value.server;
    if (!isRecord(s)) fail(id, 'server', 'is not an object');
    for (const key of ['name', 'customer', 'address'] as const) {
      if (typeof s[key] !== 'string' || s[key].length === 0 || s[key].length > 253) fail(id, `server.${key}`, 'must be a string of 1–253 characters');
    }
  }
  if (value.service !== undefined && (typeof value.service !== 'string' || !/^[a-z0-9]{1,16}$/.test(value.service))) {
    fail(id, 'service', 'must be a service name');
  }
  if (value.incident !== undefined) {
    const inc = value.incident;
    if (!isRecord(inc)) fail(id, 'incident', 'is not an object');
    if (!isNotificationId(inc.id)) fail(id, 'incident.id', 'must be 1–128 printable ASCII characters without space or <>');
    if (!isIso(inc.openedAt)) fail(id, 'incident.openedAt', 'is not an ISO 8601 time');
    if (inc.closedAt !== undefined && !isIso(inc.closedAt)) fail(id, 'incident.closedAt', 'is not an ISO 8601 time');
  }
  if (!isIso(value.occurredAt)) fail(id, 'occurredAt', 'is not an ISO 8601 time');
  if (!isRecord(value.facts)) fail(id, 'facts', 'is not an object');
  return value as unknown as Notification;
}
