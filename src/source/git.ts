import { execFile } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { Logger } from '../log.ts';
import { gitCredentialEnv, sanitizeMessage, sanitizeUrl, type GitCredentials } from './git-credentials.ts';
import { digestFiles } from './digest.ts';
import { parseLsTree, readBlobs } from './git-objects.ts';
import { verifyRevisionSignature, type SigningPolicy } from './signing.ts';
import type { Finding } from '../manifest/types.ts';
import type { RevisionHistory, Snapshot, Source, SourceFile, SyncResult } from './types.ts';

/** The tracked branch or tag, as last fetched (forced: a force-push on the remote is followed). */
export const TRACKED_REF = 'refs/mamori/tracked';
/** The revision last applied: what rollbacks and changed paths are judged against, across restarts. */
export const APPLIED_REF = 'refs/mamori/applied';

export interface GitSourceOptions {
  url: string;
  /** Branch or tag (git resolves the short name on the remote: refs/heads/ first, then refs/tags/). */
  ref: string;
  /** The manifests folder inside the repository ('' for its root). */
  path: string;
  /** A bare repository mamori owns; created on first use. */
  cacheDir: string;
  credentials?: GitCredentials;
  signing?: SigningPolicy;
  logger: Logger;
  /** Hang guard for one git command (ms). */
  timeoutMs?: number;
  /** Files above this size are reported, not read (the loader has its own, smaller limit). */
  maxFileBytes?: number;
}

const MANIFEST_FILE = /\.ya?ml$/i;

export class GitSource implements Source {
  readonly kind = 'git' as const;
  readonly description: string;
  private readonly options: GitSourceOptions;
  private env: Record<string, string> | undefined;
  private git: SimpleGit | undefined;
  /** Serialises git commands on the cache (a sync and the write-back may race otherwise). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: GitSourceOptions) {
    this.options = options;
    this.description = `git ${sanitizeUrl(options.url)}#${options.ref}${options.path ? `:${options.path}` : ''}`;
  }

  /** The cache repository's git directory (write-back shares it). */
  get gitDir(): string {
    return this.options.cacheDir;
  }

  /** The environment of every git command: credentials helpers, no prompts. */
  async gitEnv(): Promise<NodeJS.ProcessEnv> {
    if (!this.env) this.env = await gitCredentialEnv(join(this.options.cacheDir, 'mamori-credentials'), this.options.credentials);
    // A small environment, not the daemon's: simple-git refuses EDITOR, PAGER and friends, and
    // git's messages must stay in English for the checks that read them.
    const base: Record<string, string> = { LANG: 'C', LC_ALL: 'C' };
    for (const key of ['PATH', 'HOME', 'TMPDIR']) {
      const value = process.env[key];
      if (value !== undefined) base[key] = value;
    }
    return { ...base, ...this.env };
  }

