/**
 * Shell-style globs (`*`, `?`, `[a-z]`, `[!x]`, `\` escapes) matched by simulating every
 * position of the pattern at once: time is length of text × length of pattern, whatever
 * either holds. Used for the operator's program, argument and path patterns and for the
 * globs a customer writes in a command. `*` matches `/` too: these are names, not a walk.
 */

type Token = { kind: 'star' } | { kind: 'any' } | { kind: 'char'; c: string } | { kind: 'class'; negated: boolean; ranges: Array<[string, string]> };

export interface Glob {
  source: string;
  tokens: readonly Token[];
}

export function compileGlob(pattern: string): Glob {
  const tokens: Token[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\' && i + 1 < chars.length) {
      tokens.push({ kind: 'char', c: chars[++i] as string });
    } else if (c === '*') {
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (c === '?') {
      tokens.push({ kind: 'any' });
    } else if (c === '[') {
      const end = classEnd(chars, i);
      if (end < 0) {
        tokens.push({ kind: 'char', c });
        continue;
      }
      let j = i + 1;
      let negated = false;
      if (chars[j] === '!' || chars[j] === '^') {
        negated = true;
        j++;
      }
      const ranges: Array<[string, string]> = [];
      for (; j < end; j++) {
        let lo = chars[j] as string;
        if (lo === '\\' && j + 1 < end) lo = chars[++j] as string;
        if (chars[j + 1] === '-' && j + 2 < end) {
          ranges.push([lo, chars[j + 2] as string]);
          j += 2;
        } else ranges.push([lo, lo]);
      }
      tokens.push({ kind: 'class', negated, ranges });
      i = end;
    } else {
      tokens.push({ kind: 'char', c });
    }
  }
  return { source: pattern, tokens };
}

/** The index of the `]` closing a class opened at `open`, or -1 (then `[` is literal). */
function classEnd(chars: readonly string[], open: number): number {
  let j = open + 1;
  if (chars[j] === '!' || chars[j] === '^') j++;
  if (chars[j] === ']') j++;
  for (; j < chars.length; j++) {
    if (chars[j] === '\\') j++;
    else if (chars[j] === ']') return j;
  }
  return -1;
}

function accepts(t: Token, c: string): boolean {
  switch (t.kind) {
    case 'any':
      return true;
    case 'char':
      return t.c === c;
    case 'class': {
      const inside = t.ranges.some(([lo, hi]) => c >= lo && c <= hi);
      return inside !== t.negated;
    }
    default:
      return false;
  }
}

/** The states alive after reading `text` (index = tokens consumed). Two arrays, swapped per character. */
function run(glob: Glob, text: string): Uint8Array {
  const k = glob.tokens.length;
  let states = new Uint8Array(k + 1);
  let next = new Uint8Array(k + 1);
  const close = (s: Uint8Array): void => {
    for (let i = 0; i < k; i++) if (s[i] === 1 && glob.tokens[i]?.kind === 'star') s[i + 1] = 1;
  };
  states[0] = 1;
  close(states);
  for (const c of text) {
    next.fill(0);
    let alive = false;
    for (let i = 0; i < k; i++) {
      if (states[i] !== 1) continue;
      const t = glob.tokens[i] as Token;
      if (t.kind === 'star') {
        next[i] = 1;
        alive = true;
      } else if (accepts(t, c)) {
        next[i + 1] = 1;
        alive = true;
      }
    }
    close(next);
    [states, next] = [next, states];
    if (!alive) break;
  }
  return states;
}

export function globMatches(glob: Glob, text: string): boolean {
  return run(glob, text)[glob.tokens.length] === 1;
}

/** Whether some text that starts with `prefix` matches (for a word known only up to a variable). */
export function globMatchesSomePrefixed(glob: Glob, prefix: string): boolean {
  return run(glob, prefix).some((s) => s === 1);
}

/** The pattern's literal text before its first wildcard, unescaped. */
export function globLiteralPrefix(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) out += pattern[++i];
    else if (c === '*' || c === '?' || c === '[') return out;
    else out += c;
  }
  return out;
}

/** A literal text written as a glob that matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, '\\$&');
}

/** Characters worth trying where two tokens meet: every one either names, and a few neither does. */
function candidates(a: Token, b: Token): string[] {
  const out = ['a', '0', '\u0001', '\uE000'];
  for (const t of [a, b]) {
    if (t.kind === 'char') out.push(t.c);
    if (t.kind === 'class') for (const [lo, hi] of t.ranges) out.push(lo, hi);
  }
  return out;
}

/**
 * Whether some file name matches both a customer's glob (whose wildcards, as the shell
 * expands them, never match `/`) and an operator's glob. Breadth-first over pairs of
 * positions: at most length × length states.
 */
export function globsMeet(customer: Glob, operator: Glob): boolean {
  const a = customer.tokens;
  const b = operator.tokens;
  const seen = new Set<number>();
  const key = (i: number, j: number): number => i * (b.length + 1) + j;
  const queue: Array<[number, number]> = [[0, 0]];
  seen.add(key(0, 0));
  const push = (i: number, j: number): void => {
    const k = key(i, j);
    if (!seen.has(k)) {
      seen.add(k);
      queue.push([i, j]);
    }
  };
  const shellAccepts = (t: Token, c: string): boolean => c !== '/' && (t.kind === 'star' || accepts(t, c));
  const operatorAccepts = (t: Token, c: string): boolean => t.kind === 'star' || accepts(t, c);
  while (queue.length > 0) {
    const [i, j] = queue.shift() as [number, number];
    if (i === a.length && j === b.length) return true;
    const ta = a[i];
    const tb = b[j];
    if (ta?.kind === 'star') push(i + 1, j);
    if (tb?.kind === 'star') push(i, j + 1);
    if (ta === undefined || tb === undefined) continue;
    for (const c of candidates(ta, tb)) {
      if (shellAccepts(ta, c) && operatorAccepts(tb, c)) {
        push(ta.kind === 'star' ? i : i + 1, tb.kind === 'star' ? j : j + 1);
        if (ta.kind === 'star' && tb.kind !== 'star') push(i, j + 1);
      }
    }
  }
  return false;
}
