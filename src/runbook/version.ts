/**
 * Dotted versions compared number by number ("10.0" is later than "6.3"; "5" equals
 * "5.0"). Pure: used by runbook selection and by anything that matches catalog ranges.
 */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i += 1) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  return 0;
}

/** Whether `version` lies in [min, below): an absent bound is open. */
export function versionInRange(version: string, min: string | undefined, below: string | undefined): boolean {
  if (min !== undefined && compareVersions(version, min) < 0) return false;
  if (below !== undefined && compareVersions(version, below) >= 0) return false;
  return true;
}
