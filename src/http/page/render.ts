/**
 * The status page's HTML: the fleet grid (`/`) and one server (`/server?name=…`). Pure: a
 * PageData in, markup out; every value from outside goes through `html` (escaped). The same
 * functions make the whole page and the fragment the client swaps in when the daemon says
 * something changed.
 */
import { findServer, serverIdOf } from '../../manifest/server-id.ts';
import type { Condition, IncidentStatus, ServerStatus } from '../../status/model.ts';
import { incidentPhases, type Phase } from '../../status/incident-phases.ts';
import type { Transcript } from '../../runbook/execution.ts';
import { html, raw, type SafeHtml } from './html.ts';
import type { PageData, ViewOptions } from './page-data.ts';
import { sparkline } from './sparkline.ts';
import { lookOf, sortServices, STATE_ORDER } from './states.ts';
import { DEFAULT_LIMIT, hasProblem, isStateFilter, MAX_SEARCH, normaliseSearch, queryFleet, STATE_FILTERS, type FleetSlice, type StateFilter } from '../fleet-query.ts';
import { CLIENT_SCRIPT, PAGE_CSS } from './assets.ts';
import { PAGE_TEXT, PAGE_LANGS, type PageLang, type PageText } from './messages.ts';
import { uptimeBars } from './uptime-bars.ts';
import { zonedText } from '../../report/zoned-time.ts';

function ago(iso: string | undefined, now: number, t: PageText): string {
  if (iso === undefined) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  return t.ago(Math.max(0, Math.round((now - ms) / 1000)));
}

/** "since 3 min ago" / "3 分前から": where the word goes depends on the language. */
function since(options: Pick<ViewOptions, 'lang'>, what: SafeHtml | string): SafeHtml {
  return options.lang === 'ja' ? html`${what} から` : html`since ${what}`;
}

/** The reader's language and the configured zone, with defaults for callers that give neither. */
function textOf(options: Pick<ViewOptions, 'lang'>): PageText {
  return PAGE_TEXT[options.lang ?? 'en'];
}

/** An absolute time in the configured zone, the zone named (`2026-11-25 19:00:00 JST`); as given when unparsable. */
export function zoned(iso: string | number, options: Pick<ViewOptions, 'timeZone'>): string {
  return zonedText(typeof iso === 'number' ? new Date(iso).toISOString() : iso, options.timeZone ?? 'UTC');
}

/** A service's certificate in one line: when it expires, who issued it, and what does not verify. */
function certificateLine(c: NonNullable<ServerStatus['services'][string]['certificate']>, now: number, t: PageText): SafeHtml {
  const notAfter = c.notAfter !== undefined ? Date.parse(c.notAfter) : Number.NaN;
  const days = Number.isFinite(notAfter) ? Math.floor((notAfter - now) / 86_400_000) : undefined;
  const day = c.notAfter?.slice(0, 10) ?? '';
  const expiry = days === undefined ? t.cert.unknown : days < 0 ? t.cert.expired(day) : t.cert.expires(day, days);
  const problems = [c.selfSigned ? t.cert.selfSigned : c.chainError !== undefined && c.chainError !== 'CERT_HAS_EXPIRED' ? t.cert.untrusted(c.chainError) : '', c.nameError !== undefined ? t.cert.nameMismatch : ''].filter((x) => x !== '');
  const cls = c.stage === 'ok' && problems.length === 0 ? 'cert-ok' : 'cert-bad';
  return html`<div class="card-cert ${cls}" data-cert-stage="${c.stage}">${t.cert.label}: ${expiry}${c.issuer ? ` · ${c.issuer}` : ''}${problems.length > 0 ? ` · ${problems.join(', ')}` : ''}</div>`;
}

