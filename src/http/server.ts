import { lstat, chmod, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isMamoriError, MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  bearerToken,
  crossSiteReason,
  hostAllowed,
  hostIsLoopback,
  isHubSignatureShaped,
  isJsonContentType,
  isLoopbackAddress,
  isLoopbackHost,
  TOKEN_COOKIE,
  TokenTable,
  tokenFromCookie,
  verifyHubSignature,
} from './auth.ts';
import { JSON_HEADERS, sendJsonStreamed, sendPieces } from './chunked-answer.ts';
import type { MamoriMetrics } from './metrics.ts';
import { SERVER_TLS_OPTIONS } from './tls-files.ts';
import { fleetViewOf, reaches, scopeDesired, scopeSnapshot, type Access, type FleetSnapshot, type FleetView, type Principal } from './scope.ts';
import type { DesiredStatus } from '../source/desired.ts';
import { serverIdOf } from '../manifest/server-id.ts';
import { FleetQueryError, parseFleetQuery, queryFleet, type FleetQuery } from './fleet-query.ts';

/**
 * The daemon's HTTP side (node:http, no framework): health, metrics, the status API, the local
 * API that `mamori resume|reconcile|confirm` talk to, and the git webhook — on TCP (http.listen)
 * and on the local API's Unix socket. The status page registers `/`, `/server` and `/events`
 * through `route()`.
 *
 * Every request, in this order: the route (404/405); on TCP, its Host (DNS rebinding: 421); who
 * is asking (401); whether that scope reaches the route (403, scope.ts); for a change, its Origin
 * (403) and its content type (415); only then its body.
 */
export interface ReadyState {
  ready: boolean;
  checks: Record<string, boolean>;
}

/** Who sent a local-API change, as a forward to another replica needs it (src/daemon/replica-routing.ts). */
export interface ApiOrigin {
  /** The bearer token presented; undefined for the socket's client. */
  token?: string;
  /** The replica that forwarded the request (header x-mamori-forwarded-by). */
  forwardedBy?: string;
}

const FORWARDED_BY = 'x-mamori-forwarded-by';
const REPLICA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The origin of a change: its bearer token (on TCP) and the replica that forwarded it, if one did. */
function originOf(req: IncomingMessage): ApiOrigin {
  const token = req.headers.authorization !== undefined ? bearerToken(req) : undefined;
  const by = req.headers[FORWARDED_BY];
  const forwardedBy = typeof by === 'string' && REPLICA_NAME.test(by) ? by : undefined;
  return { ...(token !== undefined ? { token } : {}), ...(forwardedBy !== undefined ? { forwardedBy } : {}) };
}

/** What the HTTP side may ask of the daemon. */
export interface DaemonApi {
  ready(): ReadyState;
  /** The operator's whole status (/api/status for the operator and the loopback). */
  status(): unknown;
  /** The reconciler's view and the desired state, which /api/status filters for a customer. */
  fleet(): { snapshot: FleetSnapshot | undefined; desired: DesiredStatus | undefined };
  /** `origin`: what a forward to another replica needs (the caller's token, who forwarded it). */
  resume(server: string, service?: string, origin?: ApiOrigin): Promise<unknown>;
  reconcile(options: { dryRun: boolean }, origin?: ApiOrigin): Promise<unknown>;
  confirm(revision: string, origin?: ApiOrigin): Promise<unknown>;
  /** The webhook's effect: ask for a sync now; returns without waiting for it. */
  syncNow(): void;
}

export interface HttpServerOptions {
  /** host:port; port 0 picks a free one. */
  listen: string;
  /** Serve `listen` over HTTPS with this pair (config http.tls, tls-files.ts); the Unix socket stays plain. */
  tls?: { cert: Buffer; key: Buffer };
  /** The local API's Unix socket; whoever can connect to it acts as the operator. */
  socket?: { path: string; mode: '0600' | '0660' };
  /** The configured tokens (hashed). None: loopback clients read (scope local), nobody changes anything over TCP. */
  tokens?: TokenTable;
  /** Host names answered besides the listen address and localhost (a reverse proxy's). Lower-case. */
  publicHosts?: readonly string[];
  webhookSecret?: string;
  api: DaemonApi;
  metrics: MamoriMetrics;
  logger: Logger;
  maxBodyBytes?: number;
}

