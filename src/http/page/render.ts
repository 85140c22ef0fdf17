/**
 * The status page's HTML: the fleet grid (`/`) and one server (`/server?name=…`). Pure: a
 * PageData in, markup out; every value from outside goes through `html` (escaped). The same
 * functions make the whole page and the fragment the client swaps in when the daemon says
 * something changed.
 */
import type { Condition, IncidentStatus, ServerStatus } from '../../status/model.ts';
import type { Transcript } from '../../runbook/execution.ts';
import { html, raw, type SafeHtml } from './html.ts';
import type { PageData, ViewOptions } from './page-data.ts';
import { sparkline } from './sparkline.ts';
import { lookOf, sortServices, STATE_ORDER } from './states.ts';
import { CLIENT_SCRIPT, PAGE_CSS } from './assets.ts';

function ago(iso: string | undefined, now: number): string {
  if (iso === undefined) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A service's certificate in one line: when it expires, who issued it, and what does not verify. */
function certificateLine(c: NonNullable<ServerStatus['services'][string]['certificate']>, now: number): SafeHtml {
  const notAfter = c.notAfter !== undefined ? Date.parse(c.notAfter) : Number.NaN;
  const days = Number.isFinite(notAfter) ? Math.floor((notAfter - now) / 86_400_000) : undefined;
  const expiry = days === undefined ? 'expiry unknown' : days < 0 ? `expired ${c.notAfter?.slice(0, 10)}` : `expires ${c.notAfter?.slice(0, 10)} (${days} d)`;
  const problems = [c.selfSigned ? 'self-signed' : c.chainError !== undefined && c.chainError !== 'CERT_HAS_EXPIRED' ? `untrusted (${c.chainError})` : '', c.nameError !== undefined ? 'name mismatch' : ''].filter((x) => x !== '');
  const cls = c.stage === 'ok' && problems.length === 0 ? 'cert-ok' : 'cert-bad';
  return html`<div class="card-cert ${cls}" data-cert-stage="${c.stage}">TLS certificate: ${expiry}${c.issuer ? ` · ${c.issuer}` : ''}${problems.length > 0 ? ` · ${problems.join(', ')}` : ''}</div>`;
}

function when(iso: string | undefined, now: number): SafeHtml {
  if (iso === undefined) return html``;
  return html`<time datetime="${iso}" title="${iso}">${ago(iso, now)}</time>`;
}

function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function short(revision: string | undefined): string {
  if (revision === undefined || revision === '') return '—';
  // A folder's revision is `sha256:<hex>`: keep the scheme, shorten the digest.
  const colon = revision.indexOf(':');
  return colon > 0 && colon < 10 ? `${revision.slice(0, colon + 1)}${revision.slice(colon + 1, colon + 13)}` : revision.slice(0, 12);
}

function condition(s: ServerStatus, type: Condition['type']): Condition | undefined {
  return s.conditions.find((c) => c.type === type);
}

function customerHref(customer: string | undefined): string {
  return customer === undefined ? '/' : `/?customer=${encodeURIComponent(customer)}`;
}

/** Servers by name; the ones in trouble first. */
function worstRank(s: ServerStatus): number {
  return Math.max(0, ...Object.values(s.services).map((x) => lookOf(x.state).rank));
}

// ---- banners --------------------------------------------------------------------------------

function banners(data: PageData, only?: ServerStatus): SafeHtml[] {
  const out: SafeHtml[] = [];
  for (const e of data.massFailure) {
    if (only !== undefined && !e.servers.includes(only.metadata.name)) continue;
    out.push(html`<div class="banner banner-red" role="alert"><strong>Remediation paused: mass failure</strong>
      <span>${e.down} of ${e.total} servers failing in ${e.scope.kind} ${e.scope.value} since ${when(new Date(e.since).toISOString(), data.now)}. Nothing is restarted or power-cycled until they recover; it resumes by itself.</span></div>`);
  }
  const d = data.desired;
  if (d?.held !== undefined && only === undefined) {
    out.push(html`<div class="banner banner-amber" role="alert"><strong>Revision ${short(d.held.revision)} held (${d.held.reason})</strong>
      <span>${d.held.message} — still running on ${short(d.revision)}. Apply it with <code>mamori confirm ${short(d.held.revision)}</code>.</span></div>`);
  }
  if (d?.refused !== undefined && only === undefined) {
    out.push(html`<div class="banner banner-red" role="alert"><strong>Revision ${short(d.refused.revision)} refused (${d.refused.reason})</strong>
      <span>${d.refused.message}</span>${findingList(d.refused.findings)}</div>`);
  }
  const invalid = Object.entries(d?.manifestInvalid ?? {}).filter(([name]) => only === undefined || name === only.metadata.name);
  if (invalid.length > 0) {
    out.push(html`<div class="banner banner-amber" role="alert"><strong>${invalid.length === 1 ? 'A manifest was refused' : `${invalid.length} manifests were refused`}: running on the last good version</strong>
      <ul>${invalid.map(([name, c]) => html`<li><a href="/server?name=${encodeURIComponent(name)}">${name}</a>: revision ${short(c.revision)} — ${c.findings.slice(0, 3).map((f) => html`<code>${f.file}:${f.line}</code> ${f.field ? `${f.field}: ` : ''}${f.message} `)}</li>`)}</ul></div>`);
  }
  if (only === undefined && d !== undefined && d.findings.length > 0) {
    out.push(html`<div class="banner banner-amber" role="status"><strong>${d.findings.length} finding${d.findings.length === 1 ? '' : 's'} in revision ${short(d.revision)}</strong>${findingList(d.findings)}</div>`);
  }
  const src = data.source;
  if (only === undefined && src !== undefined && src.consecutiveFailures > 0) {
    out.push(html`<div class="banner banner-amber" role="status"><strong>The manifest source is failing (${src.consecutiveFailures}×)</strong>
      <span>${src.condition.reason}: ${src.condition.message}. mamori keeps watching on revision ${short(data.revision)}.</span></div>`);
  }
  return out;
}

function findingList(findings: ReadonlyArray<{ file: string; line: number; field?: string; message: string }>): SafeHtml {
  const shown = findings.slice(0, 5);
  return html`<ul>${shown.map((f) => html`<li><code>${f.file}:${f.line}</code> ${f.field ? `${f.field}: ` : ''}${f.message}</li>`)}${findings.length > shown.length ? html`<li>… and ${findings.length - shown.length} more</li>` : ''}</ul>`;
}

// ---- the fleet ------------------------------------------------------------------------------

function summary(servers: readonly ServerStatus[]): SafeHtml {
  const counts = new Map<string, number>();
  for (const s of servers) for (const svc of Object.values(s.services)) counts.set(svc.state, (counts.get(svc.state) ?? 0) + 1);
  const open = servers.reduce((n, s) => n + s.incidents.open.length, 0);
  return html`<section class="summary" aria-label="Summary">
    <div class="stat"><span class="num">${servers.length}</span><span class="lbl">servers</span></div>
    ${STATE_ORDER.filter((st) => (counts.get(st) ?? 0) > 0 || st === 'Healthy').map((st) => {
      const look = lookOf(st);
      return html`<div class="stat st-${look.cls}"><span class="num">${counts.get(st) ?? 0}</span><span class="lbl">${look.symbol} ${st}</span></div>`;
    })}
    <div class="stat ${open > 0 ? 'st-down' : ''}"><span class="num">${open}</span><span class="lbl">open incidents</span></div>
  </section>`;
}

function cell(data: PageData, s: ServerStatus, service: string): SafeHtml {
  const name = s.metadata.name;
  const svc = s.services[service];
  if (svc === undefined) return html`<td class="cell none"><span class="sr">not watched</span></td>`;
  const look = lookOf(svc.state);
  const detail = svc.escalation ?? svc.hold ?? (svc.lastProbe?.failureKind !== undefined && svc.state !== 'Healthy' ? svc.lastProbe.failureKind : undefined);
  const latency = svc.lastProbe?.latencyMs !== undefined && svc.lastProbe.up === true ? formatMs(svc.lastProbe.latencyMs) : '';
  return html`<td class="cell st-${look.cls}" data-server="${name}" data-service="${service}" data-state="${svc.state}" title="${service} on ${name}: ${svc.state} (${look.words}) since ${svc.since}">
    <a href="/server?name=${encodeURIComponent(name)}#svc-${service}">
      <span class="cell-head"><span class="sym" aria-hidden="true">${look.symbol}</span><span class="state">${svc.state}</span></span>
      <span class="cell-sub">${detail ?? latency}</span>
      ${sparkline(data.latencies(name, service), { label: `${service} latency`, width: 88, height: 18 })}
    </a></td>`;
}

function readyBadge(s: ServerStatus): SafeHtml {
  const ready = condition(s, 'Ready');
  const status = ready?.status ?? 'Unknown';
  const cls = status === 'True' ? 'ok' : status === 'False' ? 'down' : 'unknown';
  const text = status === 'True' ? 'Ready' : status === 'False' ? 'Not ready' : 'Pending';
  return html`<span class="badge st-${cls}" title="${ready?.message ?? ''}">${text}</span>`;
}

function flags(s: ServerStatus): SafeHtml[] {
  const out: SafeHtml[] = [];
  for (const type of ['MassFailurePaused', 'Suspended', 'Flapping', 'ManifestInvalid', 'HostKeyChanged', 'AccessBlocked'] as const) {
    const c = condition(s, type);
    if (c?.status === 'True') out.push(html`<span class="flag" title="${c.message}">${type === 'Suspended' ? c.reason : type}</span>`);
  }
  return out;
}

/** The window in force, else the next one: when nothing will be repaired. */
function maintenanceLine(s: ServerStatus): SafeHtml | string {
  const m = s.maintenance;
  const w = m?.current ?? m?.next;
  if (m === undefined || w === undefined) return '';
  const label = m.current !== undefined ? 'In maintenance until' : 'Next maintenance window';
  const at = (iso: string): SafeHtml => html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
  return html`<p class="muted maintenance" data-maintenance="${m.current !== undefined ? 'current' : 'next'}">${label} ${m.current !== undefined ? at(w.end) : html`${at(w.start)} – ${at(w.end)}`}${w.reason !== undefined ? html` (${w.reason})` : ''}: probes go on, nothing is repaired.</p>`;
}

export function renderFleet(data: PageData, options: ViewOptions): SafeHtml {
  const customers = [...new Set(data.servers.map((s) => s.metadata.customer ?? ''))].filter((c) => c !== '').sort();
  const servers = data.servers
    .filter((s) => options.customer === undefined || s.metadata.customer === options.customer)
    .slice()
    .sort((a, b) => worstRank(b) - worstRank(a) || a.metadata.name.localeCompare(b.metadata.name));
  const services = sortServices(servers.flatMap((s) => Object.keys(s.services)));
  return html`${banners(data)}
  ${summary(servers)}
  <nav class="filter" aria-label="Filter by customer">
    <span class="filter-label">Customer</span>
    <a href="/" class="${options.customer === undefined ? 'chip on' : 'chip'}" ${options.customer === undefined ? raw('aria-current="page"') : ''}>All</a>
    ${customers.map((c) => html`<a href="${customerHref(c)}" class="${options.customer === c ? 'chip on' : 'chip'}" ${options.customer === c ? raw('aria-current="page"') : ''}>${c}</a>`)}
  </nav>
  ${
    servers.length === 0
      ? html`<p class="empty">${data.servers.length === 0 ? 'No servers are watched yet: the first revision has not been applied, or it lists none.' : 'No server of this customer.'}</p>`
      : html`<div class="grid-wrap"><table class="grid">
    <caption class="sr">Services of each server; the state is written in each cell</caption>
    <thead><tr><th scope="col" class="srv">Server</th>${services.map((svc) => html`<th scope="col">${svc}</th>`)}</tr></thead>
    <tbody>${servers.map(
      (s) => html`<tr data-server="${s.metadata.name}">
        <th scope="row" class="srv"><a href="/server?name=${encodeURIComponent(s.metadata.name)}" class="srv-name">${s.metadata.name}</a>
          <span class="srv-meta">${s.metadata.customer ?? ''} ${readyBadge(s)} ${s.incidents.open.length > 0 ? html`<span class="badge st-down">${s.incidents.open.length} open</span>` : ''} ${flags(s)}</span></th>
        ${services.map((svc) => cell(data, s, svc))}
      </tr>`,
    )}</tbody></table></div>`
  }
  ${notMonitored(data, options)}
  ${legend()}`;
}

/** Servers that have a status file but that nobody probes: never shown as if they were watched. */
function notMonitored(data: PageData, options: ViewOptions): SafeHtml | string {
  const list = (data.unmonitored ?? []).filter((u) => options.customer === undefined || u.customer === options.customer);
  if (list.length === 0) return '';
  return html`<section class="unmonitored" aria-label="Servers not monitored">
    <h2>Not monitored (${list.length})</h2>
    <ul>${list
      .slice()
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((u) => html`<li data-unmonitored="${u.name}"><strong>${u.name}</strong> <span class="muted">${u.customer ?? ''}</span> <span class="badge st-unknown">${u.reason}</span> ${u.message} <span class="muted">since ${new Date(u.since).toISOString()}</span></li>`)}</ul>
  </section>`;
}

function legend(): SafeHtml {
  return html`<section class="legend" aria-label="Legend">${STATE_ORDER.map((st) => {
    const look = lookOf(st);
    return html`<span class="key st-${look.cls}"><span aria-hidden="true">${look.symbol}</span> ${st} — ${look.words}</span>`;
  })}</section>`;
}

// ---- one server -----------------------------------------------------------------------------

function transcriptView(t: Transcript, open: boolean): SafeHtml {
  return html`<details class="transcript" ${open ? raw('open') : ''}>
    <summary><strong>${t.runbook || 'runbook'}</strong> (${t.origin}) — <span class="verdict v-${t.verdict === 'Recovered' ? 'ok' : 'bad'}">${t.verdict}</span>: ${t.message}
      <span class="muted">${t.startedAt} → ${t.finishedAt}</span></summary>
    <ol class="steps">${t.steps.map(
      (s) => html`<li class="step o-${s.outcome}">
        <div class="step-head"><span class="step-id">${s.id}</span> <span class="muted">${s.kind}</span>
          <span class="step-outcome">${s.outcome}${s.exitCode !== undefined && s.exitCode !== null ? html` · exit <code>${s.exitCode}</code>` : ''}</span></div>
        ${s.command !== undefined ? html`<pre class="cmd"><code>$ ${s.command}</code></pre>` : ''}
        ${s.output !== undefined && s.output !== '' ? html`<pre class="out"><code>${s.output}</code></pre>` : ''}
        ${s.note !== undefined ? html`<p class="muted">${s.note}</p>` : ''}
      </li>`,
    )}</ol></details>`;
}

function incidentView(data: PageData, s: ServerStatus, i: IncidentStatus, options: ViewOptions, open: boolean): SafeHtml {
  const service = i.service === 'host' ? 'ping' : i.service;
  const opened = Date.parse(i.openedAt);
  const closed = i.closedAt !== undefined ? Date.parse(i.closedAt) : Infinity;
  // A transcript belongs to the incident whose lifetime it started in.
  const transcripts = options.showTranscripts ? data.transcripts(s.metadata.name, service).filter((t) => Date.parse(t.startedAt) >= opened - 1000 && Date.parse(t.startedAt) <= closed) : [];
  return html`<article class="incident ${open ? 'open' : 'closed'}">
    <header><strong>${i.service}</strong> <code class="muted">${i.id}</code>
      ${open ? html`<span class="badge st-down">open</span>` : html`<span class="badge st-ok">${i.closeReason ?? 'closed'}</span>`}</header>
    <dl class="kv">
      <dt>Detected</dt><dd>${when(i.detectedAt, data.now)}</dd>
      <dt>Opened</dt><dd>${when(i.openedAt, data.now)}</dd>
      ${i.closedAt !== undefined ? html`<dt>Closed</dt><dd>${when(i.closedAt, data.now)}</dd>` : ''}
      <dt>Attempts</dt><dd>${i.attempts.length === 0 ? 'none yet' : i.attempts.map((a) => html`<span class="attempt">#${a.n} ${a.verdict ?? 'running…'}</span> `)}</dd>
    </dl>
    ${
      options.showTranscripts
        ? transcripts.length > 0
          ? transcripts.map((t) => transcriptView(t, open))
          : open
            ? html`<p class="muted">No transcript yet.</p>`
            : ''
        : html`<p class="muted locked">Transcripts are shown with the page token.</p>`
    }
  </article>`;
}

export function renderServer(data: PageData, name: string, options: ViewOptions): SafeHtml {
  const s = data.servers.find((x) => x.metadata.name === name);
  if (s === undefined) {
    // The name is not echoed: the reader guessed it, and a page must not repeat a name it may not show.
    return html`<p class="crumb"><a href="/">← Fleet</a></p><p class="empty">No server of that name is watched here.</p>`;
  }
  const services = sortServices(Object.keys(s.services));
  const active = s.conditions.filter((c) => c.status !== 'False' || c.type === 'Ready');
  return html`<p class="crumb"><a href="${customerHref(undefined)}">← Fleet</a>${s.metadata.customer ? html` · <a href="${customerHref(s.metadata.customer)}">${s.metadata.customer}</a>` : ''}</p>
  <h1 class="server-title">${s.metadata.name} ${readyBadge(s)} ${flags(s)}</h1>
  <p class="muted">Revision ${short(s.observedRevision)} · status updated ${when(s.updatedAt, data.now)}</p>
  ${maintenanceLine(s)}
  ${banners(data, s)}
  <section class="cards" aria-label="Services">${services.map((svc) => {
    const st = s.services[svc];
    if (st === undefined) return '';
    const look = lookOf(st.state);
    return html`<div class="card st-${look.cls}" id="svc-${svc}" data-service="${svc}" data-state="${st.state}">
      <div class="card-head"><span class="svc">${svc}</span><span class="state"><span aria-hidden="true">${look.symbol}</span> ${st.state}</span></div>
      <div class="card-sub">${look.words}${st.escalation ? ` — ${st.escalation}` : st.hold ? ` — held: ${st.hold}` : ''} · since ${when(st.since, data.now)}</div>
      ${sparkline(data.latencies(s.metadata.name, svc), { label: `${svc} latency`, width: 220, height: 40 })}
      <div class="card-foot">${st.lastProbe ? html`last probe ${when(st.lastProbe.at, data.now)}: ${st.lastProbe.up === true ? `up, ${formatMs(st.lastProbe.latencyMs ?? 0)}` : st.lastProbe.up === false ? `failed (${st.lastProbe.failureKind ?? 'down'})` : 'unknown'}` : 'not probed yet'}${st.consecutiveFailures > 0 ? ` · ${st.consecutiveFailures} failures in a row` : ''}</div>
      ${st.certificate ? certificateLine(st.certificate, data.now) : ''}
    </div>`;
  })}</section>
  <h2>Conditions</h2>
  <table class="conds"><thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Since</th></tr></thead>
  <tbody>${active.map(
    (c) => html`<tr class="c-${c.status === 'True' ? (c.type === 'Ready' ? 'ok' : 'bad') : c.status === 'False' ? (c.type === 'Ready' ? 'bad' : 'ok') : 'unknown'}"><td>${c.type}</td><td>${c.status}</td><td>${c.reason}</td><td>${c.message}</td><td>${when(c.lastTransitionTime, data.now)}</td></tr>`,
  )}</tbody></table>
  <p class="muted">Conditions that are False (no trouble) are not listed.</p>
  <h2>Open incidents</h2>
  ${s.incidents.open.length === 0 ? html`<p class="muted">None.</p>` : s.incidents.open.map((i) => incidentView(data, s, i, options, true))}
  <h2>Recent incidents</h2>
  ${s.incidents.recent.length === 0 ? html`<p class="muted">None.</p>` : s.incidents.recent.slice(0, 3).map((i) => incidentView(data, s, i, options, false))}`;
}

// ---- the document ---------------------------------------------------------------------------

export function topMeta(data: PageData): SafeHtml {
  const src = data.source;
  const sourceText = src === undefined ? '' : src.consecutiveFailures > 0 ? `source failing` : src.synced ? 'source in sync' : 'first sync…';
  return html`<span>revision <code>${short(data.revision ?? data.desired?.revision)}</code></span>
    <span>${sourceText}</span>
    <span>updated <time datetime="${new Date(data.now).toISOString()}">${new Date(data.now).toISOString().slice(11, 19)} UTC</time></span>`;
}

export function renderDocument(title: string, data: PageData, body: SafeHtml, options: ViewOptions & { nonce: string }): string {
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><meta name="robots" content="noindex"><link rel="icon" href="data:,">
<style>${raw(PAGE_CSS)}</style></head>
<body>
<header class="top"><a class="brand" href="/"><span class="logo" aria-hidden="true"><svg width="16" height="18" viewBox="0 0 16 18"><path d="M8 1 15 4v5c0 4-3 7-7 8-4-1-7-4-7-8V4z" fill="none" stroke="#fff" stroke-width="1.8" stroke-linejoin="round"/><path d="m4.8 9 2.2 2.2L11.4 6.8" fill="none" stroke="#fff" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg></span> mamori <span class="muted">status</span></a>
  <div class="meta" id="meta">${topMeta(data)}</div>
  <span class="live" id="live-state" role="status" aria-live="polite">● live</span></header>
<main id="live" data-version="${options.version}">${body}</main>
<footer class="foot">Read-only view of what mamori sees. States are written in words as well as colours.</footer>
<script nonce="${options.nonce}">${raw(CLIENT_SCRIPT)}</script>
</body></html>`}`;
}
