/**
 * Dotted versions compared number by number: "10.0" is later than "6.3", "5.10"
 * later than "5.9". Missing parts count as 0, so "5" equals "5.0".
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => Number.parseInt(p, 10));
  const pb = b.split('.').map((p) => Number.parseInt(p, 10));
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** true when `version` lies in [min, below); either bound may be absent. */
export function versionInRange(version: string, min: string | undefined, below: string | undefined): boolean {
  if (min !== undefined && compareVersions(version, min) < 0) return false;
  if (below !== undefined && compareVersions(version, below) >= 0) return false;
  return true;
}
