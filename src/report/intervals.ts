/** Half-open time intervals [start, end) in epoch ms, kept sorted and disjoint. Pure. */
export type Interval = readonly [number, number];

/** Sorts and merges touching or overlapping intervals; drops empty ones. */
export function normalize(list: readonly Interval[]): Interval[] {
  const sorted = list.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function intersect(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Interval;
    const y = b[j] as Interval;
    const start = Math.max(x[0], y[0]);
    const end = Math.min(x[1], y[1]);
    if (end > start) out.push([start, end]);
    if (x[1] < y[1]) i++;
    else j++;
  }
  return out;
}

export function total(list: readonly Interval[]): number {
  return list.reduce((sum, [a, b]) => sum + (b - a), 0);
}

/** The parts of `a` not in `b` (both sorted and disjoint). */
export function subtract(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (const [a0, a1] of a) {
    let start = a0;
    while (j < b.length && (b[j] as Interval)[1] <= start) j++;
    let k = j;
    while (k < b.length && (b[k] as Interval)[0] < a1) {
      const [b0, b1] = b[k] as Interval;
      if (b0 > start) out.push([start, b0]);
      start = Math.max(start, b1);
      if (start >= a1) break;
      k++;
    }
    if (start < a1) out.push([start, a1]);
  }
  return out;
}
