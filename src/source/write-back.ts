import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sanitizeMessage } from './git-credentials.ts';
import type { GitSource } from './git.ts';

/**
 * Status write-back: the status files, committed to a branch of the manifests repository and
 * pushed, in batches. Commits are built from the object store (a temporary index, no checkout) on
 * top of whatever the branch holds on the remote: another writer's commit is kept as a parent and
 * its files outside `status/` are kept in the tree — never force-pushed over. A push that loses a
 * race fetches again and retries.
 *
 * With replicas the folder is not this replica's own: `hooks` (src/cluster/status-publisher.ts) say
 * whether this replica commits at all (the elected publisher), fill the folder from etcd at one
 * revision once the remote tip is known, and are asked again right before the push.
 */
export interface WriteBackOptions {
  source: GitSource;
  url: string;
  branch: string;
  /** The folder of status files (state/status). */
  statusDir: string;
  intervalMs: number;
  logger: Logger;
  /** The revision the status describes, for the commit message. */
  revision?: () => string | undefined;
  maxAttempts?: number;
  hooks?: WriteBackHooks;
}

export interface WriteBackHooks {
  /** Asked first (nothing is fetched when false): whether this writer commits now. */
  shouldFlush(): boolean;
  /**
   * Once the remote tip is fetched: fills `statusDir` with what to commit and returns the commit
   * message, or undefined to commit nothing on this tip.
   */
  prepare(tip: { commit: string; message: string } | undefined): Promise<{ message: string } | undefined>;
  /** Right before the push: whether this writer may still push. */
  mayPush(): boolean;
  /** The branch holds what `prepare` gave: pushed now, or it already did (the tree unchanged). */
  committed?(result: WriteBackResult): void;
}

export type WriteBackResult = { pushed: true; commit: string; attempts: number } | { pushed: false; reason: 'unchanged' | 'skipped' };