export interface RequestContext {
  body: Buffer;
  url: URL;
  /** Who asks; undefined only on `open` routes. */
  principal: Principal | undefined;
  /** What of the fleet they may see (scope.ts): every response that lists servers filters by it. */
  view: FleetView;
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void> | void;

export interface RouteOptions {
  /**
   * A page people open in a browser: `?token=` once sets an HttpOnly cookie and redirects to the
   * clean URL, and refusals are rendered by `refuse` (HTML) instead of JSON.
   */
  page?: { refuse(res: ServerResponse, status: number, why: string): void };
}

interface Route {
  method: string;
  path: string;
  access: Access;
  handler: RouteHandler;
  options: RouteOptions;
}

type Transport = 'tcp' | 'unix';

/** The longest Unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[0-9.]+|localhost):([0-9]{1,5})$/.exec(listen);
  if (!match || !match[1] || !match[2]) throw new MamoriError('MAMORI_CONFIG_INVALID', `http.listen: "${listen}" is not host:port`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The client went away before its request was read: not our fault, not worth a stack trace. */
class ClientAborted extends Error {}

const SAFE_METHODS = new Set(['GET', 'HEAD']);
const LOCAL: Principal = { scope: 'local', name: 'loopback' };
const SOCKET: Principal = { scope: 'operator', via: 'socket', name: 'socket' };

export class HttpServer {
  private readonly options: HttpServerOptions;
  private readonly tokens: TokenTable;
  private readonly routes: Route[] = [];
  private server: Server | HttpsServer | undefined;
  private socketServer: Server | undefined;

  constructor(options: HttpServerOptions) {
    this.options = options;
    this.tokens = options.tokens ?? TokenTable.empty();
    const { host } = parseListen(options.listen);
    if (!isLoopbackHost(host) && this.tokens.size === 0) {
      throw new MamoriError('MAMORI_HTTP_LISTEN_UNSAFE', `http.listen ${options.listen} is beyond the loopback: configure a token (http.token or http.tokens)`);
    }
    if (options.socket !== undefined && Buffer.byteLength(options.socket.path) > MAX_SOCKET_PATH) {
      throw new MamoriError('MAMORI_CONFIG_INVALID', `http.socket: ${options.socket.path} is longer than ${MAX_SOCKET_PATH} bytes, the most a Unix socket path may be: set http.socket to a shorter path`);
    }
    this.defaultRoutes();
  }

  /** Add a route (the status page's come this way). Later routes do not override earlier ones. */
  route(method: string, path: string, handler: RouteHandler, access: Access = 'read', options: RouteOptions = {}): void {
    this.routes.push({ method, path, access, handler, options });
  }

