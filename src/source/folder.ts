import { lstat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.ts';
import { readManifestTree } from '../manifest/read-tree.ts';
import { digestFiles } from './digest.ts';
import type { Snapshot, Source, SourceFile, SyncResult } from './types.ts';

export interface FolderSourceOptions {
  root: string;
  /** Quiet time after the last change before a reload (ms). */
  debounceMs: number;
  logger: Logger;
  /** The config's operatorDir: read (and watched) instead of `<root>/operator`. */
  operatorDir?: string;
}

/**
 * A plain folder of manifests (the embedded default for local use). A watcher event only asks for
 * a reload of the whole folder — its content is never acted on — and the revision is a hash of the
 * files, so an editor's save-rename-save dance yields one revision, not three.
 */
export class FolderSource implements Source {
  readonly kind = 'folder' as const;
  readonly description: string;
  private readonly options: FolderSourceOptions;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: FolderSourceOptions) {
    this.options = options;
    this.description = `folder ${options.root}`;
  }

  async sync(): Promise<SyncResult> {
    try {
      const stat = await lstat(this.options.root);
      if (!stat.isDirectory()) return { ok: false, reason: 'SourceUnavailable', message: `${this.options.root} is not a folder` };
    } catch (err) {
      return { ok: false, reason: 'SourceUnavailable', message: `${this.options.root} cannot be read: ${(err as Error).message}` };
    }
    try {
      return { ok: true, snapshot: await this.read() };
    } catch (err) {
      return { ok: false, reason: 'ReadFailed', message: (err as Error).message };
    }
  }

  private async read(): Promise<Snapshot> {
    // The loader's own reader: it refuses symbolic links that leave the tree, FIFOs, files over
    // the size limit and trees too deep, and falls back to mamori's operator folder as validate does.
    const started = performance.now();
    const tree = await readManifestTree(this.options.root, { operatorDir: this.options.operatorDir });
    const files: SourceFile[] = tree.files.map((f) => ({ path: f.path, content: f.content }));
    const digest = digestFiles(files);
    return { revision: `sha256:${digest.slice(0, 16)}`, digest, files, errors: tree.findings, timings: { read: performance.now() - started } };
  }

  async lastApplied(): Promise<Snapshot | undefined> {
    return undefined;
  }

  async markApplied(): Promise<void> {
    // A folder has no history to judge rollbacks against: every reload is read whole.
  }

  async watch(onChange: () => void): Promise<void> {
    if (this.watcher) return;
    const paths = [this.options.root, ...(this.options.operatorDir ? [this.options.operatorDir] : [])];
    const watcher = watch(paths, { ignoreInitial: true, persistent: true, followSymlinks: false });
    watcher.on('all', () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        onChange();
      }, this.options.debounceMs);
    });
    watcher.on('error', (err) => this.options.logger.warn({ err }, 'manifest folder watcher error'));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.watcher = watcher;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
