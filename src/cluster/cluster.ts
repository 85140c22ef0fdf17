/**
 * The coordination layer's facade: one replica's session, membership, claims and its share of
 * the fleet-wide marks. Without `cluster` in the config none of this exists and mamori runs alone.
 *
 * etcd unreachable: the replica keeps probing its last shard, writing status and alerting; only
 * remediation stops (`canRemediate()` false, /readyz says why) until a fresh lease is held.
 */
import type { Logger } from 'pino';
import { isMamoriError } from '../errors.ts';
import { ClaimStore, type OpenIncident } from './claims.ts';
import { EtcdSession } from './etcd-session.ts';
import { clusterKeys, type ClusterKeys } from './keys.ts';
import { Membership, parseMemberInfo, type FencePhase, type MemberInfo } from './membership.ts';
import { shardSizes } from './rendezvous.ts';
import { StatusBoard } from './status-board.ts';

export interface ClusterOptions {
  endpoints: readonly string[];
  /** Key prefix shared by the replicas of one fleet. */
  prefix: string;
  /** This replica's id (unique among the replicas: host name by default). */
  replica: string;
  ttlSeconds: number;
  callTimeoutMs: number;
  /** Where the other replicas reach this one's HTTP API (advertised in its member record). */
  apiUrl?: string;
}

export const CLUSTER_DEFAULTS = { prefix: '/mamori', ttlSeconds: 10, callTimeoutMs: 3000 } as const;

export interface ClusterStatus {
  replica: string;
  phase: FencePhase;
  members: MemberInfo[];
  /** Servers per live member, when the caller names the servers. */
  shards: Record<string, number>;
  claims: Array<{ server: string; replica: string; service: string; token: number }>;
  inDoubt: Array<{ server: string; incident: string; step: string; replica: string; intentAt: string }>;
}

export class Cluster {
  readonly keys: ClusterKeys;
  readonly session: EtcdSession;
  readonly membership: Membership;
  readonly claims: ClaimStore;
  /** The fleet's status: this replica's servers published, every owner's read (status-board.ts). */
  readonly statusBoard: StatusBoard;
  private joined = false;
  private joinTimer: NodeJS.Timeout | undefined;
  private readonly publishedFailing = new Map<string, boolean>();
  /** The failing marks etcd held at the last read (join, membership change). */
  private failingMarks: Set<string> | undefined;
  /**
   * The incidents etcd held open at the last read (join, membership change), by server: one whose
   * service answers again is closed by the server's owner (see ClusterCoordinator.serviceAnswered).
   */
  private openIncidents = new Map<string, OpenIncident[]>();
  private stopped = false;

  constructor(readonly options: ClusterOptions, private readonly log: Logger) {
    this.keys = clusterKeys(options.prefix);
    this.session = new EtcdSession({ endpoints: options.endpoints, ttlSeconds: options.ttlSeconds, callTimeoutMs: options.callTimeoutMs });
    this.membership = new Membership(options.replica, this.session, this.keys, log, options.apiUrl ?? '');
    this.claims = new ClaimStore(this.session, this.keys, this.membership, log);
    this.statusBoard = new StatusBoard(this.session, this.keys, options.replica, (key) => this.membership.owns(key), log);
  }

  /** Joins now if etcd answers, else keeps trying in the background (the replica probes meanwhile). */
  async start(): Promise<void> {
    if (await this.tryJoin()) return;
    this.log.error({ replica: this.options.replica, code: 'MAMORI_CLUSTER_UNAVAILABLE' }, 'cluster join failed; probing goes on, remediation waits');
    const retry = (): void => {
      this.joinTimer = setTimeout(() => {
        void this.tryJoin().then((ok) => {
          if (!ok && !this.stopped) retry();
        });
      }, 1000);
      this.joinTimer.unref();
    };
    retry();
  }

  private async tryJoin(): Promise<boolean> {
    if (this.joined || this.stopped) return this.joined;
    try {
      await this.membership.join();
      await Promise.all([this.loadFailingMarks(), this.loadOpenIncidents()]);
      await this.statusBoard.start();
      // A server that moves to this replica may carry another's mark, or an incident another left
      // open: both are read again on a change.
      this.membership.onChange(() => {
        void this.loadFailingMarks().catch(() => undefined);
        void this.loadOpenIncidents().catch(() => undefined);
      });
      this.joined = true;
      this.log.info({ replica: this.options.replica, lease: this.session.leaseId, members: this.membership.members() }, 'cluster joined');
      return true;
    } catch (err) {
      if (isMamoriError(err, 'MAMORI_CLUSTER_UNAVAILABLE')) return false;
      throw err;
    }
  }

