/**
 * The status page's routes on the daemon's HTTP server: `GET /` (the fleet, `?customer=` to
 * filter), `GET /server?name=…` (one server), `GET /events` (SSE: "something changed"). Each
 * page answers `?fragment=1` with its live part as JSON, which the page's script swaps in.
 *
 * Read-only, and who may read is the server's business (server.ts, scope.ts): a token as a bearer
 * header, or once as `?token=` which sets an HttpOnly cookie; without any token configured, loopback
 * clients. What they see is filtered here, in the data, before anything is rendered: a customer's
 * page, fragments and events are made from their servers only.
 */
import { findServer, serverIdOf } from '../../manifest/server-id.ts';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.ts';
import type { Transcript } from '../../runbook/execution.ts';
import type { DesiredStatus } from '../../source/desired.ts';
import type { SyncerStatus } from '../../source/syncer.ts';
import { TOKEN_COOKIE } from '../auth.ts';
import { scopeDesired, scopeSnapshot, visibleServers, type FleetSnapshot, type FleetView } from '../scope.ts';
import type { HttpServer, RequestContext } from '../server.ts';
import { html } from './html.ts';
import { badgeText, renderBadge } from './badge.ts';
import type { PageLiveState } from './live-state.ts';
import type { PageData, ViewOptions } from './page-data.ts';
import { renderDocument, renderFleet, renderServer, topMeta } from './render.ts';
import { LANG_COOKIE, PAGE_LANGS, PAGE_TEXT, pickLang, type PageLang } from './messages.ts';
import type { UptimeHistory } from '../../report/uptime.ts';
import { isStateFilter, MAX_SEARCH } from '../fleet-query.ts';

export { TOKEN_COOKIE };
const MAX_EVENT_STREAMS = 64;
const KEEPALIVE_MS = 15_000;

export interface StatusPageOptions {
  live: PageLiveState;
  /** The reconciler's view (controller.status()); undefined before it exists. */
  snapshot(): FleetSnapshot | undefined;
  /** The latest runbook transcripts of a service, as the controller keeps them (controller.transcripts). */
  transcripts(server: string, service: string): readonly Transcript[];
  desired(): DesiredStatus | undefined;
  source(): SyncerStatus | undefined;
  logger: Logger;
  now?: () => number;
  /** The zone of every absolute time on the page (config mail.timeZone); UTC when not given. */
  timeZone?: string;
  /** A service's 24 h / 30 d history from the journal (uptime-source.ts); no bars without it. */
  uptime?(server: string, service: string): UptimeHistory | undefined;
}

