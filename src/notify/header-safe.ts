/**
 * Text that may reach a mail header. Server names, customers and addresses come from manifests
 * that a customer writes: validation upstream is not relied on here. A header value never
 * carries a line break or a control character (no header injection); non-ASCII text is left to
 * nodemailer, which encodes it (RFC 2047).
 */

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators some clients honour.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** One line of header-safe text: controls become a space, runs of space collapse, at most `max` characters. */
export function headerText(value: string, max = 120): string {
  const flat = value.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Body text from a manifest or a transcript: keeps newlines and tabs, drops other controls. */
export function bodyText(value: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return value.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, '');
}

const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A plain ASCII address (local@domain), at most 254 characters; no display name, no comments. */
export function isMailAddress(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 254 && ADDRESS.test(value) && !value.startsWith('.') && !value.includes('..');
}

const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function isDomain(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 253 && DOMAIN.test(value);
}

/** A notification id: printable ASCII without space or angle brackets, 1–128 characters. */
export function isNotificationId(value: unknown): value is string {
  return typeof value === 'string' && /^[\x21-\x3b\x3d\x3f-\x7e]{1,128}$/.test(value);
}