/** "3 min ago", with the absolute time in the configured zone on hover and for machines. */
function when(iso: string | undefined, now: number, options: Pick<ViewOptions, 'lang' | 'timeZone'>): SafeHtml {
  if (iso === undefined) return html``;
  return html`<time datetime="${iso}" title="${zoned(iso, options)}">${ago(iso, now, textOf(options))}</time>`;
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

/** Customer chips shown at most; more customers are found by the search. */
const MAX_CHIPS = 40;
/** Latency points a grid cell draws (the server's page draws the whole ring): 88 px hold no more, and 100 rows × 6 cells of them are most of the page's bytes. */
const GRID_POINTS = 30;
/** Rows of a list beside the grid (refused manifests, servers not monitored) shown at most. */
const MAX_LISTED = 20;

// ---- banners --------------------------------------------------------------------------------

function banners(data: PageData, options: ViewOptions, only?: ServerStatus): SafeHtml[] {
  const t = textOf(options);
  const out: SafeHtml[] = [];
  for (const e of data.massFailure) {
    if (only !== undefined && !e.servers.includes(serverIdOf(only))) continue;
    out.push(html`<div class="banner banner-red" role="alert"><strong>${t.massFailureTitle}</strong>
      <span>${t.massFailure(e.down, e.total, `${e.scope.kind} ${e.scope.value}`)} · ${since(options, when(new Date(e.since).toISOString(), data.now, options))}. ${t.massFailureNote}</span></div>`);
  }
  const d = data.desired;
  if (d?.held !== undefined && only === undefined) {
    out.push(html`<div class="banner banner-amber" role="alert"><strong>${t.heldTitle(short(d.held.revision), d.held.reason)}</strong>
      <span>${d.held.message} — ${t.stillRunningOn(short(d.revision))} ${t.applyWith} <code>mamori confirm ${short(d.held.revision)}</code>.</span></div>`);
  }
  if (d?.refused !== undefined && only === undefined) {
    out.push(html`<div class="banner banner-red" role="alert"><strong>${t.refusedTitle(short(d.refused.revision), d.refused.reason)}</strong>
      <span>${d.refused.message}</span>${findingList(d.refused.findings, t)}</div>`);
  }
  const invalid = Object.entries(d?.manifestInvalid ?? {}).filter(([name]) => only === undefined || name === serverIdOf(only));
  if (invalid.length > 0) {
    out.push(html`<div class="banner banner-amber" role="alert"><strong>${t.manifestsRefused(invalid.length)}</strong>
      <ul>${invalid.slice(0, MAX_LISTED).map(([name, c]) => html`<li><a href="/server?name=${encodeURIComponent(name)}">${name}</a>: ${t.revision} ${short(c.revision)} — ${c.findings.slice(0, 3).map((f) => html`<code>${f.file}:${f.line}</code> ${f.field ? `${f.field}: ` : ''}${f.message} `)}</li>`)}${invalid.length > MAX_LISTED ? html`<li>${t.more(invalid.length - MAX_LISTED)}</li>` : ''}</ul></div>`);
  }
  if (only === undefined && d !== undefined && d.findings.length > 0) {
    out.push(html`<div class="banner banner-amber" role="status"><strong>${t.findings(d.findings.length, short(d.revision))}</strong>${findingList(d.findings, t)}</div>`);
  }
  const src = data.source;
  if (only === undefined && src !== undefined && src.consecutiveFailures > 0) {
    out.push(html`<div class="banner banner-amber" role="status"><strong>${t.sourceFailingTitle(src.consecutiveFailures)}</strong>
      <span>${src.condition.reason}: ${src.condition.message}. ${t.keepsWatching(short(data.revision))}</span></div>`);
  }
  return out;
}

function findingList(findings: ReadonlyArray<{ file: string; line: number; field?: string; message: string }>, t: PageText): SafeHtml {
  const shown = findings.slice(0, 5);
  return html`<ul>${shown.map((f) => html`<li><code>${f.file}:${f.line}</code> ${f.field ? `${f.field}: ` : ''}${f.message}</li>`)}${findings.length > shown.length ? html`<li>${t.more(findings.length - shown.length)}</li>` : ''}</ul>`;
}

// ---- the fleet ------------------------------------------------------------------------------

/** The counts of the reader's whole view (every page); each state's count finds its servers. */
function summary(servers: readonly ServerStatus[], t: PageText, stateHref: (state: StateFilter | undefined) => string): SafeHtml {
  const counts = new Map<string, number>();
  let open = 0;
  for (const s of servers) {
    for (const k in s.services) {
      const st = s.services[k]?.state ?? 'Unknown';
      counts.set(st, (counts.get(st) ?? 0) + 1);
    }
    open += s.incidents.open.length;
  }
  return html`<section class="summary" aria-label="${t.services}">
    <a class="stat" href="${stateHref(undefined)}"><span class="num">${servers.length}</span><span class="lbl">${t.servers}</span></a>
    ${STATE_ORDER.filter((st) => (counts.get(st) ?? 0) > 0 || st === 'Healthy').map((st) => {
      const look = lookOf(st);
      return html`<a class="stat st-${look.cls}" href="${stateHref(isStateFilter(st) ? st : undefined)}"><span class="num">${counts.get(st) ?? 0}</span><span class="lbl">${look.symbol} ${st}</span></a>`;
    })}
    <a class="stat ${open > 0 ? 'st-down' : ''}" href="${stateHref('problems')}"><span class="num">${open}</span><span class="lbl">${t.openIncidents}</span></a>
  </section>`;
}

function words(state: string, t: PageText): string {
  return t.stateWords[state] ?? lookOf(state).words;
}

function cell(data: PageData, s: ServerStatus, service: string, options: ViewOptions): SafeHtml {
  const t = textOf(options);
  const name = serverIdOf(s);
  const svc = s.services[service];
  if (svc === undefined) return html`<td class="cell none"><span class="sr">${t.notWatched}</span></td>`;
  const look = lookOf(svc.state);
  const detail = svc.escalation ?? svc.hold ?? (svc.lastProbe?.failureKind !== undefined && svc.state !== 'Healthy' ? svc.lastProbe.failureKind : undefined);
  const latency = svc.lastProbe?.latencyMs !== undefined && svc.lastProbe.up === true ? formatMs(svc.lastProbe.latencyMs) : '';
  return html`<td class="cell st-${look.cls}" data-server="${name}" data-service="${service}" data-state="${svc.state}" title="${service} — ${name}: ${svc.state} (${words(svc.state, t)}) ${since(options, zoned(svc.since, options))}">
    <a href="/server?name=${encodeURIComponent(name)}#svc-${service}">
      <span class="cell-svc">${service}</span>
      <span class="cell-head"><span class="sym" aria-hidden="true">${look.symbol}</span><span class="state">${svc.state}</span></span>
      <span class="cell-sub">${detail ?? latency}</span>
      ${sparkline(data.latencies(name, service).slice(-GRID_POINTS), { label: `${service} ${t.latency}`, width: 88, height: 18 })}
    </a></td>`;
}

function readyBadge(s: ServerStatus, t: PageText): SafeHtml {
  const ready = condition(s, 'Ready');
  const status = ready?.status ?? 'Unknown';
  const cls = status === 'True' ? 'ok' : status === 'False' ? 'down' : 'unknown';
  const text = status === 'True' ? t.ready : status === 'False' ? t.notReady : t.pending;
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
function maintenanceLine(s: ServerStatus, options: ViewOptions): SafeHtml | string {
  const t = textOf(options);
  const m = s.maintenance;
  const w = m?.current ?? m?.next;
  if (m === undefined || w === undefined) return '';
  const at = (iso: string): SafeHtml => html`<time datetime="${iso}">${zoned(iso, options)}</time>`;
  const reason = w.reason !== undefined ? html` (${w.reason})` : '';
  const line =
    options.lang === 'ja'
      ? m.current !== undefined
        ? html`メンテナンス中です（${at(w.end)} まで）${reason}。${t.maintenanceNote}`
        : html`${t.nextMaintenance}: ${at(w.start)} – ${at(w.end)}${reason}。${t.maintenanceNote}`
      : m.current !== undefined
        ? html`${t.inMaintenanceUntil} ${at(w.end)}${reason}: ${t.maintenanceNote}`
        : html`${t.nextMaintenance} ${at(w.start)} – ${at(w.end)}${reason}: ${t.maintenanceNote}`;
  return html`<p class="muted maintenance" data-maintenance="${m.current !== undefined ? 'current' : 'next'}">${line}</p>`;
}

/** The grid's address with these parameters (the customer only when the reader may see it). */
function fleetHref(p: { customer?: string | undefined; search?: string | undefined; state?: string | undefined; page?: number | undefined }): string {
  const q = new URLSearchParams();
  if (p.customer !== undefined) q.set('customer', p.customer);
  if (p.search !== undefined && p.search !== '') q.set('q', p.search);
  if (p.state !== undefined) q.set('state', p.state);
  if (p.page !== undefined && p.page > 1) q.set('page', String(p.page));
  const text = q.toString();
  return text === '' ? '/' : `/?${text}`;
}

/** The customer chips: every customer up to MAX_CHIPS, else the chosen one and those with a problem first. */
function customerChips(data: PageData, selected: string | undefined, t: PageText): SafeHtml {
  const problem = new Map<string, boolean>();
  for (const s of data.servers) {
    const c = s.metadata.customer ?? '';
    if (c === '') continue;
    problem.set(c, (problem.get(c) ?? false) || hasProblem(s));
  }
  const all = [...problem.keys()].sort();
  let shown = all;
  if (all.length > MAX_CHIPS) {
    const pick = new Set<string>(selected !== undefined ? [selected] : []);
    for (const c of all) if (pick.size < MAX_CHIPS && problem.get(c) === true) pick.add(c);
    for (const c of all) if (pick.size < MAX_CHIPS) pick.add(c);
    shown = [...pick].sort();
  }
  return html`<nav class="filter" aria-label="${t.customer}">
    <span class="filter-label">${t.customer}</span>
    <a href="/" class="${selected === undefined ? 'chip on' : 'chip'}" ${selected === undefined ? raw('aria-current="page"') : ''}>${t.all}</a>
    ${shown.map((c) => html`<a href="${customerHref(c)}" class="${selected === c ? 'chip on' : 'chip'}" ${selected === c ? raw('aria-current="page"') : ''}>${c}</a>`)}
    ${all.length > shown.length ? html`<span class="muted">${t.moreCustomers(all.length - shown.length)}</span>` : ''}
  </nav>`;
}

/** Search (a part of customer/name) and a state, over the whole fleet on the server; a GET form that works without the script. */
function findForm(selected: string | undefined, search: string, state: StateFilter | undefined, t: PageText): SafeHtml {
  return html`<form class="find" method="get" action="/" role="search" aria-label="${t.findLabel}">
    ${selected !== undefined ? html`<input type="hidden" name="customer" value="${selected}">` : ''}
    <input type="search" id="find-q" name="q" value="${search}" maxlength="${MAX_SEARCH}" placeholder="${t.findPlaceholder}" aria-label="${t.findPlaceholder}" autocomplete="off" spellcheck="false">
    <select id="find-state" name="state" aria-label="${t.stateFilter}">
      <option value="" ${state === undefined ? raw('selected') : ''}>${t.allStates}</option>
      ${STATE_FILTERS.map((f) => html`<option value="${f}" ${state === f ? raw('selected') : ''}>${f === 'problems' ? t.problemsOnly : `${f} — ${words(f, t)}`}</option>`)}
    </select>
    <button type="submit">${t.find}</button>
  </form>`;
}

function pager(slice: FleetSlice, page: number, pages: number, link: (page: number) => string, t: PageText, where: 'top' | 'bottom'): SafeHtml {
  const from = slice.matched === 0 ? 0 : slice.offset + 1;
  const to = slice.offset + slice.servers.length;
  return html`<nav class="pager pager-${where}" aria-label="${t.pages}" data-matched="${slice.matched}" data-page="${page}" data-pages="${pages}">
    ${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">${t.previous}</a>` : html`<span class="muted">${t.previous}</span>`}
    <span class="pager-at">${t.rowsOf(from, to, slice.matched)}${pages > 1 ? html` · ${t.pageOf(page, pages)}` : ''}</span>
    ${page < pages ? html`<a href="${link(page + 1)}" rel="next">${t.next}</a>` : html`<span class="muted">${t.next}</span>`}
  </nav>`;
}

/**
 * The fleet: banners, the counts of the reader's whole view, then one bounded page of servers —
 * the ones in trouble first — found by customer, search and state over the whole fleet
 * (fleet-query.ts). The page's size does not grow with the fleet.
 */
export function renderFleet(data: PageData, options: ViewOptions): SafeHtml {
  const t = textOf(options);
  const fq = options.fleetQuery ?? {};
  const visible = options.customer !== undefined && data.servers.some((s) => s.metadata.customer === options.customer) ? options.customer : undefined;
  const inView = options.customer === undefined ? data.servers : data.servers.filter((s) => s.metadata.customer === options.customer);
  const search = fq.search ?? '';
  const limit = DEFAULT_LIMIT;
  const ask = (page: number): FleetSlice =>
    queryFleet(data.servers, { ...(options.customer !== undefined ? { customer: options.customer } : {}), search: normaliseSearch(search), ...(fq.state !== undefined ? { state: fq.state } : {}), offset: (page - 1) * limit, limit });
  let page = Math.max(1, Math.floor(fq.page ?? 1));
  let slice = ask(page);
  const pages = Math.max(1, Math.ceil(slice.matched / limit));
  if (page > pages) {
    page = pages;
    slice = ask(page);
  }
  const columns = new Set<string>();
  for (const s of inView) for (const k in s.services) columns.add(k);
  const services = sortServices(columns);
  const link = (p: number): string => fleetHref({ customer: visible, search, state: fq.state, page: p });
  const filtered = search !== '' || fq.state !== undefined;
  return html`${banners(data, options)}
  ${summary(inView, t, (state) => fleetHref({ customer: visible, state }))}
  ${customerChips(data, visible, t)}
  ${inView.length > 0 ? findForm(visible, search, fq.state, t) : ''}
  ${
    inView.length === 0
      ? html`<p class="empty">${data.servers.length === 0 ? t.noServersYet : t.noServerOfCustomer}</p>`
      : slice.matched === 0
        ? html`<p class="empty" data-matched="0">${t.noMatch} <a href="${fleetHref({ customer: visible })}">${t.clearFilter}</a></p>`
        : html`${filtered || pages > 1 ? pager(slice, page, pages, link, t, 'top') : ''}<div class="grid-wrap"><table class="grid">
    <caption class="sr">${t.gridCaption}</caption>
    <thead><tr><th scope="col" class="srv">${t.server}</th>${services.map((svc) => html`<th scope="col">${svc}</th>`)}</tr></thead>
    <tbody>${slice.servers.map(
      (s) => html`<tr data-server="${serverIdOf(s)}">
        <th scope="row" class="srv"><a href="/server?name=${encodeURIComponent(serverIdOf(s))}" class="srv-name">${s.metadata.name}</a>
          <span class="srv-meta" ${s.owner !== undefined ? html`data-owner="${s.owner}" title="${t.ownedBy(s.owner)}"` : ''}>${s.metadata.customer ?? ''} ${readyBadge(s, t)} ${s.incidents.open.length > 0 ? html`<span class="badge st-down">${t.open(s.incidents.open.length)}</span>` : ''} ${flags(s)}</span></th>
        ${services.map((svc) => cell(data, s, svc, options))}
      </tr>`,
    )}</tbody></table></div>${pages > 1 ? pager(slice, page, pages, link, t, 'bottom') : ''}`
  }
  ${notMonitored(data, options)}
  ${legend(t)}`;
}

/** Servers that have a status file but that nobody probes: never shown as if they were watched. */
function notMonitored(data: PageData, options: ViewOptions): SafeHtml | string {
  const t = textOf(options);
  const list = (data.unmonitored ?? []).filter((u) => options.customer === undefined || u.customer === options.customer);
  if (list.length === 0) return '';
  return html`<section class="unmonitored" aria-label="${t.notMonitored(list.length)}">
    <h2>${t.notMonitored(list.length)}</h2>
    <ul>${list
      .slice()
      .sort((a, b) => a.name.localeCompare(b.name))
      .slice(0, MAX_LISTED)
      .map((u) => html`<li data-unmonitored="${u.name}"><strong>${u.name}</strong> <span class="muted">${u.customer ?? ''}</span> <span class="badge st-unknown">${u.reason}</span> ${u.message} <span class="muted">${since(options, zoned(u.since, options))}</span></li>`)}${list.length > MAX_LISTED ? html`<li class="muted">${t.more(list.length - MAX_LISTED)}</li>` : ''}</ul>
  </section>`;
}

function legend(t: PageText): SafeHtml {
  return html`<section class="legend" aria-label="${t.legend}">${STATE_ORDER.map((st) => {
    const look = lookOf(st);
    return html`<span class="key st-${look.cls}"><span aria-hidden="true">${look.symbol}</span> ${st} — ${words(st, t)}</span>`;
  })}</section>`;
}

// ---- one server -----------------------------------------------------------------------------

function transcriptView(t: Transcript, open: boolean, options: ViewOptions): SafeHtml {
  return html`<details class="transcript" ${open ? raw('open') : ''}>
    <summary><strong>${t.runbook || 'runbook'}</strong> (${t.origin}) — <span class="verdict v-${t.verdict === 'Recovered' ? 'ok' : 'bad'}">${t.verdict}</span>: ${t.message}
      <span class="muted">${zoned(t.startedAt, options)} → ${zoned(t.finishedAt, options)}</span></summary>
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

/** The incident's time to recovery, phase by phase: seconds after the first failing probe. */
function phasesView(i: IncidentStatus, options: ViewOptions): SafeHtml {
  const t = textOf(options);
  const label = (p: Phase): string => {
    const name = t.phaseNames[p.kind];
    if (p.kind === 'step' && p.step !== undefined) return `${name} ${p.step.id}${p.step.outcome !== undefined ? ` (${p.step.outcome})` : ''}, ${p.step.durationS.toFixed(1)} s`;
    if (p.kind === 'runbook-started') return `${name} #${String(p.attempt)}`;
    if (p.kind === 'runbook-finished') {
      const verdict = i.attempts.find((a) => a.n === p.attempt)?.verdict;
      return `${name} #${String(p.attempt)}${verdict !== undefined ? ` (${verdict})` : ''}`;
    }
    if (p.kind === 'closed') return `${name} (${i.closeReason ?? ''})`;
    return name;
  };
  return html`<details class="phases"><summary>${t.phasesHead}</summary><table class="phases"><tbody>${incidentPhases(i).map(
    (p) => html`<tr class="ph-${p.kind}"><td class="num">+${p.offsetS.toFixed(1)} s</td><td>${label(p)}</td><td class="muted">${zoned(p.at, options)}</td></tr>`,
  )}</tbody></table></details>`;
}

function incidentView(data: PageData, s: ServerStatus, i: IncidentStatus, options: ViewOptions, open: boolean): SafeHtml {
  const t = textOf(options);
  const service = i.service === 'host' ? 'ping' : i.service;
  const opened = Date.parse(i.openedAt);
  const closed = i.closedAt !== undefined ? Date.parse(i.closedAt) : Infinity;
  // A transcript belongs to the incident whose lifetime it started in.
  const transcripts = options.showTranscripts ? data.transcripts(serverIdOf(s), service).filter((x) => Date.parse(x.startedAt) >= opened - 1000 && Date.parse(x.startedAt) <= closed) : [];
  const at = (iso: string): SafeHtml => html`${zoned(iso, options)} <span class="muted">(${when(iso, data.now, options)})</span>`;
  return html`<article class="incident ${open ? 'open' : 'closed'}">
    <header><strong>${i.service}</strong> <code class="muted">${i.id}</code>
      ${open ? html`<span class="badge st-down">open</span>` : html`<span class="badge st-ok">${i.closeReason ?? 'closed'}</span>`}</header>
    <dl class="kv">
      <dt>${t.detected}</dt><dd>${at(i.detectedAt)}</dd>
      <dt>${t.opened}</dt><dd>${at(i.openedAt)}</dd>
      ${i.closedAt !== undefined ? html`<dt>${t.closed}</dt><dd>${at(i.closedAt)}</dd>` : ''}
      <dt>${t.attempts}</dt><dd>${i.attempts.length === 0 ? t.noneYet : i.attempts.map((a) => html`<span class="attempt">#${a.n} ${a.verdict ?? t.running}</span> `)}</dd>
    </dl>
    ${phasesView(i, options)}
    ${
      options.showTranscripts
        ? transcripts.length > 0
          ? transcripts.map((x) => transcriptView(x, open, options))
          : open
            ? html`<p class="muted">${t.noTranscript}</p>`
            : ''
        : html`<p class="muted locked">${t.transcriptsLocked}</p>`
    }
  </article>`;
}

function serviceCard(data: PageData, s: ServerStatus, svc: string, options: ViewOptions): SafeHtml | string {
  const t = textOf(options);
  const st = s.services[svc];
  if (st === undefined) return '';
  const look = lookOf(st.state);
  const probe = st.lastProbe;
  const probeText = probe
    ? html`${t.lastProbe} ${when(probe.at, data.now, options)}: ${probe.up === true ? `${t.up}, ${formatMs(probe.latencyMs ?? 0)}` : probe.up === false ? `${t.failed} (${probe.failureKind ?? 'down'})` : t.unknown}`
    : t.notProbedYet;
  return html`<div class="card st-${look.cls}" id="svc-${svc}" data-service="${svc}" data-state="${st.state}">
      <div class="card-head"><span class="svc">${svc}</span><span class="state"><span aria-hidden="true">${look.symbol}</span> ${st.state}</span></div>
      <div class="card-sub">${words(st.state, t)}${st.escalation ? ` — ${st.escalation}` : st.hold ? ` — ${t.held}: ${st.hold}` : ''} · ${since(options, when(st.since, data.now, options))}</div>
      ${sparkline(data.latencies(serverIdOf(s), svc), { label: `${svc} ${t.latency}`, width: 220, height: 40 })}
      <div class="card-foot">${probeText}${st.consecutiveFailures > 0 ? ` · ${t.failuresInRow(st.consecutiveFailures)}` : ''}</div>
      ${st.certificate ? certificateLine(st.certificate, data.now, t) : ''}
      ${uptimeBars(data.uptime?.(serverIdOf(s), svc), t, options.timeZone ?? 'UTC')}
    </div>`;
}

export function renderServer(data: PageData, name: string, options: ViewOptions): SafeHtml {
  const t = textOf(options);
  // customer/name, or a bare name one customer alone has among the servers the reader may see.
  const s = findServer(data.servers, name);
  if (s === undefined) {
    // The name is not echoed: the reader guessed it, and a page must not repeat a name it may not show.
    return html`<p class="crumb"><a href="/">${t.fleet}</a></p><p class="empty">${t.noSuchServer}</p>`;
  }
  const services = sortServices(Object.keys(s.services));
  const active = s.conditions.filter((c) => c.status !== 'False' || c.type === 'Ready');
  const [hType, hStatus, hReason, hMessage, hSince] = t.conditionHead;
  return html`<p class="crumb"><a href="${customerHref(undefined)}">${t.fleet}</a>${s.metadata.customer ? html` · <a href="${customerHref(s.metadata.customer)}">${s.metadata.customer}</a>` : ''}</p>
  <h1 class="server-title">${s.metadata.name} ${readyBadge(s, t)} ${flags(s)}</h1>
  <p class="muted">${t.revisionLine} ${short(s.observedRevision)} · ${t.statusUpdated} ${when(s.updatedAt, data.now, options)}${s.owner !== undefined ? html` · <span data-owner="${s.owner}">${t.ownedBy(s.owner)}</span>` : ''}</p>
  ${maintenanceLine(s, options)}
  ${banners(data, options, s)}
  <section class="cards" aria-label="${t.services}">${services.map((svc) => serviceCard(data, s, svc, options))}</section>
  <h2>${t.conditions}</h2>
  <div class="table-wrap"><table class="conds"><thead><tr><th scope="col">${hType}</th><th scope="col">${hStatus}</th><th scope="col">${hReason}</th><th scope="col">${hMessage}</th><th scope="col">${hSince}</th></tr></thead>
  <tbody>${active.map(
    (c) => html`<tr class="c-${c.status === 'True' ? (c.type === 'Ready' ? 'ok' : 'bad') : c.status === 'False' ? (c.type === 'Ready' ? 'bad' : 'ok') : 'unknown'}"><td>${c.type}</td><td>${c.status}</td><td>${c.reason}</td><td>${c.message}</td><td>${when(c.lastTransitionTime, data.now, options)}</td></tr>`,
  )}</tbody></table></div>
  <p class="muted">${t.conditionsNote}</p>
  <h2>${t.openIncidentsHead}</h2>
  ${s.incidents.open.length === 0 ? html`<p class="muted">${t.none}</p>` : s.incidents.open.map((i) => incidentView(data, s, i, options, true))}
  <h2>${t.recentIncidents}</h2>
  ${s.incidents.recent.length === 0 ? html`<p class="muted">${t.none}</p>` : s.incidents.recent.slice(0, 3).map((i) => incidentView(data, s, i, options, false))}`;
}

// ---- the document ---------------------------------------------------------------------------

export function topMeta(data: PageData, options: Pick<ViewOptions, 'lang' | 'timeZone'> = {}): SafeHtml {
  const t = textOf(options);
  const src = data.source;
  const sourceText = src === undefined ? '' : src.consecutiveFailures > 0 ? t.sourceFailing : src.synced ? t.sourceInSync : t.firstSync;
  const now = new Date(data.now).toISOString();
  return html`<span>${t.revision} <code>${short(data.revision ?? data.desired?.revision)}</code></span>
    ${sourceText ? html`<span>${sourceText}</span>` : ''}
    <span class="updated">${t.updated} <time datetime="${now}">${zoned(now, options)}</time></span>`;
}

/** The language switch: the same page in the other language (the choice is kept in a cookie). */
function langSwitch(options: ViewOptions): SafeHtml {
  const t = textOf(options);
  const names: Record<PageLang, string> = { ja: '日本語', en: 'English' };
  return html`<nav class="lang" aria-label="${t.language}">${PAGE_LANGS.map((l) =>
    l === (options.lang ?? 'en')
      ? html`<span class="lang-on" lang="${l}" aria-current="true">${names[l]}</span>`
      : html`<a href="${options.langHref?.[l] ?? `?lang=${l}`}" lang="${l}" hreflang="${l}">${names[l]}</a>`,
  )}</nav>`;
}

export function renderDocument(title: string, data: PageData, body: SafeHtml, options: ViewOptions & { nonce: string }): string {
  const t = textOf(options);
  return `<!doctype html>${html`<html lang="${t.htmlLang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title}</title><meta name="robots" content="noindex"><link rel="icon" href="data:,">
<style>${raw(PAGE_CSS)}</style></head>
<body>
<header class="top"><a class="brand" href="/"><span class="logo" aria-hidden="true"><svg width="16" height="18" viewBox="0 0 16 18"><path d="M8 1 15 4v5c0 4-3 7-7 8-4-1-7-4-7-8V4z" fill="none" stroke="#fff" stroke-width="1.8" stroke-linejoin="round"/><path d="m4.8 9 2.2 2.2L11.4 6.8" fill="none" stroke="#fff" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg></span> mamori <span class="muted">status</span></a>
  <div class="meta" id="meta">${topMeta(data, options)}</div>
  <span class="live" id="live-state" role="status" aria-live="polite" data-on="${t.live}" data-off="${t.reconnecting}">${t.live}</span>
  ${langSwitch(options)}</header>
<main id="live" data-version="${options.version}">${body}</main>
<footer class="foot">${t.footer}</footer>
<script nonce="${options.nonce}">${raw(CLIENT_SCRIPT)}</script>
</body></html>`}`;
}
