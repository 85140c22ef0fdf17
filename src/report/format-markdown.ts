/** The monthly report as Markdown (a pull request, a wiki, a terminal). Pure. */
import { exactDuration, methodText, percentText } from './durations.ts';
import { zoneLabel, zonedText } from './zoned-time.ts';
import type { MonthlyReport, ReportIncident } from './types.ts';

/** Text from manifests inside a table cell: no column breaks, no HTML. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/[\r\n]+/g, ' ');
}

function outcome(i: ReportIncident): string {
  if (i.closedAt === undefined) return 'still open';
  if (i.timeToRecoveryMs !== undefined) return i.closeReason === 'recovered-by-itself' ? 'recovered by itself' : 'recovered';
  return i.closeReason ?? 'closed';
}

export function formatReportMarkdown(r: MonthlyReport): string {
  const at = (iso: string): string => zonedText(iso, r.period.timeZone);
  const out: string[] = [];
  const t = r.totals;
  out.push(`# Monthly report — ${cell(r.customer)} — ${r.month}`, '');
  out.push(`Period: ${at(r.period.start)} → ${at(r.period.end)}${r.period.partial ? ' (the month is not over)' : ''}. Generated ${at(r.generatedAt)}.`, '');
  out.push(
    `**${t.servers} server${t.servers === 1 ? '' : 's'} · ${t.incidents} incident${t.incidents === 1 ? '' : 's'} (${t.recovered} recovered${t.meanTimeToRecoveryMs !== null ? `, mean time to recovery ${exactDuration(t.meanTimeToRecoveryMs)}` : ''}) · ${t.attempts} runbook attempt${t.attempts === 1 ? '' : 's'} · ${t.powerActions} power action${t.powerActions === 1 ? '' : 's'}**`,
    '',
  );
  out.push('## Availability', '');
  out.push('| Server | Service | Availability | Up | Down | Disputed | Unknown | not monitored / daemon down / not probed |', '|---|---|---:|---:|---:|---:|---:|---|');
  for (const s of r.servers) {
    for (const v of s.services) {
      out.push(
        `| ${cell(s.name)} | ${cell(v.service)} | ${percentText(v.availability)} | ${exactDuration(v.upMs)} | ${exactDuration(v.downMs)} | ${exactDuration(v.disputedMs)} | ${exactDuration(v.unknownMs)} | ${exactDuration(v.unknown.notMonitoredMs)} / ${exactDuration(v.unknown.daemonDownMs)} / ${exactDuration(v.unknown.notProbedMs)} |`,
      );
    }
  }
  out.push('');
  const monitored = r.servers.filter((s) => s.monitoredFrom !== undefined && (s.monitoredFrom !== r.period.start || s.monitoredUntil !== r.period.end));
  if (monitored.length > 0) {
    out.push(...monitored.map((s) => `- ${cell(s.name)} was in the manifests from ${at(s.monitoredFrom as string)} to ${at(s.monitoredUntil as string)} of this period.`), '');
  }
  out.push('## Incidents', '');
  const incidents = r.servers.flatMap((s) => s.incidents);
  if (incidents.length === 0) out.push('No incidents.', '');
  else {
    out.push('| Server | Target | Opened | Closed | Time to recovery | Outcome | Attempts |', '|---|---|---|---|---:|---|---|');
    for (const i of incidents) {
      const attempts = i.attempts.map((a) => `#${a.attempt} ${a.verdict ?? 'running'}${a.powerActions > 0 ? ` (${a.powerActions} power)` : ''}`).join(', ');
      out.push(
        `| ${cell(i.server)} | ${cell(i.target)} | ${at(i.openedAt)} | ${i.closedAt !== undefined ? at(i.closedAt) : '—'} | ${i.timeToRecoveryMs !== undefined ? exactDuration(i.timeToRecoveryMs) : '—'} | ${outcome(i)}${i.escalations.length > 0 ? `; escalated (${i.escalations.map((e) => cell(e.reason)).join(', ')})` : ''} | ${cell(attempts) || '—'} |`,
      );
    }
    out.push('');
    out.push('## Actions taken', '');
    for (const i of incidents) {
      for (const a of i.attempts) {
        const steps = a.steps.map((s) => `${s.id}${s.exitCode !== undefined ? ` (exit ${s.exitCode})` : ''}: ${s.outcome}`).join('; ');
        out.push(
          `- ${at(a.startedAt)} ${cell(i.server)} ${cell(i.target)}, attempt ${a.attempt}${a.runbook ? ` — runbook \`${cell(a.runbook)}\`` : ''}${a.destructive ? ' (power)' : ''}: **${cell(a.verdict ?? 'running')}**${a.powerActions > 0 ? `, ${a.powerActions} power action${a.powerActions === 1 ? '' : 's'}` : ''}${steps ? ` — ${cell(steps)}` : ''}`,
        );
      }
      for (const e of i.escalations) out.push(`- ${at(e.at)} ${cell(i.server)} ${cell(i.target)}: escalated to a person (${cell(e.reason)})`);
    }
    out.push('');
    out.push('## Time to recovery, phase by phase', '', 'Seconds after the first failing probe.', '');
    for (const i of incidents) out.push(`- ${cell(i.server)} ${cell(i.target)} (\`${cell(i.id)}\`): ${i.phases.map((p) => `+${p.offsetS.toFixed(1)} s ${cell(p.name)}`).join(' → ')}`);
    out.push('');
  }
  out.push('## How this is counted', '', ...methodText(zoneLabel(Date.parse(r.period.start), r.period.timeZone)).map((p) => `${p}\n`));
  return `${out.join('\n').trimEnd()}\n`;
}
