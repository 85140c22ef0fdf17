/**
 * Webhook signatures as the Standard Webhooks specification has them (standardwebhooks.com), so
 * that a receiver can verify with one of its libraries or with the few lines in the README:
 *
 *   webhook-id:        the event's id (the idempotency key; the same on every retry)
 *   webhook-timestamp: seconds since the epoch when this attempt was signed
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, `${id}.${timestamp}.${body}`)>
 *
 * The key is the secret's bytes; a secret written `whsec_<base64>` (the specification's form) is
 * the base64-decoded bytes after the prefix. Each attempt is signed anew (a fresh timestamp), so a
 * receiver may refuse old timestamps against replay and still accept a retry.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const;

export function signingKey(secret: string): Buffer {
  const trimmed = secret.trim();
  if (trimmed.startsWith('whsec_')) return Buffer.from(trimmed.slice('whsec_'.length), 'base64');
  return Buffer.from(trimmed, 'utf8');
}

export function signature(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

export function signedHeaders(key: Buffer, id: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    [SIGNATURE_HEADERS.id]: id,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.signature]: signature(key, id, timestamp, body),
  };
}

/**
 * A receiver's check (used by mamori's own tests, and a reference for the README's recipe): the
 * signature matches one of the header's space-separated `v1,` entries and the timestamp lies within
 * `toleranceSeconds` of now.
 */
export function verifySignature(
  key: Buffer,
  headers: { id: string | undefined; timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowMs: number,
  toleranceSeconds = 300,
): boolean {
  if (headers.id === undefined || headers.timestamp === undefined || headers.signature === undefined) return false;
  if (!/^[0-9]{1,12}$/.test(headers.timestamp)) return false;
  const ts = Number(headers.timestamp);
  if (Math.abs(nowMs / 1000 - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(signature(key, headers.id, ts, body));
  return headers.signature.split(' ').some((candidate) => {
    const got = Buffer.from(candidate);
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