  phase(): FencePhase {
    return this.joined ? this.membership.phase() : 'fenced';
  }

  /** Whether remediation may start now (the replica holds a fresh lease). */
  canRemediate(): boolean {
    return this.phase() === 'active';
  }

  /** Why remediation is stopped, for /readyz and the status; undefined when it is not. */
  notReadyReason(): string | undefined {
    const p = this.phase();
    if (p === 'active') return undefined;
    return this.joined ? `cluster lease ${p}: etcd not confirmed within ${p === 'draining' ? 'half the TTL' : 'the TTL'}; remediation stopped` : 'cluster not joined: etcd unreachable; remediation stopped';
  }

  owns(server: string): boolean {
    return this.membership.owns(server);
  }

  /**
   * This replica's judgement of a server it owns, shared for the fleet-wide mass-failure counts.
   * Written on change only; a mark outlives its writer (a dead replica's failing servers keep the
   * pause until their new owner judges them).
   */
  async publishFailing(server: string, groups: readonly string[], failing: boolean): Promise<void> {
    // What etcd holds is known from the marks read at join (and at each membership change): a
    // healthy server without a mark costs no write — a replica starting on 10,000 servers would
    // otherwise send 10,000 deletes at once.
    const known = this.publishedFailing.get(server) ?? this.failingMarks?.has(server) ?? undefined;
    if (known === failing) {
      this.publishedFailing.set(server, failing);
      return;
    }
    const key = this.keys.failingOf(server);
    if (failing) await this.session.put(key, JSON.stringify({ groups, replica: this.options.replica }));
    else await this.session.del(key);
    this.publishedFailing.set(server, failing);
  }

  private async loadFailingMarks(): Promise<void> {
    const res = await this.session.range(this.keys.failing);
    this.failingMarks = new Set(res.kvs.map((kv) => kv.key.slice(this.keys.failing.length)));
    this.publishedFailing.clear();
  }

  private async loadOpenIncidents(): Promise<void> {
    this.openIncidents = await this.claims.openIncidents();
  }

  /** The oldest incident etcd held open for this server's service (or `host`) at the last read. */
  openIncident(server: string, service: string): OpenIncident | undefined {
    return this.openIncidents.get(server)?.find((o) => o.service === service);
  }

  /** What a claim just read of this server's open incidents (it is newer than the last full read). */
  setOpenIncidents(server: string, open: OpenIncident[]): void {
    if (open.length > 0) this.openIncidents.set(server, open);
    else this.openIncidents.delete(server);
  }

  async status(servers: readonly string[] = []): Promise<ClusterStatus> {
    const snap = await this.session.rangeMany([this.keys.members, this.keys.claims]);
    const members = (snap.byPrefix.get(this.keys.members) ?? []).map((kv) => parseMemberInfo(kv.key.slice(this.keys.members.length), kv.value, kv.lease));
    const claims = (snap.byPrefix.get(this.keys.claims) ?? []).map((kv) => {
      const v = JSON.parse(kv.value) as { replica?: string; service?: string };
      return { server: kv.key.slice(this.keys.claims.length), replica: v.replica ?? '', service: v.service ?? '', token: kv.createRevision };
    });
    const steps = await this.session.range(`${this.keys.root}steps/`);
    const closed = new Set<string>();
    const open: ClusterStatus['inDoubt'] = [];
    const claimedTokens = new Map(claims.map((c) => [c.server, c.token]));
    for (const kv of steps.kvs) {
      const rest = kv.key.slice(`${this.keys.root}steps/`.length);
      const v = JSON.parse(kv.value) as { incident: string; step: string; replica: string; token: number; intentAt: number; outcome?: unknown };
      const server = rest.slice(0, rest.length - `${v.incident}/${v.step}`.length - 1);
      if (v.step === 'closed') closed.add(`${server}\u0000${v.incident}`);
      else if (v.outcome === undefined && claimedTokens.get(server) !== v.token) {
        open.push({ server, incident: v.incident, step: v.step, replica: v.replica, intentAt: new Date(v.intentAt).toISOString() });
      }
    }
    const names = members.map((m) => m.replica);
    return {
      replica: this.options.replica,
      phase: this.phase(),
      members,
      shards: Object.fromEntries(shardSizes(servers, names)),
      claims,
      inDoubt: open.filter((o) => !closed.has(`${o.server}\u0000${o.incident}`)),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.joinTimer !== undefined) clearTimeout(this.joinTimer);
    this.statusBoard.stop();
    await this.membership.stop();
    await this.session.close();
  }
}