  private defaultRoutes(): void {
    const { api, metrics } = this.options;
    this.route('GET', '/healthz', (_req, res) => sendJson(res, 200, { ok: true }), 'open');
    this.route(
      'GET',
      '/readyz',
      (_req, res) => {
        const state = api.ready();
        sendJson(res, state.ready ? 200 : 503, state);
      },
      'open',
    );
    this.route(
      'GET',
      '/metrics',
      // 12 MB at 10,000 servers: written some servers at a time, like /api/status.
      async (_req, res) => sendPieces(res, 200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }, await metrics.pieces()),
      'metrics',
    );
    // ~50 MB at 10,000 servers: written a batch of servers at a time, so probes due meanwhile run.
    this.route('GET', '/api/status', (_req, res, { view }) => sendJsonStreamed(res, 200, statusFor(api, view)));
    // The fleet a page at a time (fleet-query.ts): searched and filtered over every server of the view, bounded rows.
    this.route('GET', '/api/servers', (_req, res, { view, url }) => {
      let query: FleetQuery;
      try {
        query = parseFleetQuery(url.searchParams);
      } catch (err) {
        if (err instanceof FleetQueryError) throw new HttpError(400, err.message);
        throw err;
      }
      const snapshot = api.fleet().snapshot;
      const scoped = snapshot !== undefined ? scopeSnapshot(view, snapshot) : undefined;
      const slice = queryFleet(scoped?.servers ?? [], query);
      sendJson(res, 200, { ...(view.kind === 'customer' ? { customer: view.customer } : {}), revision: scoped?.revision, ...slice });
    });
    this.route(
      'POST',
      '/api/resume',
      async (req, res, { body }) => {
        const input = parseJsonBody(body);
        const server = stringField(input, 'server', true);
        const service = stringField(input, 'service', false);
        sendJson(res, 200, { ok: true, result: await api.resume(server as string, service, originOf(req)) });
      },
      'mutate',
    );
    this.route(
      'POST',
      '/api/reconcile',
      async (req, res, { body }) => {
        const input = parseJsonBody(body);
        const dryRun = input.dryRun === true;
        sendJson(res, 200, { ok: true, result: await api.reconcile({ dryRun }, originOf(req)) });
      },
      'mutate',
    );
    this.route(
      'POST',
      '/api/confirm',
      async (req, res, { body }) => {
        const input = parseJsonBody(body);
        const revision = stringField(input, 'revision', true) as string;
        sendJson(res, 200, { ok: true, result: await api.confirm(revision, originOf(req)) });
      },
      'mutate',
    );
    // The vantage-point agents' door (/api/observations, /api/agent/targets): agent-routes.ts.
    this.route(
      'POST',
      '/hooks/git',
      (_req, res) => {
        // The signature was checked before this handler runs; the body itself is never acted on:
        // a webhook only says "look now", the source decides what there is.
        api.syncNow();
        sendJson(res, 202, { ok: true, sync: 'started' });
      },
      'webhook',
    );
  }

