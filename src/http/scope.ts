/**
 * One access model for everything mamori serves. A request has a principal (who), an endpoint has
 * an access class (what it needs), and `reaches` is the whole table between them. What a reader
 * may *see* is `fleetViewOf` + `visibleServers`: every endpoint that shows servers (page, SSE,
 * /api/status, /report, a badge) filters its data through them, never its markup.
 *
 * Pure: no I/O, no node: imports.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { MassFailureEpisode } from '../reconcile/types.ts';
import type { DesiredStatus } from '../source/desired.ts';
import type { ServerStatus } from '../status/model.ts';

export type Scope = 'operator' | 'customer' | 'agent' | 'metrics';

export type Principal =
  /** Everything; `socket`: a client of the local API's Unix socket (file permissions decide who). */
  | { scope: 'operator'; via: 'token' | 'socket'; name: string }
  /** Read-only, that customer's servers only. */
  | { scope: 'customer'; customer: string; name: string }
  /** Observations from a vantage-point agent, nothing else. */
  | { scope: 'agent'; name: string }
  /** GET /metrics, nothing else. */
  | { scope: 'metrics'; name: string }
  /**
   * No token is configured and the client is on the loopback (the quick start): it reads
   * everything and scrapes metrics, and changes nothing — a browser on this machine can be made
   * to send requests by any web page, so a change needs the socket or an operator token.
   */
  | { scope: 'local'; name: 'loopback' };

/** What an endpoint needs. */
export type Access =
  /** /healthz, /readyz: anyone who reaches the port. */
  | 'open'
  /** The page, /events, /api/status, /report: filtered by fleetViewOf. */
  | 'read'
  | 'metrics'
  /** resume, reconcile, confirm. */
  | 'mutate'
  /** An agent's observations. */
  | 'observe'
  /** POST /hooks/git: its own HMAC signature, no principal. */
  | 'webhook';

const REACH: Record<Principal['scope'], readonly Access[]> = {
  operator: ['open', 'read', 'metrics', 'mutate', 'observe'],
  customer: ['open', 'read'],
  agent: ['open', 'observe'],
  metrics: ['open', 'metrics'],
  local: ['open', 'read', 'metrics'],
};

export function reaches(principal: Principal, access: Access): boolean {
  return REACH[principal.scope].includes(access);
}

/** The part of the fleet a principal may see. */
export type FleetView = { kind: 'all' } | { kind: 'customer'; customer: string } | { kind: 'none' };

export function fleetViewOf(principal: Principal): FleetView {
  switch (principal.scope) {
    case 'operator':
    case 'local':
      return { kind: 'all' };
    case 'customer':
      return { kind: 'customer', customer: principal.customer };
    default:
      return { kind: 'none' };
  }
}

/** Whether a server (by its metadata) is in the view. A server without a customer is the operator's. */
export function canSee(view: FleetView, metadata: { customer?: string | undefined }): boolean {
  if (view.kind === 'all') return true;
  if (view.kind === 'none') return false;
  return metadata.customer !== undefined && metadata.customer === view.customer;
}

/** THE filter: the servers a view may see, in their order. Everything that lists servers goes through it. */
export function visibleServers<T extends { metadata: { customer?: string | undefined } }>(view: FleetView, servers: readonly T[]): T[] {
  if (view.kind === 'all') return [...servers];
  return servers.filter((s) => canSee(view, s.metadata));
}

export interface FleetSnapshot {
  revision: string;
  servers: readonly ServerStatus[];
  /** Servers nobody probes, and why (a reader sees only their customer's). */
  unmonitored?: ReadonlyArray<{ name: string; customer?: string; reason: string; message: string; since: number }>;
  massFailure: readonly MassFailureEpisode[];
}

/**
 * The reconciler's view for a reader: their servers, and the mass-failure episodes that hold one
 * of them (listing only theirs). The episode's scope (a /24 or a site their server is in) and its
 * counts stay: they say why their server is not being repaired.
 */
export function scopeSnapshot(view: FleetView, snapshot: FleetSnapshot): FleetSnapshot {
  const servers = visibleServers(view, snapshot.servers);
  const unmonitored = snapshot.unmonitored !== undefined ? { unmonitored: visibleServers(view, snapshot.unmonitored.map((u) => ({ ...u, metadata: { customer: u.customer } }))).map(({ metadata: _m, ...u }) => u) } : {};
  if (view.kind === 'all') return { revision: snapshot.revision, servers, ...unmonitored, massFailure: snapshot.massFailure };
  const names = new Set(servers.map(serverIdOf));
  const massFailure = snapshot.massFailure.flatMap((e) => {
    const theirs = e.servers.filter((n) => names.has(n));
    return theirs.length > 0 ? [{ ...e, servers: theirs }] : [];
  });
  return { revision: snapshot.revision, servers, ...unmonitored, massFailure };
}

/**
 * The desired state for a reader. A customer sees the revision and the findings of their own
 * files and servers; held and refused revisions (which name other customers' servers and files)
 * are the operator's.
 */
export function scopeDesired(view: FleetView, desired: DesiredStatus, visibleNames: ReadonlySet<string>): DesiredStatus {
  if (view.kind === 'all') return desired;
  const prefix = view.kind === 'customer' ? `customers/${view.customer}/` : undefined;
  const ownFile = (file: string): boolean => prefix !== undefined && (file.startsWith(prefix) || file.includes(`/${prefix}`));
  return {
    ...(desired.revision !== undefined ? { revision: desired.revision } : {}),
    ...(desired.appliedAt !== undefined ? { appliedAt: desired.appliedAt } : {}),
    servers: visibleNames.size,
    manifestInvalid: Object.fromEntries(Object.entries(desired.manifestInvalid).filter(([name]) => visibleNames.has(name))),
    findings: desired.findings.filter((f) => ownFile(f.file)),
  };
}
