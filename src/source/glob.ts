/**
 * Path globs for signer rules (`customers/acme/**`, `operator/*.yaml`): `**` is any number of
 * whole segments (none included), `*` any run of characters inside one segment, `?` one character.
 * Nothing else is special. The paths matched are customer text, so no regular expression is built:
 * two-level wildcard matching with one backtrack point per level, O(pattern × path) at worst.
 */

function segments(text: string): string[] {
  return text.split('/').filter((s) => s !== '');
}

/** `*` and `?` inside one segment (the classic greedy match, one remembered star). */
function matchSegment(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c === '*') {
      star = p++;
      resume = t;
    } else if (c !== undefined && (c === '?' || c === text[t])) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Whether `path` (forward slashes, relative to the manifests root) matches `glob`. */
export function globMatch(glob: string, path: string): boolean {
  const ps = segments(glob);
  const ts = segments(path);
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < ts.length) {
    const seg = ps[p];
    if (seg === '**') {
      star = p++;
      resume = t;
    } else if (seg !== undefined && matchSegment(seg, ts[t] ?? '')) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (ps[p] === '**') p++;
  return p === ps.length;
}