  /** Run `fn` with the cache's git, one at a time. */
  async withGit<T>(fn: (git: SimpleGit) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => fn(await this.ensureCache()));
    this.queue = run.catch(() => undefined);
    return run;
  }

  secrets(): string[] {
    const c = this.options.credentials;
    if (!c) return [];
    return c.kind === 'token' ? [c.token] : [c.privateKey.trim()];
  }

  private async ensureCache(): Promise<SimpleGit> {
    if (this.git) return this.git;
    const dir = this.options.cacheDir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const env = await this.gitEnv();
    // GIT_SSH_COMMAND and GIT_ASKPASS are ours (a key path, a helper we wrote), never from a manifest.
    const git = simpleGit({
      baseDir: dir,
      timeout: { block: this.options.timeoutMs ?? 120_000 },
      unsafe: { allowUnsafeSshCommand: true, allowUnsafeAskPass: true },
    }).env(env);
    const isRepo = await access(join(dir, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (!isRepo) await git.raw(['init', '--bare', '--quiet', dir]);
    this.git = git;
    return git;
  }

  async sync(): Promise<SyncResult> {
    try {
      return await this.withGit(async (git) => {
        try {
          await git.raw(['fetch', '--force', '--no-tags', '--quiet', this.options.url, `+${this.options.ref}:${TRACKED_REF}`]);
        } catch (err) {
          const message = sanitizeMessage(errorText(err), this.secrets());
          if (/couldn't find remote ref|not our ref|no such ref/i.test(message)) {
            return { ok: false, reason: 'RefMissing', message } as const;
          }
          return { ok: false, reason: 'SourceUnavailable', message } as const;
        }
        const tip = (await git.raw(['rev-parse', '--verify', `${TRACKED_REF}^{commit}`])).trim();
        const snapshot = await this.readRevision(git, tip);
        snapshot.history = await this.history(git, tip);
        if (this.options.signing) {
          snapshot.signature = await verifyRevisionSignature({
            gitDir: this.options.cacheDir,
            revision: tip,
            changedPaths: snapshot.history.changedPaths,
            manifestsPath: this.options.path,
            policy: this.options.signing,
            env: await this.gitEnv(),
          });
        }
        return { ok: true, snapshot } as const;
      });
    } catch (err) {
      return { ok: false, reason: 'ReadFailed', message: sanitizeMessage(errorText(err), this.secrets()) };
    }
  }

  async lastApplied(): Promise<Snapshot | undefined> {
    return this.withGit(async (git) => {
      const applied = await resolveRef(git, APPLIED_REF);
      return applied ? this.readRevision(git, applied) : undefined;
    });
  }

  async markApplied(revision: string): Promise<void> {
    await this.withGit((git) => git.raw(['update-ref', APPLIED_REF, revision]));
  }

  /** Read the manifest files of a commit straight from the object store: no checkout, no working tree. */
  private async readRevision(git: SimpleGit, revision: string): Promise<Snapshot> {
    const prefix = this.options.path.replace(/^\/+|\/+$/g, '');
    const treeish = prefix ? `${revision}:${prefix}` : revision;
    let listing = '';
    try {
      listing = await git.raw(['ls-tree', '-r', '-l', '-z', treeish]);
    } catch {
      // The manifests folder does not exist at this revision: an empty fleet, which desired.ts judges.
      listing = '';
    }
    const maxBytes = this.options.maxFileBytes ?? 8 * 1024 * 1024;
    const errors: Finding[] = [];
    const refuse = (path: string, rule: string, message: string): void =>
      void errors.push({ file: path, line: 1, col: 1, field: '', rule, message, severity: 'error' });
    const wanted: { path: string; object: string }[] = [];
    for (const entry of parseLsTree(listing)) {
      if (!MANIFEST_FILE.test(entry.path)) continue;
      if (entry.mode === '120000') refuse(entry.path, 'file-symlink', 'a symbolic link is not a manifest; commit the file itself');
      else if (entry.type !== 'blob') continue;
      else if (entry.size > maxBytes) refuse(entry.path, 'file-too-large', `the file is ${entry.size} bytes, over the ${maxBytes}-byte limit`);
      else wanted.push({ path: entry.path, object: entry.object });
    }
    const blobs = await readBlobs(this.options.cacheDir, wanted.map((w) => w.object), await this.gitEnv());
    const files: SourceFile[] = wanted.map((w, i) => ({ path: w.path, content: new Uint8Array(blobs[i] ?? Buffer.alloc(0)) }));
    return { revision, digest: digestFiles(files), files, errors };
  }

  private async history(git: SimpleGit, tip: string): Promise<RevisionHistory> {
    const previous = await resolveRef(git, APPLIED_REF);
    if (!previous) {
      const all = await git.raw(['ls-tree', '-r', '--name-only', '-z', tip]);
      return { isRollback: false, isForcePush: false, changedPaths: all.split('\0').filter(Boolean) };
    }
    if (previous === tip) return { previous, isRollback: false, isForcePush: false, changedPaths: [] };
    const env = await this.gitEnv();
    const isRollback = await isAncestor(this.options.cacheDir, env, tip, previous);
    const isForcePush = !isRollback && !(await isAncestor(this.options.cacheDir, env, previous, tip));
    const diff = await git.raw(['diff', '--name-only', '--no-renames', '-z', previous, tip]);
    return { previous, isRollback, isForcePush, changedPaths: diff.split('\0').filter(Boolean) };
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
  }
}

async function resolveRef(git: SimpleGit, ref: string): Promise<string | undefined> {
  try {
    const out = (await git.raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `git merge-base --is-ancestor A B`: exit 0 yes, 1 no, anything else an error. Run directly,
 * because simple-git resolves a failing command that prints nothing as a success.
 */
function isAncestor(gitDir: string, env: NodeJS.ProcessEnv, ancestor: string, descendant: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    execFile('git', ['--git-dir', gitDir, 'merge-base', '--is-ancestor', ancestor, descendant], { env }, (err) => {
      if (!err) resolve(true);
      else if (err.code === 1) resolve(false);
      else reject(err);
    });
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
