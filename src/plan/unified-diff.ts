/**
 * A unified diff of two short line lists (rendered runbooks: a few dozen lines), by
 * longest common subsequence. Hunks carry `context` lines around each change.
 */
type Op = { kind: ' ' | '-' | '+'; line: string; a: number; b: number };

function operations(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as number[];
    const next = lcs[i + 1] as number[];
    for (let j = m - 1; j >= 0; j--) row[j] = a[i] === b[j] ? (next[j + 1] as number) + 1 : Math.max(next[j] as number, row[j + 1] as number);
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i] as string, a: i++, b: j++ });
    } else if (i < n && (j >= m || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
      // Removals before additions, as diff(1) prints them.
      ops.push({ kind: '-', line: a[i] as string, a: i++, b: j });
    } else {
      ops.push({ kind: '+', line: b[j] as string, a: i, b: j++ });
    }
  }
  return ops;
}

/** The diff's lines without the ---/+++ header; empty when the lists are equal. */
export function unifiedDiff(a: readonly string[], b: readonly string[], context = 3): string[] {
  const ops = operations(a, b);
  const changed = ops.map((op, k) => (op.kind === ' ' ? -1 : k)).filter((k) => k >= 0);
  if (changed.length === 0) return [];
  const out: string[] = [];
  let start = 0;
  while (start < changed.length) {
    let end = start;
    while (end + 1 < changed.length && (changed[end + 1] as number) - (changed[end] as number) <= 2 * context) end++;
    const from = Math.max(0, (changed[start] as number) - context);
    const to = Math.min(ops.length - 1, (changed[end] as number) + context);
    const hunk = ops.slice(from, to + 1);
    const first = hunk[0] as Op;
    const aLen = hunk.filter((op) => op.kind !== '+').length;
    const bLen = hunk.filter((op) => op.kind !== '-').length;
    out.push(`@@ -${aLen === 0 ? first.a : first.a + 1},${aLen} +${bLen === 0 ? first.b : first.b + 1},${bLen} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
    start = end + 1;
  }
  return out;
}
