/**
 * The source contract (flux's source-controller split): fetching a revision is separate from
 * applying it. A Source produces Snapshots — a revision, a digest and the files at that revision —
 * and knows nothing about what the files mean; src/source/desired.ts decides what to do with them.
 */

import type { Finding, ManifestFile } from '../manifest/types.ts';
import type { ChangeRefusal } from './judge-changes.ts';

/**
 * One manifest file at a revision, its path relative to the manifests root (forward slashes);
 * raw bytes, so the loader itself judges binary and non-UTF-8 content.
 */
export type SourceFile = ManifestFile;

export interface Snapshot {
  /** The commit SHA (git), or `sha256:<hex>` of the files (folder). */
  revision: string;
  /** sha256 of the manifest files (sorted paths and contents): two revisions with equal files share it. */
  digest: string;
  files: SourceFile[];
  /** Files that could not be read (too big, a symbolic link, a FIFO), as the loader reports them. */
  errors: Finding[];
  /** git only: how the revision relates to the one applied before it. */
  history?: RevisionHistory;
  /**
   * git only, when signing is configured: files changed by a commit whose signer may not change
   * them. Each is already at its accepted version in `files` (or absent), with a finding in `errors`.
   */
  refusals?: ChangeRefusal[];
  /** How long the source took to produce it, ms by step (git: fetch, list, signatures, read, history), for the `revision applied` log line. */
  timings?: Record<string, number>;
  /** git: the blobs read from the object store (those not shared with the last snapshot read). */
  objectsRead?: number;
}

export interface RevisionHistory {
  /** The revision applied before (refs/mamori/applied in the cache), if any. */
  previous?: string;
  /** The new tip is an ancestor of the previous one: the branch was moved back (a rollback). */
  isRollback: boolean;
  /** The previous revision is not an ancestor of the tip (a force-push onto another line). */
  isForcePush: boolean;
  /** Paths (relative to the repository root) that differ from `previous` (all paths without one). */
  changedPaths: string[];
}

/** Why a sync did not produce a snapshot. PascalCase, as the status conditions name reasons. */
export type SyncFailureReason = 'SourceUnavailable' | 'RefMissing' | 'ReadFailed';

export type SyncResult =
  | { ok: true; snapshot: Snapshot }
  | { ok: false; reason: SyncFailureReason; message: string };

export interface Source {
  readonly kind: 'git' | 'folder';
  /** A description for logs and status, with any credentials removed. */
  readonly description: string;
  /** Fetch (git) or re-read (folder) and return the whole revision. Never throws: failures are results. */
  sync(): Promise<SyncResult>;
  /** The revision applied last, as the source remembers it across restarts (git: refs/mamori/applied). */
  lastApplied(): Promise<Snapshot | undefined>;
  /** Remember that a revision was applied, so rollbacks are judged against it. */
  markApplied(revision: string): Promise<void>;
  /** Begin watching for changes (folder: chokidar); `onChange` only asks for a sync, it carries no content. */
  watch?(onChange: () => void): Promise<void>;
  close(): Promise<void>;
}
