/**
 * The last defence against a secret reaching an e-mail or the outbox: the renderer is given no
 * secrets, and the executor masks transcripts, but a careless fact (a prompt echoed into output, a
 * password in a URL) would still leak. The caller passes a scrubber built from the secrets it
 * knows; it runs over every string of a notification before it is written to disk, and again over
 * the rendered message.
 */

export type Scrubber = (text: string) => string;

export const SCRUBBED = '[redacted]';

/** Replaces every occurrence of each secret (longest first, so a secret containing another goes whole). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  const ordered = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  for (const secret of ordered) {
    if (out.includes(secret)) out = out.split(secret).join(SCRUBBED);
  }
  return out;
}

/** A Scrubber over secrets read at call time (the secret store may change while the daemon runs). */
export function makeScrubber(secrets: () => readonly string[]): Scrubber {
  return (text) => scrubSecrets(text, secrets());
}

/** A copy of plain data (JSON-like) with every string passed through `scrub`. */
export function scrubDeep<T>(value: T, scrub: Scrubber): T {
  return walk(value, scrub) as T;
}

function walk(value: unknown, scrub: Scrubber): unknown {
  if (typeof value === 'string') return scrub(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, scrub));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, scrub);
    return out;
  }
  return value;
}
