/**
 * A small inline SVG of recent probe latencies: a line over the successful probes, a red tick
 * where a probe failed. Pure; numbers only reach the markup (no text from outside).
 */
import { html, type SafeHtml } from './html.ts';
import type { LatencyPoint } from './live-state.ts';

export function sparkline(points: readonly LatencyPoint[], options: { width?: number; height?: number; label: string }): SafeHtml {
  const width = options.width ?? 96;
  const height = options.height ?? 22;
  if (points.length === 0) return html`<svg class="spark" width="${width}" height="${height}" role="img" aria-label="${options.label}: no probes yet"></svg>`;
  const values = points.flatMap((p) => (p.ms === null ? [] : [p.ms]));
  const max = Math.max(1, ...values);
  const step = points.length > 1 ? (width - 2) / (points.length - 1) : 0;
  const x = (i: number): number => Math.round((1 + i * step) * 10) / 10;
  const y = (ms: number): number => Math.round((height - 2 - (ms / max) * (height - 4)) * 10) / 10;
  const paths: string[] = [];
  let current = '';
  points.forEach((p, i) => {
    if (p.ms === null) {
      if (current) paths.push(current);
      current = '';
      return;
    }
    current += `${current ? 'L' : 'M'}${x(i)} ${y(p.ms)}`;
  });
  if (current) paths.push(current);
  const fails = points.flatMap((p, i) => (p.ms === null ? [x(i)] : []));
  const last = points[points.length - 1];
  const lastText = last?.ms === null ? 'last probe failed' : `last ${Math.round(last?.ms ?? 0)} ms`;
  return html`<svg class="spark" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${options.label}: ${lastText}, max ${Math.round(max)} ms over ${points.length} probes">${paths.map(
    // The stroke is the page's CSS (.spark path): 600 cells of a fleet page repeated it 120 KB over.
    (d) => html`<path d="${d}"/>`,
  )}${fails.map((fx) => html`<line x1="${fx}" x2="${fx}" y1="2" y2="${height - 2}" class="fail"/>`)}</svg>`;
}
