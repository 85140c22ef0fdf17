import { execFile } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { Logger } from '../log.ts';
import { gitCredentialEnv, sanitizeMessage, sanitizeUrl, type GitCredentials } from './git-credentials.ts';
import { digestFiles } from './digest.ts';
import { parseLsTree, readBlobs, type TreeEntry } from './git-objects.ts';
import { verifyCommits, type CommitVerdict } from './signing.ts';
import { prepareSigningKeys, type SigningKeys } from './signing-keys.ts';
import { judgeChanges, refusalMessage, type ChangeRefusal } from './judge-changes.ts';
import { rm } from 'node:fs/promises';
import type { SigningConfig } from '../config/types.ts';
import { SIGNER_RULE } from './desired.ts';
import type { Finding } from '../manifest/types.ts';
import type { RevisionHistory, Snapshot, Source, SourceFile, SyncResult } from './types.ts';

/** The tracked branch or tag, as last fetched (forced: a force-push on the remote is followed). */
export const TRACKED_REF = 'refs/mamori/tracked';
/** The revision last applied: what rollbacks and changed paths are judged against, across restarts. */
export const APPLIED_REF = 'refs/mamori/applied';
/** The files refused at the applied revision (a JSON blob), moved with APPLIED_REF in one ref transaction. */
export const REFUSALS_REF = 'refs/mamori/refusals';

interface RefusalState {
  v: 1;
  revision: string;
  refusals: ChangeRefusal[];
}

export interface GitSourceOptions {
  url: string;
  /** Branch or tag (git resolves the short name on the remote: refs/heads/ first, then refs/tags/). */
  ref: string;
  /** The manifests folder inside the repository ('' for its root). */
  path: string;
  /** A bare repository mamori owns; created on first use. */
  cacheDir: string;
  credentials?: GitCredentials;
  /** Signed changes: every commit since the applied revision verified against the signers' path rules. */
  signing?: SigningConfig;
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
  private signingConfig: SigningConfig | undefined;
  private keys: SigningKeys | undefined;
  /** The refusals of the snapshots handed out, by revision, until one is marked applied. */
  private pending = new Map<string, ChangeRefusal[]>();
  /**
   * The files of the last snapshot read, by git object id: a new revision reads from the object
   * store only the blobs it does not share with the last one (an object id names its content).
   */
  private blobs = new Map<string, Uint8Array>();

  constructor(options: GitSourceOptions) {
    this.options = options;
    this.description = `git ${sanitizeUrl(options.url)}#${options.ref}${options.path ? `:${options.path}` : ''}`;
    this.signingConfig = options.signing;
  }

  /**
   * Signing from now on (a reloaded config: a key removed is refused from the next sync). Builds the
   * keys before anything changes; throws MAMORI_SIGNING_KEYS and keeps the old ones when they are bad.
   */
  async setSigning(config: SigningConfig | undefined): Promise<void> {
    await this.withGit(async () => {
      const old = this.keys;
      this.keys = config ? await prepareSigningKeys(config, join(this.options.cacheDir, 'mamori-signing')) : undefined;
      this.signingConfig = config;
      if (old && !config) await rm(old.dir, { recursive: true, force: true });
    });
  }

