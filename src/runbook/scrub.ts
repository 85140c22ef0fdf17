/**
 * Keeping secrets out of captured output. Output arrives in chunks of arbitrary size, so
 * a secret may be split across two (or many) chunks: the streaming scrubber holds back
 * the last len(longest secret) - 1 characters of what it has seen until more arrives or
 * the stream ends, and only ever emits text in which no secret can still be completed.
 */

export const REDACTED = '[redacted]';

/** Replaces every occurrence of every secret, longest first (a secret containing another goes whole). */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of orderSecrets(secrets)) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

function orderSecrets(secrets: readonly string[]): string[] {
  return [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
}

export interface StreamScrubber {
  /** Feeds a chunk; returns the text that is now safe to keep (possibly empty). */
  write(chunk: string): string;
  /** The stream ended: returns what was held back, scrubbed. */
  end(): string;
}

export function createStreamScrubber(secrets: readonly string[]): StreamScrubber {
  const ordered = orderSecrets(secrets);
  const hold = ordered.length === 0 ? 0 : (ordered[0]?.length ?? 1) - 1;
  let pending = '';
  const replaceAll = (text: string): string => {
    let out = text;
    for (const secret of ordered) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  };
  return {
    write(chunk) {
      if (ordered.length === 0) return chunk;
      const buffered = pending + chunk;
      // Only what no secret can still complete is emitted: the last `hold` characters wait,
      // and so does any whole secret that straddles the cut (a shorter one inside it must
      // not be replaced first and break it).
      let cut = Math.max(0, buffered.length - hold);
      for (let moved = true; moved && cut > 0; ) {
        moved = false;
        for (const secret of ordered) {
          const from = Math.max(0, cut - secret.length + 1);
          const at = buffered.indexOf(secret, from);
          if (at >= 0 && at < cut && at + secret.length > cut) {
            cut = at;
            moved = true;
          }
        }
      }
      pending = buffered.slice(cut);
      return replaceAll(buffered.slice(0, cut));
    },
    end() {
      const out = replaceAll(pending);
      pending = '';
      return out;
    },
  };
}

/**
 * Keeps at most `limitBytes` of a step's output: the first half and the last half, with
 * the count of what was dropped in between. A flood is read and counted, never stored.
 */
export class BoundedOutput {
  private head = '';
  private headBytes = 0;
  private tail: string[] = [];
  private tailBytes = 0;
  private dropped = 0;
  private readonly half: number;

  constructor(readonly limitBytes = 64 * 1024) {
    this.half = Math.floor(limitBytes / 2);
  }

  append(text: string): void {
    if (text.length === 0) return;
    let rest = text;
    if (this.headBytes < this.half) {
      const room = this.half - this.headBytes;
      const take = takeBytes(rest, room);
      this.head += take;
      this.headBytes += Buffer.byteLength(take);
      rest = rest.slice(take.length);
      if (rest.length === 0) return;
    }
    this.tail.push(rest);
    this.tailBytes += Buffer.byteLength(rest);
    while (this.tailBytes > this.half && this.tail.length > 0) {
      const first = this.tail[0] ?? '';
      const firstBytes = Buffer.byteLength(first);
      if (this.tailBytes - firstBytes >= this.half) {
        this.tail.shift();
        this.tailBytes -= firstBytes;
        this.dropped += firstBytes;
      } else {
        const excess = this.tailBytes - this.half;
        const cut = takeBytes(first, excess);
        // Drop at least one character so the loop always advances.
        const dropChars = Math.max(cut.length, 1);
        const droppedText = first.slice(0, dropChars);
        this.tail[0] = first.slice(dropChars);
        const n = Buffer.byteLength(droppedText);
        this.tailBytes -= n;
        this.dropped += n;
      }
    }
  }

  /** Bytes read but not kept. */
  get droppedBytes(): number {
    return this.dropped;
  }

  get totalBytes(): number {
    return this.headBytes + this.tailBytes + this.dropped;
  }

  toString(): string {
    const tail = this.tail.join('');
    if (this.dropped === 0) return this.head + tail;
    return `${this.head}\n[... ${this.dropped} bytes of output dropped ...]\n${tail}`;
  }
}

/** The longest prefix of `text` that fits in `bytes` UTF-8 bytes (never half a character). */
function takeBytes(text: string, bytes: number): string {
  if (bytes <= 0) return '';
  if (text.length * 3 <= bytes || Buffer.byteLength(text) <= bytes) return text;
  const prefix = Buffer.from(text).subarray(0, bytes).toString('utf8');
  // A character cut in half decodes as U+FFFD at the end: leave it out.
  return prefix.endsWith('\uFFFD') ? prefix.slice(0, -1) : prefix;
}
