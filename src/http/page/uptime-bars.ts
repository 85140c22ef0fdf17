/**
 * A service's uptime as two bars, as Gatus and Uptime Kuma show it: the last 24 hours by the hour
 * and the last 30 days by the day, from the journal (src/report/uptime.ts). Each segment is green
 * (up all the time it was seen), amber (down for part of it), red (down for most of it) or grey
 * (nothing seen: not watched, daemon down, not probed — never counted as up), and says its figures
 * in its title. Pure; numbers and our own words only.
 */
import type { UptimeBucket, UptimeHistory } from '../../report/uptime.ts';
import { zonedText } from '../../report/zoned-time.ts';
import { html, type SafeHtml } from './html.ts';
import type { PageText } from './messages.ts';

function percent(a: number | null): string {
  return a === null ? '—' : `${(Math.floor(a * 100_000) / 1000).toFixed(a === 1 ? 0 : 2)} %`;
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function classOf(b: UptimeBucket): string {
  const seen = b.upMs + b.downMs;
  if (seen === 0) return 'u-none';
  if (b.downMs === 0) return 'u-up';
  return b.downMs / seen < 0.5 ? 'u-part' : 'u-down';
}

function bar(buckets: readonly UptimeBucket[], label: string, total: number | null, t: PageText, zone: string, kind: 'h' | 'd'): SafeHtml {
  const n = buckets.length;
  const w = 4;
  const gap = 1;
  const width = n * (w + gap) - gap;
  return html`<div class="uptime" data-uptime="${kind === 'h' ? '24h' : '30d'}"><span class="uptime-label">${label}</span><svg class="ubar" viewBox="0 0 ${width} 12" preserveAspectRatio="none" role="img" aria-label="${label}: ${percent(total)}">${buckets.map((b, i) => {
    const when = zonedText(new Date(b.start).toISOString(), zone).slice(0, kind === 'h' ? 16 : 10);
    return html`<rect x="${i * (w + gap)}" width="${w}" height="12" rx="1" class="${classOf(b)}"><title>${when} — ${t.uptimeBucket(minutes(b.upMs), minutes(b.downMs), minutes(b.unknownMs))}</title></rect>`;
  })}</svg><span class="uptime-pct">${percent(total)}</span></div>`;
}

export function uptimeBars(history: UptimeHistory | undefined, t: PageText, zone: string): SafeHtml {
  if (history === undefined) return html`<div class="uptime-none muted">${t.uptimeNone}</div>`;
  return html`<div class="uptimes">${bar(history.hours, t.uptime24h, history.availability24h, t, zone, 'h')}${bar(history.days, t.uptime30d, history.availability30d, t, zone, 'd')}</div>`;
}