  async start(): Promise<AddressInfo> {
    const { host, port } = parseListen(this.options.listen);
    const server = this.createServer('tcp');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    if (this.options.socket !== undefined) {
      try {
        this.socketServer = await this.listenSocket(this.options.socket.path, this.options.socket.mode);
      } catch (err) {
        await this.close();
        throw err;
      }
    }
    this.options.logger.info({ address: address.address, port: address.port, tls: this.options.tls !== undefined, socket: this.options.socket?.path, tokens: this.tokens.size }, 'http listening');
    return address;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /** A renewed certificate and key (tls-files.ts checked them): new connections get them, open ones keep theirs. */
  setTls(tls: { cert: Buffer; key: Buffer }): void {
    const server = this.server;
    if (server === undefined || !('setSecureContext' in server)) throw new Error('this listener does not serve HTTPS');
    server.setSecureContext({ cert: tls.cert, key: tls.key, ...SERVER_TLS_OPTIONS });
  }

  private createServer(transport: Transport): Server | HttpsServer {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res, transport);
    const tls = transport === 'tcp' ? this.options.tls : undefined;
    const server = tls !== undefined ? createHttpsServer({ cert: tls.cert, key: tls.key, ...SERVER_TLS_OPTIONS, handshakeTimeout: 10_000 }, handler) : createServer(handler);
    if (tls !== undefined) {
      // A client that does not trust us (or speaks plain HTTP) ends here: its side says why.
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: { remoteAddress?: string }) => this.options.logger.debug({ remote: socket.remoteAddress, reason: err.code ?? err.message }, 'tls handshake failed'));
    }
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    return server;
  }

  /**
   * The socket is created under a umask that leaves it to its owner, then given its mode: there
   * is no moment when another user could connect. A socket left by a crashed daemon is removed
   * (the state lock says none runs); anything else at that path is refused.
   */
  private async listenSocket(path: string, mode: '0600' | '0660'): Promise<Server> {
    const existing = await lstat(path).catch(() => undefined);
    if (existing !== undefined) {
      if (!existing.isSocket()) throw new MamoriError('MAMORI_CONFIG_INVALID', `http.socket: ${path} exists and is not a socket: move it away or set http.socket`);
      await unlink(path);
    }
    const server = this.createServer('unix') as Server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const before = process.umask(0o177);
      try {
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(before);
      }
    });
    await chmod(path, mode === '0660' ? 0o660 : 0o600);
    return server;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, transport: Transport): Promise<void> {
    const log = this.options.logger;
    let route: Route | undefined;
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '/', 'http://mamori.invalid');
      const path = url.pathname;
      const candidates = this.routes.filter((r) => r.path === path);
      route = candidates.find((r) => r.method === req.method || (req.method === 'HEAD' && r.method === 'GET'));
      if (!route) {
        if (candidates.length > 0) throw new HttpError(405, 'method not allowed', { allow: [...new Set(candidates.map((r) => r.method))].join(', ') });
        throw new HttpError(404, 'not found');
      }
      if (transport === 'tcp') this.checkHost(req);
      if (route.access === 'webhook') {
        await this.webhook(req, res, route, url);
        return;
      }
      let principal: Principal | undefined;
      if (route.access !== 'open') {
        const who = this.authenticate(req, res, url, transport, route);
        if (who === 'answered') return;
        if (who === undefined) {
          throw new HttpError(401, this.tokens.size === 0 ? 'this endpoint answers loopback clients only' : 'a bearer token is required', { 'www-authenticate': 'Bearer realm="mamori"' });
        }
        if (!reaches(who, route.access)) throw new HttpError(403, refusal(who, route.access));
        principal = who;
      }
      if (!SAFE_METHODS.has(req.method ?? '')) {
        const crossSite = crossSiteReason(req);
        if (crossSite !== undefined) throw new HttpError(403, `a change from another site is refused (${crossSite})`);
        if (!isJsonContentType(req.headers['content-type'])) throw new HttpError(415, 'a change must be sent as application/json');
      }
      const body = SAFE_METHODS.has(req.method ?? '') ? Buffer.alloc(0) : await readBody(req, this.options.maxBodyBytes ?? 64 * 1024);
      const view: FleetView = principal !== undefined ? fleetViewOf(principal) : { kind: 'none' };
      await route.handler(req, res, { body, url, principal, view });
    } catch (err) {
      if (err instanceof ClientAborted) {
        log.info({ method: req.method, path: url?.pathname, remote: req.socket.remoteAddress }, 'http request aborted by the client');
        res.destroy();
        return;
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        const page = route?.options.page;
        if (page !== undefined && err.status !== 405 && err.status !== 404) {
          page.refuse(res, err.status, err.message);
          return;
        }
        sendJson(res, err.status, { ok: false, error: err.message }, err.headers);
      } else if (isMamoriError(err)) {
        const status = err.code === 'MAMORI_DAEMON_NOT_HELD' || err.code === 'MAMORI_CLUSTER_NOT_OWNER' ? 409 : err.code === 'MAMORI_CLI_USAGE' ? 400 : err.code === 'MAMORI_CLUSTER_PEER_UNREACHABLE' ? 502 : 500;
        sendJson(res, status, { ok: false, code: err.code, error: err.message });
      } else {
        log.error({ err }, 'http handler failed');
        sendJson(res, 500, { ok: false, error: 'internal error' });
      }
    }
  }

  private checkHost(req: IncomingMessage): void {
    const allowed = hostAllowed(req.headers.host, {
      listenHost: parseListen(this.options.listen).host,
      localAddress: req.socket.localAddress,
      publicHosts: this.options.publicHosts ?? [],
    });
    if (!allowed) throw new HttpError(421, 'this server does not answer for that Host: use its address, localhost, or a name in http.publicHosts');
  }

  /**
   * Who asks: the socket's client is the operator; an `Authorization: Bearer` header must name a
   * known token; a page's cookie (reads only: a cookie rides along on cross-site requests); a
   * page's `?token=` once; and, with no token configured, a loopback client naming a loopback Host.
   */
  private authenticate(req: IncomingMessage, res: ServerResponse, url: URL, transport: Transport, route: Route): Principal | 'answered' | undefined {
    if (transport === 'unix') return SOCKET;
    if (req.headers.authorization !== undefined) {
      const given = bearerToken(req);
      const principal = given !== undefined ? this.tokens.lookup(given) : undefined;
      if (principal === undefined) throw new HttpError(401, 'that bearer token is not known', { 'www-authenticate': 'Bearer realm="mamori", error="invalid_token"' });
      return principal;
    }
    if (SAFE_METHODS.has(req.method ?? '')) {
      const cookie = tokenFromCookie(req.headers.cookie);
      const fromCookie = cookie !== undefined ? this.tokens.lookup(cookie) : undefined;
      if (fromCookie !== undefined) return fromCookie;
      const query = route.options.page !== undefined ? url.searchParams.get('token') : null;
      if (query !== null) {
        const fromQuery = this.tokens.lookup(query);
        if (fromQuery === undefined) throw new HttpError(401, 'that token is not known');
        const clean = new URL(url.toString());
        clean.searchParams.delete('token');
        res.writeHead(303, {
          location: `${clean.pathname}${clean.search}`,
          'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(query)}; HttpOnly; SameSite=Strict; Path=/`,
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
        });
        res.end();
        return 'answered';
      }
    }
    const proxied = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
    if (this.tokens.size === 0 && !proxied && isLoopbackAddress(req.socket.remoteAddress) && hostIsLoopback(req.headers.host)) return LOCAL;
    return undefined;
  }

  /** The signature's shape is checked before the body is read, its value after (it signs the body). */
  private async webhook(req: IncomingMessage, res: ServerResponse, route: Route, url: URL): Promise<void> {
    const secret = this.options.webhookSecret;
    if (!secret) throw new HttpError(404, 'no webhook secret is configured');
    const header = req.headers['x-hub-signature-256'];
    const signature = Array.isArray(header) ? undefined : header;
    if (!isHubSignatureShaped(signature)) {
      this.options.logger.warn({ remote: req.socket.remoteAddress }, 'webhook signature refused');
      throw new HttpError(401, 'bad signature');
    }
    const body = await readBody(req, this.options.maxBodyBytes ?? 1024 * 1024);
    if (!verifyHubSignature(secret, body, signature)) {
      this.options.logger.warn({ remote: req.socket.remoteAddress }, 'webhook signature refused');
      throw new HttpError(401, 'bad signature');
    }
    await route.handler(req, res, { body, url, principal: undefined, view: { kind: 'none' } });
  }

  async close(): Promise<void> {
    const servers = [this.server, this.socketServer].filter((s): s is Server | HttpsServer => s !== undefined);
    this.server = undefined;
    this.socketServer = undefined;
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            // Long-lived connections (/events, keep-alive) must not hold the daemon's exit.
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 1000).unref();
          }),
      ),
    );
    // A crash leaves the file for the next start to remove (under the state lock).
    if (this.options.socket !== undefined && servers.length > 0) await unlink(this.options.socket.path).catch(() => undefined);
  }
}

