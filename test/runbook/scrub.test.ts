import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedOutput, REDACTED, createStreamScrubber, scrubText } from '../../src/runbook/scrub.ts';

function streamed(secrets: string[], chunks: string[]): string {
  const s = createStreamScrubber(secrets);
  return chunks.map((c) => s.write(c)).join('') + s.end();
}

describe('scrubbing secrets from output', () => {
  it('replaces a secret split at every possible point of a chunk boundary', () => {
    const secret = 'pass-phrase-7Qx!';
    const text = `Enter pass phrase: ${secret}\nOK ${secret}`;
    for (let i = 0; i <= text.length; i += 1) {
      for (let j = i; j <= text.length; j += 1) {
        const out = streamed([secret], [text.slice(0, i), text.slice(i, j), text.slice(j)]);
        expect(out).not.toContain(secret);
        expect(out).toBe(`Enter pass phrase: ${REDACTED}\nOK ${REDACTED}`);
      }
    }
  });

  it('replaces a secret fed one character at a time', () => {
    const secret = 's3cr3t';
    expect(streamed([secret], [...`a${secret}b${secret}`])).toBe(`a${REDACTED}b${REDACTED}`);
  });

  // Secrets and text from an alphabet without the marker's letters, so that a marker next to
  // text can never spell a secret by accident.
  const char = fc.constantFrom(...'xyzXYZ0129 :!-\n'.split(''));
  const word = (max: number, min = 0): fc.Arbitrary<string> => fc.array(char, { minLength: min, maxLength: max }).map((a) => a.join(''));

  function chunked(text: string, cuts: number[]): string[] {
    const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
    const chunks: string[] = [];
    let last = 0;
    for (const p of points) {
      chunks.push(text.slice(last, p));
      last = p;
    }
    chunks.push(text.slice(last));
    return chunks;
  }

  it('for any text, secrets and chunking, no secret survives', () => {
    fc.assert(
      fc.property(
        fc.array(word(12, 1), { minLength: 1, maxLength: 3 }),
        fc.array(fc.oneof(word(20), fc.nat(2)), { maxLength: 10 }),
        fc.array(fc.nat(80), { maxLength: 8 }),
        (secrets, pieces, cuts) => {
          const text = pieces.map((p) => (typeof p === 'number' ? (secrets[p % secrets.length] ?? '') : p)).join('');
          const out = streamed(secrets, chunked(text, cuts));
          for (const s of secrets) expect(out.includes(s)).toBe(false);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('for one secret and any chunking, the result equals scrubbing the whole text', () => {
    fc.assert(
      fc.property(word(12, 1), fc.array(fc.oneof(word(20), fc.constant(0)), { maxLength: 10 }), fc.array(fc.nat(80), { maxLength: 8 }), (secret, pieces, cuts) => {
        const text = pieces.map((p) => (typeof p === 'number' ? secret : p)).join('');
        expect(streamed([secret], chunked(text, cuts))).toBe(scrubText(text, [secret]));
      }),
      { numRuns: 3000 },
    );
  });

  it('passes text through unchanged when there is no secret', () => {
    expect(streamed([], ['a', 'b'])).toBe('ab');
    expect(streamed([''], ['a', 'b'])).toBe('ab');
  });
});

describe('bounded output', () => {
  it('keeps the head and the tail of a flood and counts what it dropped', () => {
    const out = new BoundedOutput(1024);
    const line = 'y\n';
    for (let i = 0; i < 100_000; i += 1) out.append(line);
    expect(out.totalBytes).toBe(200_000);
    expect(out.droppedBytes).toBe(200_000 - 1024);
    const text = out.toString();
    expect(Buffer.byteLength(text)).toBeLessThan(1024 + 100);
    expect(text).toContain(`[... ${200_000 - 1024} bytes of output dropped ...]`);
  });

  it('never cuts a multi-byte character in half', () => {
    const out = new BoundedOutput(10);
    out.append('ああああああああ'); // 24 bytes
    const text = out.toString();
    expect(text).not.toContain('\uFFFD');
    expect(out.totalBytes).toBe(24);
  });

  it('keeps small output whole', () => {
    const out = new BoundedOutput();
    out.append('Starting httpd: [  OK  ]\n');
    expect(out.toString()).toBe('Starting httpd: [  OK  ]\n');
    expect(out.droppedBytes).toBe(0);
  });
});