  private async signingKeys(): Promise<SigningKeys | undefined> {
    if (!this.signingConfig) return undefined;
    if (!this.keys) this.keys = await prepareSigningKeys(this.signingConfig, join(this.options.cacheDir, 'mamori-signing'));
    return this.keys;
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
        let fetchMs = 0;
        try {
          const started = performance.now();
        await git.raw(['fetch', '--force', '--no-tags', '--quiet', this.options.url, `+${this.options.ref}:${TRACKED_REF}`]);
        fetchMs = performance.now() - started;
        } catch (err) {
          const message = sanitizeMessage(errorText(err), this.secrets());
          if (/couldn't find remote ref|not our ref|no such ref/i.test(message)) {
            return { ok: false, reason: 'RefMissing', message } as const;
          }
          return { ok: false, reason: 'SourceUnavailable', message } as const;
        }
        let mark = performance.now();
        const lap = (): number => {
          const now = performance.now();
          const ms = now - mark;
          mark = now;
          return ms;
        };
        const tip = (await git.raw(['rev-parse', '--verify', `${TRACKED_REF}^{commit}`])).trim();
        const entries = await this.listEntries(git, tip);
        const listMs = lap();
        const keys = await this.signingKeys();
        const refusals = keys ? await this.judge(git, keys, tip, entries) : [];
        const signaturesMs = lap();
        const snapshot = await this.readEntries(tip, withRefusals(entries, refusals));
        snapshot.errors.push(...refusals.map(refusalFinding));
        const readMs = lap();
        snapshot.history = await this.history(git, tip);
        snapshot.timings = { fetch: fetchMs, list: listMs, ...(keys ? { signatures: signaturesMs } : {}), read: readMs, history: lap() };
        if (keys) {
          snapshot.refusals = refusals;
          this.pending.set(tip, refusals);
          while (this.pending.size > 8) this.pending.delete(this.pending.keys().next().value as string);
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
      if (!applied) return undefined;
      // The files refused then stay refused after a restart: the applied revision as it was applied.
      const refusals = this.signingConfig ? ((await this.refusalState(git, applied))?.refusals ?? []).map((r) => ({ ...r, isNew: false })) : [];
      const snapshot = await this.readEntries(applied, withRefusals(await this.listEntries(git, applied), refusals));
      snapshot.errors.push(...refusals.map(refusalFinding));
      if (this.signingConfig) snapshot.refusals = refusals;
      return snapshot;
    });
  }

  async markApplied(revision: string): Promise<void> {
    await this.withGit(async (git) => {
      const refusals = this.pending.get(revision);
      if (refusals === undefined) {
        await git.raw(['update-ref', APPLIED_REF, revision]);
        return;
      }
      const state: RefusalState = { v: 1, revision, refusals: refusals.map((r) => ({ ...r, isNew: false })) };
      const blob = (await runGitIn(this.options.cacheDir, await this.gitEnv(), ['hash-object', '-w', '--stdin'], JSON.stringify(state))).trim();
      // One transaction: never an applied revision with another revision's refusals.
      await runGitIn(this.options.cacheDir, await this.gitEnv(), ['update-ref', '--stdin'], `start\nupdate ${APPLIED_REF} ${revision}\nupdate ${REFUSALS_REF} ${blob}\ncommit\n`);
    });
  }

  private async refusalState(git: SimpleGit, applied: string): Promise<RefusalState | undefined> {
    try {
      const text = await git.raw(['cat-file', 'blob', REFUSALS_REF]);
      const state = JSON.parse(text) as RefusalState;
      return state.v === 1 && state.revision === applied && Array.isArray(state.refusals) ? state : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Every commit since the applied revision verified; the files some commit changed without a
   * signer allowed for them are refused (judge-changes.ts).
   */
  private async judge(git: SimpleGit, keys: SigningKeys, tip: string, entries: TreeEntry[]): Promise<ChangeRefusal[]> {
    const env = await this.gitEnv();
    const applied = await resolveRef(git, APPLIED_REF);
    const previous = applied ? ((await this.refusalState(git, applied))?.refusals ?? []) : [];
    const appliedEntries = applied ? withRefusals(await this.listEntries(git, applied), previous) : [];
    const exclude = [...(applied ? [applied] : []), ...(keys.since && (await objectExists(this.options.cacheDir, env, keys.since)) ? [keys.since] : [])];
    const commits = applied === tip ? [] : await verifyCommits({ gitDir: this.options.cacheDir, include: [tip], exclude, keys, env });
    // Offenders of files still refused are judged again under today's keys, while the branch still holds them.
    const carried: CommitVerdict[] = [];
    const offenders = [...new Set(previous.flatMap((r) => r.offenders.map((o) => o.commit)))];
    for (const commit of offenders) {
      if (!(await objectExists(this.options.cacheDir, env, commit)) || !(await isAncestor(this.options.cacheDir, env, commit, tip))) continue;
      carried.push(...(await verifyCommits({ gitDir: this.options.cacheDir, include: [commit], exclude: [`${commit}^@`], keys, env })));
    }
    const prefix = this.options.path.replace(/^\/+|\/+$/g, '');
    const relative = (v: CommitVerdict): CommitVerdict => ({
      ...v,
      paths: prefix ? v.paths.filter((p) => p.startsWith(`${prefix}/`)).map((p) => p.slice(prefix.length + 1)) : v.paths,
    });
    const refusals = judgeChanges({
      policy: keys.policy,
      commits: commits.map(relative),
      carriedOffenders: carried.map(relative),
      tip: blobMap(entries),
      applied: blobMap(appliedEntries),
      previous,
    });
    if (refusals.length > 0) {
      this.options.logger.warn({ revision: tip, files: refusals.map((r) => r.path).slice(0, 20), refused: refusals.length }, 'changes refused: signer not allowed for the files');
    }
    return refusals;
  }

  /** The manifests folder's entries at a commit (relative paths). */
  private async listEntries(git: SimpleGit, revision: string): Promise<TreeEntry[]> {
    const prefix = this.options.path.replace(/^\/+|\/+$/g, '');
    const treeish = prefix ? `${revision}:${prefix}` : revision;
    try {
      return parseLsTree(await git.raw(['ls-tree', '-r', '-l', '-z', treeish]));
    } catch {
      // The manifests folder does not exist at this revision: an empty fleet, which desired.ts judges.
      return [];
    }
  }

  /** Read the manifest files of a commit straight from the object store: no checkout, no working tree. */
  private async readEntries(revision: string, entries: readonly TreeEntry[]): Promise<Snapshot> {
    const maxBytes = this.options.maxFileBytes ?? 8 * 1024 * 1024;
    const errors: Finding[] = [];
    const refuse = (path: string, rule: string, message: string): void =>
      void errors.push({ file: path, line: 1, col: 1, field: '', rule, message, severity: 'error' });
    const wanted: { path: string; object: string }[] = [];
    for (const entry of entries) {
      if (!MANIFEST_FILE.test(entry.path)) continue;
      if (entry.mode === '120000') refuse(entry.path, 'file-symlink', 'a symbolic link is not a manifest; commit the file itself');
      else if (entry.type !== 'blob') continue;
      else if (entry.size > maxBytes) refuse(entry.path, 'file-too-large', `the file is ${entry.size} bytes, over the ${maxBytes}-byte limit`);
      else wanted.push({ path: entry.path, object: entry.object });
    }
    const known = this.blobs;
    const missing = [...new Set(wanted.filter((w) => !known.has(w.object)).map((w) => w.object))];
    const read = await readBlobs(this.options.cacheDir, missing, await this.gitEnv());
    const fresh = new Map(missing.map((object, i) => [object, new Uint8Array(read[i] ?? Buffer.alloc(0))]));
    const blobs = new Map<string, Uint8Array>();
    const files: SourceFile[] = wanted.map((w) => {
      const content = known.get(w.object) ?? fresh.get(w.object) ?? new Uint8Array(0);
      blobs.set(w.object, content);
      return { path: w.path, content };
    });
    this.blobs = blobs;
    return { revision, digest: digestFiles(files), files, errors, objectsRead: missing.length };
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

/** A tree entry as judge-changes.ts compares versions: same mode and object, same file. */
function blobOf(e: TreeEntry): string {
  return `${e.mode} ${e.type} ${e.object} ${e.size}`;
}

function blobMap(entries: readonly TreeEntry[]): Map<string, string> {
  return new Map(entries.map((e) => [e.path, blobOf(e)]));
}

/** The entries with each refused file at its accepted version (or absent). */
function withRefusals(entries: readonly TreeEntry[], refusals: readonly ChangeRefusal[]): TreeEntry[] {
  if (refusals.length === 0) return [...entries];
  const refused = new Map(refusals.map((r) => [r.path, r]));
  const out = entries.filter((e) => !refused.has(e.path));
  for (const r of refusals) {
    if (r.accepted === null) continue;
    const [mode = '', type = '', object = '', size = '0'] = r.accepted.split(' ');
    out.push({ mode, type, object, size: Number(size), path: r.path });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function refusalFinding(r: ChangeRefusal): Finding {
  return { file: r.path, line: 1, col: 1, field: '', rule: SIGNER_RULE, severity: 'error', message: refusalMessage(r) };
}

function runGitIn(gitDir: string, env: NodeJS.ProcessEnv, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('git', ['--git-dir', gitDir, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args[0] ?? ''} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

function objectExists(gitDir: string, env: NodeJS.ProcessEnv, object: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('git', ['--git-dir', gitDir, 'cat-file', '-e', `${object}^{commit}`], { env, timeout: 60_000 }, (err) => resolve(!err));
  });
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