function refusal(principal: Principal, access: Access): string {
  if (access === 'mutate') {
    return principal.scope === 'local'
      ? 'changes go through the local socket (mamori resume|reconcile|confirm) or need an operator token'
      : `a ${principal.scope} token cannot change anything`;
  }
  return `a ${principal.scope === 'local' ? 'loopback client' : `${principal.scope} token`} does not reach this endpoint`;
}

/** /api/status: the operator's whole status, or a customer's servers and nothing else. */
function statusFor(api: DaemonApi, view: FleetView): unknown {
  if (view.kind === 'all') return api.status();
  const { snapshot, desired } = api.fleet();
  const scoped = snapshot !== undefined ? scopeSnapshot(view, snapshot) : undefined;
  const names = new Set(scoped?.servers.map(serverIdOf) ?? []);
  return {
    ...(view.kind === 'customer' ? { customer: view.customer } : {}),
    revision: scoped?.revision,
    servers: scoped?.servers ?? [],
    massFailure: scoped?.massFailure ?? [],
    ...(desired !== undefined ? { desired: scopeDesired(view, desired, names) } : {}),
  };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(new HttpError(413, `the body is over ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `the body is over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    // A client that hangs up mid-body: one quiet line where it is handled, no stack trace.
    req.on('error', () => reject(new ClientAborted()));
    req.on('close', () => {
      if (!req.complete) reject(new ClientAborted());
    });
  });
}

function parseJsonBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

function stringField(input: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = input[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw new HttpError(400, `field "${name}" must be a non-empty string`);
  return value;
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value, null, 2);
  res.writeHead(status, { ...headers, ...JSON_HEADERS });
  res.end(`${text}\n`);
}
