/**
 * The local API among replicas: whichever replica is asked (its socket, its TCP API, or the CLI on
 * its host), `resume` is carried out by the replica that owns the server, and `reconcile --once`
 * and `confirm` by every live replica (each reconciles its own shard; each holds its own copy of
 * a held revision). Alone (no cluster) every call is simply local.
 *
 * A forward carries the caller's operator token (a caller on the socket: this replica's own
 * operator token) and `x-mamori-forwarded-by`; a forwarded request is answered where it lands and
 * never forwarded again. A replica asked to resume a server it does not own by a forward (the two
 * views of the membership differ for a moment) refuses with MAMORI_CLUSTER_NOT_OWNER and the
 * forwarding replica asks again once the views agree (bounded).
 */
import { callPeer, type PeerReply } from '../cluster/peer-api.ts';
import { ERROR_CATALOG, MamoriError, type ErrorCode } from '../errors.ts';
import type { ApiOrigin } from '../http/server.ts';
import type { Logger } from '../log.ts';
import type { ServiceName } from '../manifest/types.ts';
import type { ResumeResult } from '../reconcile/controller.ts';
import { CONFIRM_PATH, RECONCILE_PATH, RESUME_PATH } from '../reconcile/local-api-client.ts';
import type { ReconcileSummary } from '../reconcile/loop-types.ts';
import type { JournalRecord } from '../status/journal.ts';

/** Another replica's journal, for the monthly report (src/http/report-route.ts). */
export const JOURNAL_PATH = '/api/journal';


/** What the router needs of the cluster: this replica, the owner of a server, the live members. */
export interface RoutingCluster {
  readonly replica: string;
  ownerOf(server: string): string | undefined;
  /** The live members other than this one, with their API addresses. */
  peers(): Array<{ replica: string; api: string }>;
  /** A live member's API address ('' when it advertises none), undefined when it is not live. */
  apiOf(replica: string): string | undefined;
}

export interface ReplicaRouterOptions {
  cluster: RoutingCluster;
  /** This replica's operator token, for forwards of a socket client's request (none configured: undefined). */
  operatorToken(): Promise<string | undefined>;
  logger: Logger;
  /** How long a forwarded reconcile or confirm may take (a whole pass on the peer). */
  longTimeoutMs?: number;
  /** How long a forwarded resume may take. */
  shortTimeoutMs?: number;
  /** How often a resume refused as not-owner is asked again (views converging), and the wait between. */
  notOwnerRetries?: number;
  notOwnerWaitMs?: number;
}

export type RoutedResume = ResumeResult & { replica: string };

export interface ReplicaPart {
  replica: string;
  ok: boolean;
  error?: string;
  code?: string;
}

export type RoutedSummary = ReconcileSummary & { replicas?: Array<ReplicaPart & { servers?: number }> };

export interface RoutedConfirm {
  result: string;
  revision: string;
  replicas?: Array<ReplicaPart & { result?: string }>;
  [field: string]: unknown;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isCatalogued(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOG, code);
}

export class ReplicaRouter {
  private readonly o: ReplicaRouterOptions;

  constructor(options: ReplicaRouterOptions) {
    this.o = options;
  }

  get replica(): string {
    return this.o.cluster.replica;
  }

  /** `resume` on the owner of the server (`id` is its customer/name). */
  async resume(id: string, service: ServiceName | undefined, origin: ApiOrigin, local: () => Promise<ResumeResult>): Promise<RoutedResume> {
    const retries = this.o.notOwnerRetries ?? 8;
    for (let attempt = 0; ; attempt++) {
      const owner = this.o.cluster.ownerOf(id) ?? this.replica;
      if (owner === this.replica) return { ...(await local()), replica: this.replica };
      if (origin.forwardedBy !== undefined) {
        throw new MamoriError('MAMORI_CLUSTER_NOT_OWNER', `replica ${this.replica} does not own ${id} (it sees ${owner} as its owner); forwarded by ${origin.forwardedBy}, not forwarded again`);
      }
      const reply = await this.forward(owner, RESUME_PATH, service !== undefined ? { server: id, service } : { server: id }, origin, this.o.shortTimeoutMs ?? 60_000);
      if (reply.status === 200 && reply.body.ok === true) {
        const result = reply.body.result as Partial<RoutedResume> | undefined;
        this.o.logger.info({ server: id, service, owner, resumed: result?.resumed }, 'resume forwarded to the owning replica');
        return { server: result?.server ?? id, resumed: result?.resumed ?? [], replica: typeof result?.replica === 'string' ? result.replica : owner };
      }
      // The owner's view says another owns it: the views converge within the membership watch.
      if (reply.body.code === 'MAMORI_CLUSTER_NOT_OWNER' && attempt < retries) {
        await sleep(this.o.notOwnerWaitMs ?? 500);
        continue;
      }
      throw this.peerError(owner, reply);
    }
  }

