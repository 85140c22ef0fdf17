/**
 * The status page's routes on the daemon's HTTP server: `GET /` (the fleet, `?customer=` to
 * filter), `GET /server?name=…` (one server), `GET /events` (SSE: "something changed"). Each
 * page answers `?fragment=1` with its live part as JSON, which the page's script swaps in.
 *
 * Read-only. Access: with `http.token` configured, the token is required — as a bearer header,
 * or once as `?token=` which sets an HttpOnly cookie and redirects to the clean URL. Without a
 * token the daemon listens on the loopback only and answers loopback clients. Transcripts are
 * rendered only for a reader who passed that check.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.ts';
import type { MassFailureEpisode } from '../../reconcile/types.ts';
import type { DesiredStatus } from '../../source/desired.ts';
import type { SyncerStatus } from '../../source/syncer.ts';
import type { ServerStatus } from '../../status/model.ts';
import { bearerToken, isLoopbackAddress, safeEqual } from '../auth.ts';
import type { HttpServer } from '../server.ts';
import { html } from './html.ts';
import type { PageLiveState } from './live-state.ts';
import type { PageData, ViewOptions } from './page-data.ts';
import { renderDocument, renderFleet, renderServer, topMeta } from './render.ts';

export const TOKEN_COOKIE = 'mamori_token';
const MAX_EVENT_STREAMS = 64;
const KEEPALIVE_MS = 15_000;

export interface StatusPageOptions {
  live: PageLiveState;
  /** The reconciler's view (controller.status()); undefined before it exists. */
  snapshot(): { revision: string; servers: readonly ServerStatus[]; massFailure: readonly MassFailureEpisode[] } | undefined;
  desired(): DesiredStatus | undefined;
  source(): SyncerStatus | undefined;
  token?: string;
  logger: Logger;
  now?: () => number;
}

type Access = { ok: true } | { ok: false; status: number; why: string } | { ok: 'redirect'; location: string; cookie: string };

function cookieToken(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function checkPageAccess(req: IncomingMessage, url: URL, token: string | undefined): Access {
  if (token === undefined) {
    return isLoopbackAddress(req.socket.remoteAddress) ? { ok: true } : { ok: false, status: 403, why: 'This page answers loopback clients only.' };
  }
  const given = bearerToken(req) ?? cookieToken(req);
  if (given !== undefined && safeEqual(given, token)) return { ok: true };
  const query = url.searchParams.get('token');
  if (query !== null && safeEqual(query, token)) {
    const clean = new URL(url.toString());
    clean.searchParams.delete('token');
    const cookie = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    return { ok: 'redirect', location: `${clean.pathname}${clean.search}`, cookie };
  }
  return { ok: false, status: 401, why: 'This page needs the status token: open it once with ?token=…, or send Authorization: Bearer.' };
}

function securityHeaders(nonce: string): Record<string, string> {
  return {
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
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

  const gather = (): PageData => {
    const snap = options.snapshot();
    const desired = options.desired();
    const source = options.source();
    return {
      now: now(),
      ...(snap?.revision ? { revision: snap.revision } : {}),
      servers: snap?.servers ?? [],
      massFailure: snap?.massFailure ?? [],
      ...(desired !== undefined ? { desired } : {}),
      ...(source !== undefined ? { source } : {}),
      latencies: (server, service) => options.live.latencies(server, service),
      transcripts: (server, service) => options.live.transcripts(server, service),
    };
  };

  const guard = (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    const access = checkPageAccess(req, url, options.token);
    if (access.ok === true) return true;
    if (access.ok === 'redirect') {
      res.writeHead(303, { location: access.location, 'set-cookie': access.cookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end();
      return false;
    }
    refuse(res, access.status, access.why);
    return false;
  };

  const page = (title: (data: PageData) => string, body: (data: PageData, view: ViewOptions) => ReturnType<typeof renderFleet>) => {
    return (req: IncomingMessage, res: ServerResponse, ctx: { url: URL }): void => {
      if (!guard(req, res, ctx.url)) return;
      const data = gather();
      const customer = ctx.url.searchParams.get('customer') ?? undefined;
      const view: ViewOptions = { showTranscripts: true, version: options.live.currentVersion, ...(customer ? { customer } : {}) };
      const main = body(data, view);
      if (ctx.url.searchParams.get('fragment') === '1') {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        res.end(JSON.stringify({ version: view.version, main: main.value, meta: topMeta(data).value }));
        return;
      }
      const nonce = randomBytes(16).toString('base64');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...securityHeaders(nonce) });
      res.end(renderDocument(title(data), data, main, { ...view, nonce }));
    };
  };

  http.route(
    'GET',
    '/',
    page(
      (d) => {
        const failing = d.servers.filter((s) => Object.values(s.services).some((x) => x.state !== 'Healthy' && x.state !== 'Recovered' && x.state !== 'Unknown')).length;
        return failing > 0 ? `(${failing} failing) mamori status` : 'mamori status';
      },
      renderFleet,
    ),
    'open',
  );
  http.route(
    'GET',
    '/server',
    (req, res, ctx) => {
      const name = ctx.url.searchParams.get('name') ?? '';
      return page(
        () => `${name} — mamori status`,
        (d, v) => renderServer(d, name, v),
      )(req, res, ctx);
    },
    'open',
  );
  http.route(
    'GET',
    '/events',
    (req, res, ctx) => {
      if (!guard(req, res, ctx.url)) return;
      if (streams >= MAX_EVENT_STREAMS) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '10' });
        res.end('too many live pages open; the page falls back to polling\n');
        return;
      }
      streams++;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ version: options.live.currentVersion })}\n\n`);
      const unsubscribe = options.live.subscribe(() => {
        res.write(`event: update\ndata: ${JSON.stringify({ version: options.live.currentVersion })}\n\n`);
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
    'open',
  );
  options.logger.debug({ token: options.token !== undefined }, 'status page registered');
}
