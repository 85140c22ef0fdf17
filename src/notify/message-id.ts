/**
 * Message-IDs derived from notification ids, so that a re-sent message (the outbox's crash window)
 * carries the same Message-ID and a duplicate is recognisable — many stores drop it outright.
 */

/** Characters outside [A-Za-z0-9_-] become `=XX` (so the mapping is one-to-one and stays a dot-atom). */
export function encodeIdPart(id: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(id)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(ch) ? ch : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function messageIdFor(notificationId: string, domain: string): string {
  return `<${encodeIdPart(notificationId)}@${domain}>`;
}
