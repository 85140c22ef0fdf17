/**
 * Servers nobody probes: removed from the manifests, invalid with no last good manifest, or
 * outside the operator's target networks. Each keeps a status file that says so — Monitored False
 * with the reason and since when, Ready Unknown — so that no status file says Ready for a server
 * nobody watches. Pure: the controller writes what this returns.
 */
import { splitServerId } from '../manifest/server-id.ts';
import { mergeConditions } from '../status/conditions.ts';
import { STATUS_API_VERSION, STATUS_KIND, type ServerStatus } from '../status/model.ts';

export const UNMONITORED_REASONS = ['Removed', 'OutsideTargetNetworks', 'ManifestInvalid', 'NotInDesiredState'] as const;
export type UnmonitoredReason = (typeof UNMONITORED_REASONS)[number];

/** How long a removed server's status file stays in status/ (saying so) before it is archived. */
export const UNMONITORED_RETENTION_MS = 30 * 24 * 3600_000;

export interface Unmonitored {
  /** The server's id (customer/name). */
  name: string;
  customer?: string;
  reason: UnmonitoredReason;
  message: string;
  /** When mamori stopped probing it (ms). */
  since: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function unmonitoredStatus(u: Unmonitored, revision: string, now: number, previous?: ServerStatus): ServerStatus {
  const message = `${u.message}; not probed since ${iso(u.since)}`;
  const conditions = mergeConditions(
    // The Monitored condition turned False at `since`, whatever the previous file says.
    previous?.conditions.filter((c) => c.type !== 'Monitored' || c.status === 'False'),
    [
      { type: 'Ready', status: 'Unknown', reason: 'NotMonitored', message: 'nobody probes this server' },
      { type: 'Monitored', status: 'False', reason: u.reason, message },
    ],
    iso(u.since),
  );
  const customer = u.customer ?? previous?.metadata.customer;
  return {
    apiVersion: STATUS_API_VERSION,
    kind: STATUS_KIND,
    metadata: customer !== undefined ? { name: splitServerId(u.name).name, customer } : { name: u.name },
    observedRevision: revision,
    updatedAt: iso(now),
    conditions,
    services: {},
    incidents: { open: [], recent: previous?.incidents.recent ?? [] },
  };
}

/** A status file that already says this server is not monitored: its reason and since when. */
export function unmonitoredOf(s: ServerStatus): { reason: UnmonitoredReason; since: number; message: string } | undefined {
  const c = s.conditions.find((x) => x.type === 'Monitored');
  if (c === undefined || c.status !== 'False') return undefined;
  const reason = (UNMONITORED_REASONS as readonly string[]).includes(c.reason) ? (c.reason as UnmonitoredReason) : 'NotInDesiredState';
  const since = Date.parse(c.lastTransitionTime);
  return { reason, since: Number.isFinite(since) ? since : 0, message: c.message.replace(/; not probed since .*$/, '') };
}