/** The language cookie's value, if it names one of ours (any other cookie is not read). */
function langCookie(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === LANG_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * This page's address in each language. Only a server or customer the reader may see is kept in
 * it: a guessed name is never echoed back (nor anything else from the query).
 */
function langHrefs(url: URL, data: PageData): Record<PageLang, string> {
  const keep = new URLSearchParams();
  const name = url.searchParams.get('name');
  if (url.pathname === '/server' && name !== null && findServer(data.servers, name) !== undefined) keep.set('name', name);
  const customer = url.searchParams.get('customer');
  if (customer !== null && data.servers.some((s) => s.metadata.customer === customer)) keep.set('customer', customer);
  if (url.pathname === '/') {
    // The grid's own search, state and page: what the reader typed, bounded, and values we know.
    const fq = fleetQueryOf(url);
    if (fq.search !== undefined) keep.set('q', fq.search);
    if (fq.state !== undefined) keep.set('state', fq.state);
    if (fq.page !== undefined && fq.page > 1) keep.set('page', String(fq.page));
  }
  const out = {} as Record<PageLang, string>;
  for (const l of PAGE_LANGS) {
    const q = new URLSearchParams(keep);
    q.set('lang', l);
    out[l] = `${url.pathname}?${q.toString()}`;
  }
  return out;
}

/**
 * What one reader may see, gathered for each request: the snapshot through `scopeSnapshot`, the
 * desired state through `scopeDesired`, latencies and transcripts of their servers only; the
 * source (its URL, its errors) is the operator's.
 */
export function pageDataFor(view: FleetView, options: Pick<StatusPageOptions, 'live' | 'snapshot' | 'transcripts' | 'desired' | 'source' | 'uptime'>, now: number): PageData {
  const full = options.snapshot();
  const snap = full !== undefined ? scopeSnapshot(view, full) : undefined;
  const names = new Set((snap?.servers ?? []).map(serverIdOf));
  const desired = options.desired();
  const source = view.kind === 'all' ? options.source() : undefined;
  return {
    now,
    ...(snap?.revision ? { revision: snap.revision } : {}),
    servers: snap?.servers ?? [],
    ...(snap?.unmonitored !== undefined ? { unmonitored: snap.unmonitored } : {}),
    massFailure: snap?.massFailure ?? [],
    ...(desired !== undefined ? { desired: scopeDesired(view, desired, names) } : {}),
    ...(source !== undefined ? { source } : {}),
    latencies: (server, service) => (names.has(server) ? options.live.latencies(server, service) : []),
    transcripts: (server, service) => (names.has(server) ? options.transcripts(server, service) : []),
    uptime: (server, service) => (names.has(server) ? options.uptime?.(server, service) : undefined),
  };
}

/** The grid's ?q= (trimmed, bounded), ?state= (a known filter) and ?page= (a number); anything else is left out. */
export function fleetQueryOf(url: URL): NonNullable<ViewOptions['fleetQuery']> {
  const search = (url.searchParams.get('q') ?? '').trim().slice(0, MAX_SEARCH);
  const state = url.searchParams.get('state') ?? '';
  const page = url.searchParams.get('page') ?? '';
  return {
    ...(search !== '' ? { search } : {}),
    ...(isStateFilter(state) ? { state } : {}),
    ...(/^[0-9]{1,6}$/.test(page) && Number(page) > 0 ? { page: Number(page) } : {}),
  };
}

function securityHeaders(nonce: string): Record<string, string> {
  return {
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  };
}

function refuse(res: ServerResponse, status: number, why: string): void {
  const nonce = randomBytes(12).toString('base64');
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...securityHeaders(nonce) });
  res.end(`<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><title>mamori status</title></head><body style="font-family:system-ui;padding:40px;color:#1c2430"><h1>mamori status</h1><p>${why}</p></body></html>`}`);
}

export function registerStatusPage(http: HttpServer, options: StatusPageOptions): void {
  const now = options.now ?? Date.now;
  let streams = 0;
  const asPage = { page: { refuse } };

  const page = (title: (data: PageData, lang: PageLang) => string, body: (data: PageData, view: ViewOptions) => ReturnType<typeof renderFleet>) => {
    return (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void => {
      const data = pageDataFor(ctx.view, options, now());
      const customer = ctx.url.searchParams.get('customer') ?? undefined;
      const explicit = ctx.url.searchParams.get('lang');
      const lang = pickLang(explicit, langCookie(req.headers.cookie), req.headers['accept-language']);
      const view: ViewOptions = {
        showTranscripts: true,
        version: options.live.currentVersion,
        lang,
        timeZone: options.timeZone ?? 'UTC',
        langHref: langHrefs(ctx.url, data),
        fleetQuery: fleetQueryOf(ctx.url),
        ...(customer ? { customer } : {}),
      };
      const main = body(data, view);
      // The language varies by these: a cache in between must not give one reader's to another.
      const vary = { vary: 'Accept-Language, Cookie' };
      if (ctx.url.searchParams.get('fragment') === '1') {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...vary });
        res.end(JSON.stringify({ version: view.version, main: main.value, meta: topMeta(data, view).value }));
        return;
      }
      const nonce = randomBytes(16).toString('base64');
      // An explicit choice is remembered (not a secret: only the page reads it).
      const remember = explicit === lang ? { 'set-cookie': `${LANG_COOKIE}=${lang}; SameSite=Strict; Path=/; Max-Age=31536000` } : {};
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...securityHeaders(nonce), ...vary, ...remember });
      res.end(renderDocument(title(data, lang), data, main, { ...view, nonce }));
    };
  };

  http.route(
    'GET',
    '/',
    page(
      (d, lang) => {
        const failing = d.servers.filter((s) => Object.values(s.services).some((x) => x.state !== 'Healthy' && x.state !== 'Recovered' && x.state !== 'Unknown')).length;
        return failing > 0 ? PAGE_TEXT[lang].failingTitle(failing) : PAGE_TEXT[lang].statusTitle;
      },
      renderFleet,
    ),
    'read',
    asPage,
  );
  http.route(
    'GET',
    '/server',
    (req, res, ctx) => {
      const name = ctx.url.searchParams.get('name') ?? '';
      return page(
        // Named only when it is one of the reader's servers: a guessed name is not echoed back.
        (d, lang) => (findServer(d.servers, name) !== undefined ? `${name} — ${PAGE_TEXT[lang].statusTitle}` : PAGE_TEXT[lang].statusTitle),
        (d, v) => renderServer(d, name, v),
      )(req, res, ctx);
    },
    'read',
    asPage,
  );
  http.route(
    'GET',
    '/badge',
    (_req, res, ctx) => {
      const server = ctx.url.searchParams.get('server') ?? '';
      const service = ctx.url.searchParams.get('service') ?? undefined;
      // The reader's view, filtered by scope: another customer's server draws as unknown.
      const data = pageDataFor(ctx.view, options, now());
      res.writeHead(200, { 'content-type': 'image/svg+xml; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
      res.end(renderBadge(badgeText(data.servers, server, service)));
    },
    'read',
  );
  http.route(
    'GET',
    '/events',
    (_req, res, ctx) => {
      if (streams >= MAX_EVENT_STREAMS) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '10' });
        res.end('too many live pages open; the page falls back to polling\n');
        return;
      }
      streams++;
      const view = ctx.view;
      // A reader hears of changes to servers they may see, and of fleet-wide ones (which their page may show).
      const concerns = (servers: ReadonlySet<string> | undefined): boolean => {
        if (servers === undefined || view.kind === 'all') return true;
        const snap = options.snapshot();
        return snap !== undefined && visibleServers(view, snap.servers).some((s) => servers.has(serverIdOf(s)));
      };
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no', 'x-content-type-options': 'nosniff' });
      res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ version: options.live.currentVersion })}\n\n`);
      const unsubscribe = options.live.subscribe((_reason, servers) => {
        if (concerns(servers)) res.write(`event: update\ndata: ${JSON.stringify({ version: options.live.currentVersion })}\n\n`);
      });
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      const done = (): void => {
        clearInterval(keepalive);
        unsubscribe();
        streams--;
      };
      res.once('close', done);
    },
    'read',
  );
  options.logger.debug('status page registered');
}
