/** The monthly report as a standalone HTML document (to print or attach). Pure; every value escaped. */
import { html, raw, type SafeHtml } from '../http/page/html.ts';
import { exactDuration, methodText, percentText } from './durations.ts';
import { zoneLabel, zonedText } from './zoned-time.ts';
import type { MonthlyReport, ServiceAvailability } from './types.ts';

const CSS = `body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif;color:#1c2430;margin:32px auto;max-width:1080px;padding:0 24px;line-height:1.45;font-size:14px}
h1{font-size:24px;margin:0}h2{font-size:14px;text-transform:uppercase;letter-spacing:.06em;color:#6b7685;margin:28px 0 8px}
.muted{color:#6b7685}.stats{display:flex;gap:10px;flex-wrap:wrap;margin:16px 0}.stat{border:1px solid #e2e7ee;border-radius:10px;padding:8px 14px}
.stat b{display:block;font-size:20px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e2e7ee;vertical-align:top}
th{font-size:11px;text-transform:uppercase;color:#6b7685;letter-spacing:.05em}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{display:flex;height:10px;border-radius:5px;overflow:hidden;min-width:160px;background:#eceff3}.up{background:#1f9d55}.down{background:#d32f2f}.disp{background:#e0a100}.unk{background:repeating-linear-gradient(45deg,#c9d0da,#c9d0da 3px,#e3e7ed 3px,#e3e7ed 6px)}
.ok{color:#1f9d55}.bad{color:#d32f2f}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}`;

function bar(v: ServiceAvailability): SafeHtml {
  const whole = v.upMs + v.downMs + v.disputedMs + v.unknownMs || 1;
  const w = (ms: number): string => `${((ms / whole) * 100).toFixed(3)}%`;
  return html`<div class="bar" role="img" aria-label="up ${exactDuration(v.upMs)}, down ${exactDuration(v.downMs)}, disputed ${exactDuration(v.disputedMs)}, unknown ${exactDuration(v.unknownMs)}"><span class="up" style="width:${w(v.upMs)}"></span><span class="down" style="width:${w(v.downMs)}"></span><span class="disp" style="width:${w(v.disputedMs)}"></span><span class="unk" style="width:${w(v.unknownMs)}"></span></div>`;
}

export function formatReportHtml(r: MonthlyReport): string {
  const at = (iso: string): string => zonedText(iso, r.period.timeZone);
  const t = r.totals;
  const incidents = r.servers.flatMap((s) => s.incidents);
  const doc = html`<html lang="en"><head><meta charset="utf-8"><title>Monthly report ${r.customer} ${r.month}</title><style>${raw(CSS)}</style></head><body>
<h1>Monthly report — ${r.customer} — ${r.month}</h1>
<p class="muted">${at(r.period.start)} → ${at(r.period.end)}${r.period.partial ? ' (the month is not over)' : ''} · generated ${at(r.generatedAt)}</p>
<div class="stats"><div class="stat"><b>${t.servers}</b>servers</div><div class="stat"><b>${t.incidents}</b>incidents</div><div class="stat"><b>${t.recovered}</b>recovered</div>
<div class="stat"><b>${t.meanTimeToRecoveryMs !== null ? exactDuration(t.meanTimeToRecoveryMs) : '—'}</b>mean time to recovery</div><div class="stat"><b>${t.attempts}</b>runbook attempts</div><div class="stat"><b>${t.powerActions}</b>power actions</div></div>
<h2>Availability</h2>
<table><thead><tr><th>Server</th><th>Service</th><th>Availability</th><th></th><th>Up</th><th>Down</th><th>Disputed</th><th>Unknown</th><th>not monitored / daemon down / not probed</th></tr></thead><tbody>
${r.servers.map((s) =>
  s.services.map(
    (v) => html`<tr><td>${s.name}</td><td>${v.service}</td><td class="num ${v.availability !== null && v.availability < 1 ? 'bad' : 'ok'}">${percentText(v.availability)}</td><td>${bar(v)}</td>
<td class="num">${exactDuration(v.upMs)}</td><td class="num">${exactDuration(v.downMs)}</td><td class="num">${exactDuration(v.disputedMs)}</td><td class="num">${exactDuration(v.unknownMs)}</td>
<td class="num">${exactDuration(v.unknown.notMonitoredMs)} / ${exactDuration(v.unknown.daemonDownMs)} / ${exactDuration(v.unknown.notProbedMs)}</td></tr>`,
  ),
)}</tbody></table>
<h2>Incidents</h2>
${
  incidents.length === 0
    ? html`<p>No incidents.</p>`
    : html`<table><thead><tr><th>Server</th><th>Target</th><th>Opened</th><th>Closed</th><th>Time to recovery</th><th>Outcome</th><th>Actions</th></tr></thead><tbody>
${incidents.map(
  (i) => html`<tr><td>${i.server}</td><td>${i.target}</td><td>${at(i.openedAt)}</td><td>${i.closedAt !== undefined ? at(i.closedAt) : 'still open'}</td>
<td class="num">${i.timeToRecoveryMs !== undefined ? exactDuration(i.timeToRecoveryMs) : '—'}</td><td>${i.closeReason ?? 'open'}${i.escalations.map((e) => html`<br>escalated: ${e.reason}`)}</td>
<td>${i.attempts.map((a) => html`<div>#${a.attempt} ${a.runbook ? html`<code>${a.runbook}</code>` : ''} <b class="${a.verdict === 'Recovered' ? 'ok' : 'bad'}">${a.verdict ?? 'running'}</b>${a.powerActions > 0 ? ` · ${a.powerActions} power` : ''}</div>`)}</td></tr>`,
)}</tbody></table>
<h2>Time to recovery, phase by phase</h2>
<p class="muted">Seconds after the first failing probe.</p>
${incidents.map(
  (i) => html`<h3>${i.server} ${i.target} <code class="muted">${i.id}</code></h3><table><tbody>${i.phases.map((p) => html`<tr><td class="num">+${p.offsetS.toFixed(1)} s</td><td>${p.name}</td><td class="muted">${at(p.at)}</td></tr>`)}</tbody></table>`,
)}`
}
<h2>How this is counted</h2>
${methodText(zoneLabel(Date.parse(r.period.start), r.period.timeZone)).map((p) => html`<p class="muted">${p}</p>`)}
</body></html>`;
  return `<!doctype html>\n${doc.value}\n`;
}
