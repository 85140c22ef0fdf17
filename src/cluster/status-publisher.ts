/**
 * The status branch with replicas: one elected publisher (an election on `status-publisher`, bound
 * to its session lease) commits the status the owners published in etcd, read at ONE revision, so
 * each commit is a consistent picture of the fleet and names that revision in its trailer
 * (`Mamori-Status-Revision`). Never three writers racing on one branch:
 *
 *  - only the leader (its lease fresh on its own clock) fetches, builds and pushes;
 *  - a snapshot no newer than the tip's revision is never committed (planStatusCommit): a paused
 *    former publisher that wakes up, or a retry after another pushed, adds nothing and never moves
 *    the branch back;
 *  - a snapshot whose tree equals the tip's is no commit (the write-back compares trees): a new
 *    publisher after a takeover commits only what the old one had not;
 *  - the push is not forced: a push that lost a race is rejected by git and rebuilt on the new tip.
 *
 * When the publisher dies, its key goes with its lease (TTL) and another replica's next tick wins
 * the election; its first flush reads the branch tip's revision and commits what changed since.
 */
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import type { WriteBackHooks, WriteBackResult } from '../source/write-back.ts';
import { isStatusId } from '../status/store.ts';
import type { Cluster } from './cluster.ts';
import { Election } from './election.ts';
import { parseStatusDoc, planStatusCommit, statusCommitMessage, statusRevisionOf } from './status-merge.ts';

export interface PublisherStatus {
  replica: string;
  leader: boolean;
  /** The replica holding the election, as last read. */
  holder?: string;
  term?: number;
  /** The etcd revision the branch holds (as this replica last committed or found it). */
  committedRevision?: number;
  /** Terms this replica won since it started. */
  won: number;
}

export class StatusPublisher {
  readonly election: Election;
  private dir: string | undefined;
  /** What the folder holds now: the etcd mod revision of each file's status, by relative path. */
  private readonly written = new Map<string, number>();
  private committedRevision: number | undefined;
  /** The revision `prepare` read its snapshot at, for `committed`. */
  private preparedRevision: number | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly log: Logger,
    private readonly manifestsRevision: () => string | undefined,
  ) {
    const ttlMs = cluster.options.ttlSeconds * 1000;
    this.election = new Election({
      key: cluster.keys.statusPublisher,
      replica: cluster.options.replica,
      session: cluster.session,
      phase: () => cluster.phase(),
      tickMs: Math.max(200, Math.floor(ttlMs / 5)),
      log,
      onChange: (leader) => {
        // A new term starts from what the branch holds, never from what this replica once committed.
        if (leader) this.committedRevision = undefined;
      },
    });
  }

  /** The folder the write-back commits (filled from etcd before each commit). */
  async folder(): Promise<string> {
    this.dir ??= await mkdtemp(join(tmpdir(), 'mamori-status-publisher-'));
    return this.dir;
  }

  start(): void {
    this.election.start();
  }

  status(): PublisherStatus {
    const holder = this.election.holder;
    const term = this.election.term();
    return {
      replica: this.cluster.options.replica,
      leader: this.election.isLeader(),
      ...(holder !== undefined ? { holder: holder.replica } : {}),
      ...(term !== undefined ? { term } : {}),
      ...(this.committedRevision !== undefined ? { committedRevision: this.committedRevision } : {}),
      won: this.election.won,
    };
  }

  readonly hooks: WriteBackHooks = {
    // The leader, and something published since what the branch holds (or not known yet this term).
    shouldFlush: () => this.election.isLeader() && (this.committedRevision === undefined || this.cluster.statusBoard.revision > this.committedRevision),
    prepare: async (tip) => {
      const tipRevision = tip !== undefined ? statusRevisionOf(tip.message) : undefined;
      const snap = await this.cluster.session.range(this.cluster.keys.status);
      if (planStatusCommit({ leader: this.election.isLeader(), tipRevision, snapshotRevision: snap.revision }) === 'skip') {
        if (tipRevision !== undefined) this.committedRevision = Math.max(this.committedRevision ?? 0, tipRevision);
        return undefined;
      }
      // Only what changed since the folder was last filled is parsed and written.
      const files = new Map<string, { modRevision: number; text: () => string | undefined }>();
      for (const kv of snap.kvs) {
        const key = kv.key.slice(this.cluster.keys.status.length);
        const id = key.startsWith('_/') ? key.slice(2) : key;
        if (!isStatusId(id)) {
          this.log.warn({ key: kv.key }, 'published status unreadable; not committed');
          continue;
        }
        const text = (): string | undefined => {
          const doc = parseStatusDoc(kv.value, key);
          return doc !== undefined ? stringify(doc, { lineWidth: 0 }) : undefined;
        };
        files.set(`${id}.yaml`, { modRevision: kv.modRevision, text });
      }
      await this.fill(files);
      this.preparedRevision = snap.revision;
      const term = this.election.term() ?? 0;
      return { message: statusCommitMessage({ manifestsRevision: this.manifestsRevision() ?? 'unknown', etcdRevision: snap.revision, publisher: this.cluster.options.replica, term, servers: files.size }) };
    },
    mayPush: () => this.election.isLeader(),
    committed: (result: WriteBackResult) => {
      if (this.preparedRevision !== undefined) this.committedRevision = this.preparedRevision;
      if (result.pushed) this.log.info({ commit: result.commit, revision: this.preparedRevision, term: this.election.term() }, 'status branch commit published');
    },
  };

  /** The folder holds exactly `files`: only what changed is written, what went is removed. */
  private async fill(files: ReadonlyMap<string, { modRevision: number; text: () => string | undefined }>): Promise<void> {
    const dir = await this.folder();
    for (const [path, f] of files) {
      if (this.written.get(path) === f.modRevision) continue;
      const text = f.text();
      const file = join(dir, path);
      if (text === undefined) {
        this.log.warn({ path }, 'published status unreadable; not committed');
        await unlink(file).catch(() => undefined);
        this.written.delete(path);
        continue;
      }
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text, { mode: 0o644 });
      this.written.set(path, f.modRevision);
    }
    for (const path of [...this.written.keys()]) {
      if (files.has(path)) continue;
      await unlink(join(dir, path)).catch(() => undefined);
      this.written.delete(path);
    }
  }

  /** Gives the election up (another replica is elected at once) and removes the folder. */
  async stop(): Promise<void> {
    await this.election.resign();
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
  }
}