  /** `reconcile --once` on every live replica, each over its own shard; one summary with each replica's part. */
  async reconcile(dryRun: boolean, origin: ApiOrigin, local: () => Promise<ReconcileSummary>): Promise<RoutedSummary> {
    if (origin.forwardedBy !== undefined) return local();
    const peers = this.o.cluster.peers();
    const [mine, ...theirs] = await Promise.allSettled([
      local(),
      ...peers.map(async (p) => {
        const reply = await this.forward(p.replica, RECONCILE_PATH, { dryRun }, origin, this.o.longTimeoutMs ?? 600_000);
        if (reply.status !== 200 || reply.body.ok !== true) throw this.peerError(p.replica, reply);
        return reply.body.result as ReconcileSummary;
      }),
    ]);
    const names = [this.replica, ...peers.map((p) => p.replica)];
    const settled = [mine, ...theirs] as Array<PromiseSettledResult<ReconcileSummary>>;
    const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    if (ok.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
    const merged: RoutedSummary = { dryRun, servers: 0, probes: 0, unknownProbes: 0, failing: [], actions: {}, runbooks: [], paused: [], replicas: [] };
    settled.forEach((s, i) => {
      const replica = names[i] as string;
      if (s.status === 'rejected') {
        const err = s.reason as Error & { code?: string };
        merged.replicas?.push({ replica, ok: false, error: err.message, ...(typeof err.code === 'string' ? { code: err.code } : {}) });
        this.o.logger.warn({ replica, err }, 'reconcile on a replica failed');
        return;
      }
      const r = s.value;
      merged.servers += r.servers;
      merged.probes += r.probes;
      merged.unknownProbes += r.unknownProbes;
      merged.failing.push(...r.failing);
      merged.runbooks.push(...r.runbooks);
      merged.paused.push(...r.paused);
      for (const [k, v] of Object.entries(r.actions)) merged.actions[k] = (merged.actions[k] ?? 0) + v;
      merged.replicas?.push({ replica, ok: true, servers: r.servers });
    });
    merged.failing.sort();
    merged.paused.sort();
    return merged;
  }

  /**
   * `confirm` on every live replica (each holds its own copy of the revision). Applied where it was
   * held; a replica that does not hold it says so. Refused as not held only when no replica held it.
   */
  async confirm(revision: string, origin: ApiOrigin, local: () => Promise<{ result: string; revision: string }>): Promise<RoutedConfirm> {
    if (origin.forwardedBy !== undefined) return local();
    const peers = this.o.cluster.peers();
    const settled = await Promise.allSettled([
      local(),
      ...peers.map(async (p) => {
        const reply = await this.forward(p.replica, CONFIRM_PATH, { revision }, origin, this.o.longTimeoutMs ?? 600_000);
        if (reply.status !== 200 || reply.body.ok !== true) throw this.peerError(p.replica, reply);
        return reply.body.result as { result: string; revision: string };
      }),
    ]);
    const names = [this.replica, ...peers.map((p) => p.replica)];
    const parts: Array<ReplicaPart & { result?: string }> = [];
    let first: { result: string; revision: string } | undefined;
    let notHeld = 0;
    let failed = 0;
    for (const [i, s] of settled.entries()) {
      const replica = names[i] as string;
      if (s.status === 'fulfilled') {
        parts.push({ replica, ok: true, result: s.value.result });
        if (first === undefined || (first.result !== 'applied' && s.value.result === 'applied')) first = s.value;
        continue;
      }
      const err = s.reason as Error & { code?: string };
      if (err.code === 'MAMORI_DAEMON_NOT_HELD') notHeld++;
      else failed++;
      parts.push({ replica, ok: false, error: err.message, ...(typeof err.code === 'string' ? { code: err.code } : {}) });
    }
    if (first === undefined) {
      if (failed === 0) throw new MamoriError('MAMORI_DAEMON_NOT_HELD', `revision ${revision} is not waiting for confirmation on any replica (${names.join(', ')})`, { details: { revision, replicas: parts } });
      throw (settled.find((s) => s.status === 'rejected' && (s.reason as { code?: string }).code !== 'MAMORI_DAEMON_NOT_HELD') as PromiseRejectedResult).reason;
    }
    // One replica that could not be asked leaves the revision held there: not a success.
    const result = failed > 0 ? 'partial' : first.result;
    this.o.logger.info({ revision: first.revision, result, replicas: parts.map((p) => `${p.replica}:${p.result ?? p.code ?? 'error'}`), notHeld }, 'confirm carried to every replica');
    return { ...first, result, replicas: parts };
  }

  /**
   * The other live replicas' journals (their `GET /api/journal`, with this replica's operator
   * token), for the monthly report. One that does not answer is left out and logged: the report
   * names the replicas whose journal it lacks.
   */
  async peerJournals(): Promise<JournalRecord[][]> {
    const token = await this.o.operatorToken();
    const peers = this.o.cluster.peers();
    if (peers.length === 0) return [];
    if (token === undefined) {
      this.o.logger.warn({ peers: peers.map((p) => p.replica) }, 'the other replicas journals were not read: no operator token to ask with');
      return [];
    }
    const got = await Promise.allSettled(
      peers.map(async (p) => {
        const reply = await callPeer({ api: p.api, replica: p.replica, method: 'GET', path: JOURNAL_PATH, token, forwardedBy: this.replica, timeoutMs: this.o.longTimeoutMs ?? 600_000, maxBytes: 256 * 1024 * 1024 });
        if (reply.status !== 200 || !Array.isArray(reply.body.records)) throw this.peerError(p.replica, reply);
        return reply.body.records as JournalRecord[];
      }),
    );
    return got.flatMap((g, i) => {
      if (g.status === 'fulfilled') return [g.value];
      this.o.logger.warn({ replica: peers[i]?.replica, err: g.reason as unknown }, 'a replica journal was not read for the report');
      return [];
    });
  }

  private async forward(replica: string, path: string, payload: unknown, origin: ApiOrigin, timeoutMs: number): Promise<PeerReply> {
    const api = this.o.cluster.apiOf(replica);
    if (api === undefined || api === '') {
      throw new MamoriError('MAMORI_CLUSTER_PEER_UNREACHABLE', `replica ${replica} advertises no API address (cluster.apiUrl): it runs an older mamori, or has left`);
    }
    const token = origin.token ?? (await this.o.operatorToken());
    if (token === undefined) {
      throw new MamoriError('MAMORI_CLUSTER_PEER_UNREACHABLE', `replica ${replica} owns this, and a request from the local socket is forwarded with this replica's operator token: configure one (http.token, or http.tokens with scope operator) — or ask ${replica} directly`);
    }
    return callPeer({ api, replica, method: 'POST', path, payload, token, forwardedBy: this.replica, timeoutMs });
  }

  /** A peer's refusal as an error of ours: its own code when it is one of the catalog's, its words kept. */
  private peerError(replica: string, reply: PeerReply): MamoriError {
    const why = typeof reply.body.error === 'string' ? reply.body.error : `HTTP ${reply.status}`;
    const code = reply.body.code;
    if (isCatalogued(code)) return new MamoriError(code, `replica ${replica}: ${why}`);
    return new MamoriError('MAMORI_CLUSTER_PEER_UNREACHABLE', `replica ${replica} refused the forwarded request (HTTP ${reply.status}): ${why}`);
  }
}
