/** A real HttpServer on the loopback (and a Unix socket) over a scripted daemon: two customers' servers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { TokenTable, type TokenGrant } from '../../src/http/auth.ts';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import type { FleetSnapshot } from '../../src/http/scope.ts';
import { PageLiveState } from '../../src/http/page/live-state.ts';
import { registerStatusPage } from '../../src/http/page/status-page.ts';
import { registerReportRoute } from '../../src/http/report-route.ts';
import { registerAgentRoutes } from '../../src/http/agent-routes.ts';
import { HttpServer, type DaemonApi } from '../../src/http/server.ts';
import { MamoriError } from '../../src/errors.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import type { ServerStatus } from '../../src/status/model.ts';

let servers: HttpServer[] = [];
let dirs: string[] = [];
afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

interface Calls {
  syncs: number;
  resumed: [string, string | undefined][];
  reconciled: boolean[];
  confirmed: string[];
}

export const OPERATOR = 'operator-token-0123456789';
export const ACME = 'acme-status-token-0123456789';
export const METRICS = 'metrics-scrape-token-0123456789';
export const AGENT = 'agent-vantage-token-0123456789';
export const GRANTS: TokenGrant[] = [
  { scope: 'operator', name: 'ops', token: OPERATOR },
  { scope: 'customer', customer: 'acme', name: 'acme-status', token: ACME },
  { scope: 'metrics', name: 'prom', token: METRICS },
  { scope: 'agent', name: 'vantage', token: AGENT },
];

function serverStatus(name: string, customer: string): ServerStatus {
  return {
    apiVersion: 'mamori/v1',
    kind: 'ServerStatus',
    metadata: { name, customer },
    observedRevision: 'abc',
    updatedAt: '2026-12-01T00:00:00Z',
    conditions: [{ type: 'Ready', status: 'True', reason: 'AllServicesHealthy', message: `${name} answers on 203.0.113.${customer === 'acme' ? 10 : 20}`, lastTransitionTime: '2026-12-01T00:00:00Z' }],
    services: { http: { state: 'Healthy', since: '2026-12-01T00:00:00Z', consecutiveFailures: 0 } },
    incidents: { open: [], recent: [] },
  };
}

export const FLEET: FleetSnapshot = {
  revision: 'abc',
  servers: [serverStatus('acme-web1', 'acme'), serverStatus('globex-db1', 'globex')],
  massFailure: [{ scope: { kind: 'network', value: '203.0.113.0/24' }, since: 0, down: 2, total: 2, servers: ['acme/acme-web1', 'globex/globex-db1'] }],
};

export async function start(options: { tokens?: TokenGrant[]; webhookSecret?: string; maxBodyBytes?: number; publicHosts?: string[]; socket?: boolean; socketMode?: '0600' | '0660'; logger?: Logger } = {}) {
  const calls: Calls = { syncs: 0, resumed: [], reconciled: [], confirmed: [] };
  const api: DaemonApi = {
    ready: () => ({ ready: true, checks: { sourceSynced: true, lockHeld: true } }),
    status: () => ({ revision: 'abc', reconciler: FLEET }),
    fleet: () => ({ snapshot: FLEET, desired: undefined }),
    resume: async (server, service) => {
      calls.resumed.push([server, service]);
      return { resumed: server };
    },
    reconcile: async ({ dryRun }) => {
      calls.reconciled.push(dryRun);
      return { actions: [] };
    },
    confirm: async (revision) => {
      if (revision !== 'held1234') throw new MamoriError('MAMORI_DAEMON_NOT_HELD');
      calls.confirmed.push(revision);
      return { result: 'applied' };
    },
    syncNow: () => {
      calls.syncs += 1;
    },
  };
  const metrics = new MamoriMetrics();
  let socket: string | undefined;
  if (options.socket) {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-http-'));
    dirs.push(dir);
    socket = join(dir, 'mamori.sock');
  }
  const server = new HttpServer({
    listen: '127.0.0.1:0',
    api,
    metrics,
    logger: options.logger ?? silentLogger(),
    ...(options.tokens ? { tokens: TokenTable.from(options.tokens) } : {}),
    ...(options.webhookSecret ? { webhookSecret: options.webhookSecret } : {}),
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    ...(options.publicHosts ? { publicHosts: options.publicHosts } : {}),
    ...(socket ? { socket: { path: socket, mode: options.socketMode ?? '0600' } } : {}),
  });
  servers.push(server);
  const live = new PageLiveState();
  registerStatusPage(server, { live, snapshot: () => FLEET, transcripts: () => [], desired: () => undefined, source: () => undefined, logger: silentLogger() });
  const stateDir = mkdtempSync(join(tmpdir(), 'mamori-http-state-'));
  dirs.push(stateDir);
  registerReportRoute(server, { stateDir, servers: () => FLEET.servers.map((s) => ({ name: s.metadata.name, customer: s.metadata.customer as string, services: ['http'] })) });
  // No vantages configured: the agents' door answers 501 to an agent, 403 to anyone else.
  registerAgentRoutes(server, { board: undefined, agents: new Map(), targets: () => ({ intervalSeconds: 30, timeoutSeconds: 5, servers: [] }), watched: () => false, now: () => Date.now(), logger: silentLogger() });
  const address = await server.start();
  const base = `http://127.0.0.1:${address.port}`;
  return { base, port: address.port, calls, metrics, server, socket, live };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A request with exactly these headers (a browser's, an attacker's): node:http, so Host is ours to set. */
export function send(where: { port: number } | { socket: string }, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ ...('socket' in where ? { socketPath: where.socket } : { host: '127.0.0.1', port: where.port }), method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const JSON_TYPE = { 'content-type': 'application/json' };