const STATUS_FILE = /\.(ya?ml|json)$/i;
const REMOTE_REF = 'refs/mamori/status-remote';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function git(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile('git', args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 128) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export class StatusWriteBack {
  private readonly options: WriteBackOptions;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastError: string | undefined;
  private lastPushAt: string | undefined;
  private lastCommit: string | undefined;

  constructor(options: WriteBackOptions) {
    this.options = options;
  }

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.flush()
        .catch((err: unknown) => this.options.logger.warn({ err }, 'status write-back failed; retrying at the next interval'))
        .finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref?.();
  }

  status(): { branch: string; lastPushAt?: string; lastCommit?: string; lastError?: string } {
    return { branch: this.options.branch, lastPushAt: this.lastPushAt, lastCommit: this.lastCommit, lastError: this.lastError };
  }

  /** Commit the status files now and push them; a no-op when the branch already holds them. */
  async flush(): Promise<WriteBackResult> {
    const { source, hooks } = this.options;
    if (hooks !== undefined && !hooks.shouldFlush()) return { pushed: false, reason: 'skipped' };
    return source.withGit(async () => {
      const env = { ...(await source.gitEnv()), GIT_DIR: source.gitDir };
      const maxAttempts = this.options.maxAttempts ?? 5;
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const remoteTip = await this.fetchRemote(env);
        let message: string | undefined;
        if (hooks !== undefined) {
          const tip = remoteTip !== undefined ? { commit: remoteTip, message: (await must(git(['log', '-1', '--format=%B', remoteTip], env), 'log')).stdout } : undefined;
          message = (await hooks.prepare(tip))?.message;
          if (message === undefined) return { pushed: false, reason: 'skipped' } as const;
        }
        const commit = await this.buildCommit(env, remoteTip, message);
        if (!commit) {
          this.lastError = undefined;
          const result = { pushed: false, reason: 'unchanged' } as const;
          hooks?.committed?.(result);
          return result;
        }
        if (hooks !== undefined && !hooks.mayPush()) return { pushed: false, reason: 'skipped' } as const;
        const push = await git(['push', '--quiet', '--porcelain', this.options.url, `${commit}:refs/heads/${this.options.branch}`], env);
        if (push.code === 0) {
          await git(['update-ref', REMOTE_REF, commit], env);
          this.lastPushAt = new Date().toISOString();
          this.lastCommit = commit;
          this.lastError = undefined;
          this.options.logger.info({ commit, branch: this.options.branch, attempts: attempt }, 'status pushed');
          const result = { pushed: true, commit, attempts: attempt } as const;
          hooks?.committed?.(result);
          return result;
        }
        const text = `${push.stdout}\n${push.stderr}`;
        if (!/rejected|non-fast-forward|fetch first|stale info/i.test(text)) {
          this.lastError = sanitizeMessage(push.stderr.trim(), source.secrets());
          throw new MamoriError('MAMORI_SOURCE_WRITEBACK_FAILED', `push to ${this.options.branch} failed: ${this.lastError}`);
        }
        // Someone else pushed first: build on their commit next round.
        this.options.logger.info({ branch: this.options.branch, attempt }, 'status branch moved; rebuilding on the new tip');
      }
      this.lastError = `the status branch kept moving for ${maxAttempts} attempts`;
      throw new MamoriError('MAMORI_SOURCE_WRITEBACK_FAILED', this.lastError);
    });
  }

  private async fetchRemote(env: NodeJS.ProcessEnv): Promise<string | undefined> {
    const fetch = await git(['fetch', '--force', '--no-tags', '--quiet', this.options.url, `+refs/heads/${this.options.branch}:${REMOTE_REF}`], env);
    if (fetch.code !== 0) {
      if (/couldn't find remote ref/i.test(fetch.stderr)) {
        await git(['update-ref', '-d', REMOTE_REF], env);
        return undefined;
      }
      this.lastError = sanitizeMessage(fetch.stderr.trim(), this.options.source.secrets());
      throw new MamoriError('MAMORI_SOURCE_WRITEBACK_FAILED', `fetching ${this.options.branch} failed: ${this.lastError}`);
    }
    const tip = await git(['rev-parse', '--verify', '--quiet', `${REMOTE_REF}^{commit}`], env);
    return tip.code === 0 ? tip.stdout.trim() : undefined;
  }

  /** Our files under status/ on top of the remote tip's tree; undefined when nothing changes. */
  private async buildCommit(env: NodeJS.ProcessEnv, remoteTip: string | undefined, message?: string): Promise<string | undefined> {
    const work = await mkdtemp(join(tmpdir(), 'mamori-writeback-'));
    try {
      await mkdir(this.options.statusDir, { recursive: true });
      const ours = { ...env, GIT_INDEX_FILE: join(work, 'ours.index'), GIT_WORK_TREE: this.options.statusDir };
      await must(git(['add', '-A', '--', '.'], ours), 'add');
      const listed = await must(git(['ls-files', '-z'], ours), 'ls-files');
      // Half-written temporary files of the status store are not status.
      const strays = listed.stdout.split('\0').filter((p) => p && !STATUS_FILE.test(p));
      if (strays.length > 0) await must(git(['rm', '--cached', '-q', '--', ...strays], ours), 'rm');
      const oursTree = (await must(git(['write-tree'], ours), 'write-tree')).stdout.trim();

      // Index-only commands; git still wants a work tree, so it gets an empty one it never writes to.
      await mkdir(join(work, 'empty'));
      const merged = { ...env, GIT_INDEX_FILE: join(work, 'merged.index'), GIT_WORK_TREE: join(work, 'empty') };
      if (remoteTip) {
        await must(git(['read-tree', remoteTip], merged), 'read-tree');
        await must(git(['rm', '-r', '--cached', '-q', '--ignore-unmatch', '--', 'status'], merged), 'rm');
      } else {
        await must(git(['read-tree', '--empty'], merged), 'read-tree');
      }
      await must(git(['read-tree', '--prefix=status/', oursTree], merged), 'read-tree');
      const tree = (await must(git(['write-tree'], merged), 'write-tree')).stdout.trim();
      if (remoteTip) {
        const tipTree = (await must(git(['rev-parse', `${remoteTip}^{tree}`], env), 'rev-parse')).stdout.trim();
        if (tipTree === tree) return undefined;
      }
      const revision = this.options.revision?.() ?? 'unknown';
      const who = { GIT_AUTHOR_NAME: 'mamori', GIT_AUTHOR_EMAIL: 'mamori@localhost', GIT_COMMITTER_NAME: 'mamori', GIT_COMMITTER_EMAIL: 'mamori@localhost' };
      const args = ['commit-tree', tree, ...(remoteTip ? ['-p', remoteTip] : []), '-m', message ?? `status at manifests revision ${revision}`];
      return (await must(git(args, { ...env, ...who }), 'commit-tree')).stdout.trim();
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

async function must(run: Promise<Run>, what: string): Promise<Run> {
  const result = await run;
  if (result.code !== 0) throw new MamoriError('MAMORI_SOURCE_WRITEBACK_FAILED', `git ${what} failed: ${result.stderr.trim()}`);
  return result;
}
