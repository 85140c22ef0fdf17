import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMamoriError, MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { bearerToken, isLoopbackAddress, isLoopbackHost, safeEqual, verifyHubSignature } from './auth.ts';
import type { MamoriMetrics } from './metrics.ts';

/**
 * The daemon's HTTP side (node:http, no framework): health, metrics, the status API, the local
 * API that `mamori resume|reconcile|confirm` talk to, and the git webhook. The status page
 * registers `/` and `/events` through `route()`.
 */
export interface ReadyState {
  ready: boolean;
  checks: Record<string, boolean>;
}

/** What the HTTP side may ask of the daemon. */
export interface DaemonApi {
  ready(): ReadyState;
  status(): unknown;
  resume(server: string, service?: string): Promise<unknown>;
  reconcile(options: { dryRun: boolean }): Promise<unknown>;
  confirm(revision: string): Promise<unknown>;
  /** The webhook's effect: ask for a sync now; returns without waiting for it. */
  syncNow(): void;
}

export interface HttpServerOptions {
  /** host:port; port 0 picks a free one. */
  listen: string;
  token?: string;
  webhookSecret?: string;
  api: DaemonApi;
  metrics: MamoriMetrics;
  logger: Logger;
  maxBodyBytes?: number;
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, ctx: { body: Buffer; url: URL }) => Promise<void> | void;

interface Route {
  method: string;
  path: string;
  /** `protected`: the token when configured, else loopback clients only. */
  access: 'open' | 'protected' | 'webhook';
  handler: RouteHandler;
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[0-9.]+|localhost):([0-9]{1,5})$/.exec(listen);
  if (!match || !match[1] || !match[2]) throw new MamoriError('MAMORI_CONFIG_INVALID', `http.listen: "${listen}" is not host:port`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class HttpServer {
  private readonly options: HttpServerOptions;
  private readonly routes: Route[] = [];
  private server: Server | undefined;

  constructor(options: HttpServerOptions) {
    this.options = options;
    const { host } = parseListen(options.listen);
    if (!isLoopbackHost(host) && !options.token) {
      throw new MamoriError('MAMORI_HTTP_LISTEN_UNSAFE', `http.listen ${options.listen} is beyond the loopback: set http.token`);
    }
    this.defaultRoutes();
  }

  /** Add a route (the status page's `/` and `/events` come this way). Later routes do not override earlier ones. */
  route(method: string, path: string, handler: RouteHandler, access: Route['access'] = 'protected'): void {
    this.routes.push({ method, path, access, handler });
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
      async (_req, res) => {
        const text = await metrics.text();
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(text);
      },
      'open',
    );
    this.route('GET', '/api/status', (_req, res) => sendJson(res, 200, api.status()));
    this.route('POST', '/api/resume', async (_req, res, { body }) => {
      const input = parseJsonBody(body);
      const server = stringField(input, 'server', true);
      const service = stringField(input, 'service', false);
      sendJson(res, 200, { ok: true, result: await api.resume(server as string, service) });
    });
    this.route('POST', '/api/reconcile', async (_req, res, { body }) => {
      const input = parseJsonBody(body);
      const dryRun = input.dryRun === true;
      sendJson(res, 200, { ok: true, result: await api.reconcile({ dryRun }) });
    });
    this.route('POST', '/api/confirm', async (_req, res, { body }) => {
      const input = parseJsonBody(body);
      const revision = stringField(input, 'revision', true) as string;
      sendJson(res, 200, { ok: true, result: await api.confirm(revision) });
    });
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
    const server = createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.options.logger.info({ address: address.address, port: address.port }, 'http listening');
    return address;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const log = this.options.logger;
    try {
      const url = new URL(req.url ?? '/', 'http://mamori.invalid');
      const candidates = this.routes.filter((r) => r.path === url.pathname);
      const route = candidates.find((r) => r.method === req.method);
      if (!route) {
        if (candidates.length > 0) throw new HttpError(405, 'method not allowed');
        throw new HttpError(404, 'not found');
      }
      const body = req.method === 'GET' || req.method === 'HEAD' ? Buffer.alloc(0) : await readBody(req, this.options.maxBodyBytes ?? 1024 * 1024);
      if (route.access === 'protected') this.authorize(req);
      if (route.access === 'webhook') {
        const secret = this.options.webhookSecret;
        if (!secret) throw new HttpError(404, 'no webhook secret is configured');
        const header = req.headers['x-hub-signature-256'];
        if (!verifyHubSignature(secret, body, Array.isArray(header) ? header[0] : header)) {
          log.warn({ remote: req.socket.remoteAddress }, 'webhook signature refused');
          throw new HttpError(401, 'bad signature');
        }
      }
      await route.handler(req, res, { body, url });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendJson(res, err.status, { ok: false, error: err.message });
      } else if (isMamoriError(err)) {
        const status = err.code === 'MAMORI_DAEMON_NOT_HELD' ? 409 : err.code === 'MAMORI_CLI_USAGE' ? 400 : 500;
        sendJson(res, status, { ok: false, code: err.code, error: err.message });
      } else {
        log.error({ err }, 'http handler failed');
        sendJson(res, 500, { ok: false, error: 'internal error' });
      }
    }
  }

  private authorize(req: IncomingMessage): void {
    const token = this.options.token;
    if (token) {
      const given = bearerToken(req);
      if (!given || !safeEqual(given, token)) throw new HttpError(401, 'a bearer token is required');
      return;
    }
    if (!isLoopbackAddress(req.socket.remoteAddress)) throw new HttpError(403, 'the local API answers loopback clients only');
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Long-lived connections (/events, keep-alive) must not hold the daemon's exit.
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 1000).unref();
    });
  }
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
    req.on('error', reject);
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

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}
