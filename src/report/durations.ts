/** Exact durations for the report: the figures are to the second, so is their text. Pure. */
export function exactDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d}d ${h}h ${m}m ${s}s`;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Floored, never rounded up: 99.9996 % is not 100 %. */
export function percentText(a: number | null): string {
  if (a === null) return '—';
  return `${(Math.floor(a * 100_000) / 1000).toFixed(3)} %`;
}

export function utc(iso: string): string {
  return `${iso.slice(0, 19).replace('T', ' ')} UTC`;
}

/** How each report is counted; `zone` names the zone its months start in (JST, UTC). */
export function methodText(zone: string): string[] {
  return METHOD_TEXT.map((p) => p.replace('00:00 UTC', `00:00 ${zone}`));
}

export const METHOD_TEXT = [
  'Up: the service was Healthy or Recovered. Down: Suspect, Down, Remediating or Escalated (at least the last probe failed).',
  'Disputed: mamori\'s vantage points disagreed — the service failed from one management network and answered from another (usually a firewall that allows only one of them). It is counted neither as up nor as down.',
  'Unknown is never counted as up. It has three sources: not monitored (the server or service was not in the applied manifests — before it was added, after it was removed); daemon down (mamori was stopped — from its stop record to its next start — or wrote nothing to its journal for longer than two heartbeats, in which case the whole silence counts); not probed (watched, but no trusted probe result yet).',
  'Availability = up / (up + down): the share of the time mamori could see the service in which it answered. Time to recovery runs from the incident being opened to the service answering again. The month runs from 00:00 UTC on its first day.',
];
