/**
 * A plan for people: plain text for a terminal, Markdown for a pull-request comment.
 * JSON output is the Plan itself.
 */
import type { Finding } from '../manifest/types.ts';
import type { EffectiveGroup, FieldChange, Plan, ServerSummary } from './compute.ts';

type Need = NonNullable<Plan['signers']>[number];
const needText = (n: Need): string =>
  n.glob === undefined ? 'nobody: no path rule matches this file' : n.signers.length === 0 ? `nobody: the rule ${n.glob} names no known signer` : `one of ${n.signers.join(', ')} (${n.glob})`;

export type PlanFormat = 'text' | 'markdown' | 'json';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const who = (s: { name: string; customer?: string }): string => (s.customer === undefined ? s.name : `${s.name} (${s.customer})`);
const describe = (s: ServerSummary): string => `${who(s)}: ${s.os}, plan ${s.plan}, ${s.address}, services ${s.services.join(', ')}`;
const change = (c: FieldChange): string =>
  c.from === undefined ? `${c.field}: set to ${c.to ?? ''}` : c.to === undefined ? `${c.field}: removed (was ${c.from})` : `${c.field}: ${c.from} → ${c.to}`;
const reach = (list: ReadonlyArray<{ server: string; service: string }>): string => list.map((t) => `${t.server} ${t.service}`).join(', ');
const targets = (g: EffectiveGroup): string => reach(g.targets);
const groupTitle = (g: EffectiveGroup): string =>
  g.before === undefined ? `new: ${g.after ?? ''}` : g.after === undefined ? `gone: ${g.before}` : g.before === g.after ? g.after : `${g.before} → ${g.after}`;
const finding = (f: Finding): string => `${f.file}:${f.line}:${f.col}: ${f.severity}: ${f.field === '' ? '' : `${f.field}: `}${f.message} [${f.rule}]`;

function counts(plan: Plan): string {
  const s = plan.servers;
  return [
    plural(s.added.length, 'server') + ' added',
    `${s.removed.length} removed`,
    `${s.changed.length} changed`,
    ...(s.invalid.length > 0 ? [`${s.invalid.length} invalid`] : []),
    `${plural(plan.effective.changed.length, 'effective runbook')} changed (${plan.effective.unchanged} unchanged)`,
  ].join(', ');
}

export function formatPlanText(plan: Plan): string {
  const out: string[] = [`mamori plan ${plan.from} → ${plan.to}`, counts(plan), ''];
  const s = plan.servers;
  if (s.added.length + s.removed.length + s.changed.length + s.invalid.length > 0) {
    out.push('Servers:');
    for (const a of s.added) out.push(`  + ${describe(a)}`);
    for (const r of s.removed) out.push(`  - ${describe(r)}`);
    for (const i of s.invalid) out.push(`  ! ${who(i)}: invalid in ${plan.to} (see findings); kept out of the plan, not removed`);
    for (const c of s.changed) {
      out.push(`  ~ ${who(c)}`);
      for (const f of c.changes) out.push(`      ${change(f)}`);
    }
    out.push('');
  }
  if (plan.runbooks.length > 0) {
    out.push('Runbook documents:');
    for (const r of plan.runbooks) {
      out.push(`  ${r.change === 'added' ? '+' : r.change === 'removed' ? '-' : '~'} ${r.name} (${r.owner}) ${r.file}`);
      out.push(`      reaches ${plural(r.reaches.length, 'server service')}${r.reaches.length === 0 ? '' : `: ${reach(r.reaches)}`}`);
    }
    out.push('');
  }
  if (plan.effective.groups.length > 0) {
    out.push('Effective runbooks (what will run, per server and service):');
    for (const g of plan.effective.groups) {
      out.push(`  ${groupTitle(g)}`, `  on ${plural(g.targets.length, 'server service')}: ${targets(g)}`);
      for (const line of g.diff) out.push(`    ${line}`);
      out.push('');
    }
  }
  if (plan.signers && plan.signers.length > 0) {
    out.push('Signers needed (every commit that changes a file must be signed by one of them):');
    for (const n of plan.signers) out.push(`  ${n.file}: ${needText(n)}`);
    out.push('');
  }
  for (const [side, list] of [[plan.from, plan.findings.from], [plan.to, plan.findings.to]] as const) {
    if (list.length === 0) continue;
    out.push(`Findings in ${side}:`);
    for (const f of list) out.push(`  ${finding(f)}`);
    out.push('');
  }
  if (out[out.length - 1] !== '') out.push('');
  return out.join('\n');
}

const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

