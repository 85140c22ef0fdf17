/**
 * One status across replicas, the pure part: what of a server's status is a change worth an etcd
 * write, the fleet as any replica shows it (its own servers live, the others as their owners
 * published them, each with its owner), and the status branch's commit trailer.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerStatus, ServiceStatus } from '../status/model.ts';

/**
 * The status without what moves on every probe (the probe's time and latency, when a certificate or
 * a vote was seen, the file's own time) and without the manifests revision it was computed against
 * (the same on every replica; a new revision is no change of the server): two statuses with the same
 * key are the same news. The owner writes to etcd only when this changes.
 */
export function statusChangeKey(s: ServerStatus): string {
  const services: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(s.services)) services[name] = serviceKey(v);
  const { updatedAt: _updatedAt, observedRevision: _observedRevision, services: _services, publishedBy: _publishedBy, ...rest } = s;
  return JSON.stringify({ ...rest, services });
}

function serviceKey(v: ServiceStatus): unknown {
  const { lastProbe, certificate, quorum, ...rest } = v;
  return {
    ...rest,
    ...(lastProbe !== undefined ? { lastProbe: { up: lastProbe.up, failureKind: lastProbe.failureKind } } : {}),
    ...(certificate !== undefined ? { certificate: { ...certificate, observedAt: undefined } } : {}),
    ...(quorum !== undefined
      ? { quorum: { judgement: quorum.judgement, lost: quorum.lost, missingNetworks: quorum.missingNetworks, votes: quorum.votes.map((x) => ({ vantage: x.vantage, network: x.network, up: x.up })) } }
      : {}),
  };
}

/** Whether any service of the status was probed by its writer (a status from before the first probe is not news). */
export function probedStatus(s: ServerStatus): boolean {
  return Object.values(s.services).some((v) => v.lastProbe !== undefined);
}

/**
 * A status document read from etcd, checked before it is shown or committed: the shape the page
 * and the status branch rely on, and the server it names is the key's. Undefined when it is not.
 */
export function parseStatusDoc(value: string, key: string): ServerStatus | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const s = doc as Partial<ServerStatus>;
  if (s.kind !== 'ServerStatus' || typeof s.metadata?.name !== 'string' || !Array.isArray(s.conditions) || typeof s.services !== 'object' || s.services === null) return undefined;
  if (typeof s.incidents !== 'object' || s.incidents === null || !Array.isArray(s.incidents.open) || !Array.isArray(s.incidents.recent)) return undefined;
  const status = s as ServerStatus;
  if (statusKeyOf(status) !== key) return undefined;
  return status;
}

/** A server's key among replicas (as serverKey in src/reconcile/coordinator.ts): its id, a bare name under `_`. */
export function statusKeyOf(s: { metadata: { name: string; customer?: string | undefined } }): string {
  const id = serverIdOf(s);
  return id.includes('/') ? id : `_/${id}`;
}

export interface FleetMergeInput {
  /** This replica. */
  self: string;
  /** The servers of this replica's desired state as its controller shows them. */
  local: readonly ServerStatus[];
  /** The live owner of a server key (rendezvous over the live replicas). */
  ownerOf(key: string): string | undefined;
  /** What the owners published, by server key. */
  published: { get(key: string): ServerStatus | undefined };
}

export interface FleetMerge {
  servers: ServerStatus[];
  /** Servers shown from a view that is not their live owner's (a handover in progress, or not yet published). */
  handovers: number;
}

/**
 * The fleet as any replica shows it, in the order of its desired state: a server this replica owns
 * from its own controller (live); another's as its owner published it; while the owner changes, the
 * previous owner's last word (or this replica's own view when nothing was published) with
 * `publishedBy` saying whose view it is. Servers published but not in this replica's desired state
 * (another revision, removed) are not shown: the desired state decides what exists.
 */
export function mergeFleetStatus(input: FleetMergeInput): FleetMerge {
  const servers: ServerStatus[] = [];
  let handovers = 0;
  for (const s of input.local) {
    const key = statusKeyOf(s);
    const owner = input.ownerOf(key);
    if (owner === undefined || owner === input.self) {
      servers.push({ ...s, ...(owner !== undefined ? { owner } : {}) });
      continue;
    }
    const doc = input.published.get(key);
    if (doc !== undefined && doc.owner === owner) {
      servers.push(doc);
      continue;
    }
    handovers++;
    const shown = doc ?? s;
    servers.push({ ...shown, owner, publishedBy: doc?.owner ?? input.self });
  }
  return { servers, handovers };
}

/** The trailer a status branch commit carries: the etcd revision its tree was read at. */
export const STATUS_REVISION_TRAILER = 'Mamori-Status-Revision';

export function statusCommitMessage(o: { manifestsRevision: string; etcdRevision: number; publisher: string; term: number; servers: number }): string {
  return [
    `status at manifests revision ${o.manifestsRevision}`,
    '',
    `${o.servers} server${o.servers === 1 ? '' : 's'}, as their owners published them.`,
    '',
    `${STATUS_REVISION_TRAILER}: ${o.etcdRevision}`,
    `Mamori-Status-Publisher: ${o.publisher} (term ${o.term})`,
    '',
  ].join('\n');
}

/** The etcd revision a status branch commit was read at; undefined for a commit without the trailer. */
export function statusRevisionOf(message: string): number | undefined {
  for (const line of message.split('\n')) {
    if (!line.startsWith(`${STATUS_REVISION_TRAILER}: `)) continue;
    const n = Number(line.slice(STATUS_REVISION_TRAILER.length + 2).trim());
    if (Number.isSafeInteger(n) && n > 0) return n;
  }
  return undefined;
}

/**
 * Whether the publisher commits a snapshot read at `snapshotRevision` onto a branch whose tip was
 * read at `tipRevision`: only the elected publisher, and only forward — a snapshot no newer than
 * the tip's (a paused former publisher waking up, a retry after another pushed) is never committed
 * over it, so the branch never goes back and never holds one change twice.
 */
export function planStatusCommit(o: { leader: boolean; tipRevision: number | undefined; snapshotRevision: number }): 'build' | 'skip' {
  if (!o.leader) return 'skip';
  if (o.tipRevision !== undefined && o.tipRevision >= o.snapshotRevision) return 'skip';
  return 'build';
}
