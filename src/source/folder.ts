import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.ts';
import { digestFiles } from './digest.ts';
import type { Snapshot, Source, SourceFile, SourceFileError, SyncResult } from './types.ts';

export interface FolderSourceOptions {
  root: string;
  /** Quiet time after the last change before a reload (ms). */
  debounceMs: number;
  logger: Logger;
  maxFileBytes?: number;
}

const MANIFEST_FILE = /\.ya?ml$/i;
/** A bound on the walk: a folder of manifests, not a filesystem. */
const MAX_ENTRIES = 200_000;

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
    const files: SourceFile[] = [];
    const errors: SourceFileError[] = [];
    const maxBytes = this.options.maxFileBytes ?? 8 * 1024 * 1024;
    let seen = 0;
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        if (++seen > MAX_ENTRIES) throw new Error(`${this.options.root} holds more than ${MAX_ENTRIES} entries`);
        if (entry.name.startsWith('.')) continue;
        const full = join(dir, entry.name);
        const rel = relative(this.options.root, full).split(sep).join('/');
        if (entry.isSymbolicLink()) {
          if (MANIFEST_FILE.test(entry.name)) errors.push({ path: rel, message: 'a symbolic link is not a manifest; put the file itself here' });
          continue;
        }
        if (entry.isDirectory()) {
          await walk(full);
          continue;
        }
        if (!entry.isFile() || !MANIFEST_FILE.test(entry.name)) continue;
        const stat = await lstat(full);
        if (stat.size > maxBytes) {
          errors.push({ path: rel, message: `the file is ${stat.size} bytes, over the ${maxBytes}-byte limit` });
          continue;
        }
        files.push({ path: rel, text: await readFile(full, 'utf8') });
      }
    };
    await walk(this.options.root);
    const digest = digestFiles(files);
    return { revision: `sha256:${digest.slice(0, 16)}`, digest, files, errors };
  }

  async lastApplied(): Promise<Snapshot | undefined> {
    return undefined;
  }

  async markApplied(): Promise<void> {
    // A folder has no history to judge rollbacks against: every reload is read whole.
  }

  async watch(onChange: () => void): Promise<void> {
    if (this.watcher) return;
    const watcher = watch(this.options.root, { ignoreInitial: true, persistent: true, followSymlinks: false });
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