// A pull-request comment is limited in size (GitHub: 65,536 characters): long lists are
// cut with a count, and the JSON format keeps everything.
export const MARKDOWN_LIMITS = { targets: 40, groups: 60, rows: 200 } as const;
const cut = <T>(list: readonly T[], max: number): { shown: readonly T[]; more: number } => ({ shown: list.slice(0, max), more: Math.max(0, list.length - max) });
const moreText = (more: number, what: string): string => (more === 0 ? '' : ` … and ${more} more ${what}`);
const reachMd = (list: ReadonlyArray<{ server: string; service: string }>): string => {
  const { shown, more } = cut(list, MARKDOWN_LIMITS.targets);
  return `${reach(shown)}${moreText(more, 'server services')}`;
};

export function formatPlanMarkdown(plan: Plan): string {
  const out: string[] = [`### mamori plan ${code(plan.from)} → ${code(plan.to)}`, '', counts(plan), ''];
  const s = plan.servers;
  if (s.added.length + s.removed.length + s.changed.length + s.invalid.length > 0) {
    out.push('#### Servers', '', '| | server | change |', '|---|---|---|');
    const table: string[] = [];
    for (const a of s.added) table.push(`| ➕ | ${cell(who(a))} | ${cell(`${a.os}, plan ${a.plan}, ${a.address}, services ${a.services.join(', ')}`)} |`);
    for (const r of s.removed) table.push(`| ➖ | ${cell(who(r))} | removed |`);
    for (const i of s.invalid) table.push(`| ⚠️ | ${cell(who(i))} | invalid in this revision (see findings); not removed |`);
    for (const c of s.changed) table.push(`| ✏️ | ${cell(who(c))} | ${c.changes.map((f) => cell(change(f))).join('<br>')} |`);
    const rows = cut(table, MARKDOWN_LIMITS.rows);
    out.push(...rows.shown);
    if (rows.more > 0) out.push(`| | … | ${rows.more} more servers: see \`mamori plan --format json\` |`);
    out.push('');
  }
  if (plan.runbooks.length > 0) {
    out.push('#### Runbook documents', '');
    for (const r of plan.runbooks) {
      out.push(`- ${r.change}: ${code(r.name)} (${r.owner}) ${code(r.file)} — reaches ${plural(r.reaches.length, 'server service')}${r.reaches.length === 0 ? '' : `: ${reachMd(r.reaches)}`}`);
    }
    out.push('');
  }
  if (plan.effective.groups.length > 0) {
    out.push('#### Effective runbooks', '', 'What mamori will run, per server and service, as rendered at both revisions.', '');
    const groups = cut(plan.effective.groups, MARKDOWN_LIMITS.groups);
    for (const g of groups.shown) {
      out.push(`<details open><summary>${cell(groupTitle(g))} — ${plural(g.targets.length, 'server service')}: ${cell(reachMd(g.targets))}</summary>`, '', '```diff');
      for (const line of g.diff) out.push(line.replace(/```/g, "'''"));
      out.push('```', '', '</details>', '');
    }
    if (groups.more > 0) out.push(`${plural(groups.more, 'more diff')} not shown: \`mamori plan --format json\` has every one.`, '');
  }
  if (plan.signers && plan.signers.length > 0) {
    out.push('#### Signers needed', '', 'Every commit that changes a file must be signed by one of its signers, or mamori keeps the file at its last good version.', '', '| file | may be signed by |', '|---|---|');
    const rows = cut(plan.signers, MARKDOWN_LIMITS.rows);
    for (const n of rows.shown) out.push(`| ${cell(code(n.file))} | ${cell(needText(n))} |`);
    if (rows.more > 0) out.push(`| … | ${rows.more} more files: see \`mamori plan --format json\` |`);
    out.push('');
  }
  for (const [side, list] of [[plan.from, plan.findings.from], [plan.to, plan.findings.to]] as const) {
    if (list.length === 0) continue;
    out.push(`#### Findings in ${code(side)}`, '');
    const shown = cut(list, MARKDOWN_LIMITS.rows);
    for (const f of shown.shown) out.push(`- ${code(finding(f))}`);
    if (shown.more > 0) out.push(`- … and ${shown.more} more: \`mamori validate\` lists every one`);
    out.push('');
  }
  return out.join('\n');
}

export function formatPlan(plan: Plan, format: PlanFormat): string {
  if (format === 'json') return `${JSON.stringify(plan, null, 2)}\n`;
  return format === 'markdown' ? formatPlanMarkdown(plan) : formatPlanText(plan);
}
