/**
 * Status files: one YAML file per server, `<stateDir>/status/<customer>/<name>.yaml` (a server is
 * `customer/name`: two customers may each have a web01), replaced atomically (replace-file.ts: a
 * temporary file, then a rename), so a reader sees the old file or the new one, never half of one;
 * not fsync'd unless asked (StatusStoreOptions.durable: the journal is what must survive a power cut).
 * Removed servers move to `status/_archive/<customer>/` (`_` starts no customer name).
 */
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { serverIdOf } from '../manifest/server-id.ts';
import { FileReplacer } from './replace-file.ts';
import type { ServerStatus } from './model.ts';
import { statusFromYaml, statusToYaml } from './status-yaml.ts';

export const STATUS_DIR = 'status';
export const ARCHIVE_DIR = '_archive';
/** customer/name, or a bare name (a server with no customer). */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;
const SEGMENT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Whether an id may name a status file (it becomes a path: it never climbs out of the folder). */
export function isStatusId(server: string): boolean {
  return ID_RE.test(server);
}

export interface StatusStore {
  readonly dir: string;
  write(status: ServerStatus): Promise<void>;
  /** `server` is the id: customer/name. */
  read(server: string): Promise<ServerStatus | undefined>;
  list(): Promise<ServerStatus[]>;
  /**
   * The ids of the servers with a file, without reading them: a sweep that looks for the few files
   * of servers no longer watched reads only those (10,000 status files parsed at every start cost seconds).
   */
  ids?(): Promise<string[]>;
  /** Moves a removed server's file to status/_archive/<customer>/<name>.<time>.yaml. */
  archive(server: string, nowIso?: string): Promise<void>;
}

function checkName(server: string): string {
  // A server id becomes a path: never let it climb out of the folder.
  if (!ID_RE.test(server)) throw new Error(`not a server name: ${JSON.stringify(server)}`);
  return server;
}

export function statusDirOf(stateDir: string): string {
  return path.join(stateDir, STATUS_DIR);
}

export interface StatusStoreOptions {
  /**
   * fsync each file before its rename (the default: no). A status file is a view of the journal,
   * written again by each server's first pass after a start: what a power cut may tear is rewritten then (an unreadable
   * old file is logged and its conditions start afresh). Renamed into place, a file is still never
   * seen half-written by a reader. With an fsync each, 10,000 servers' first writes queued behind
   * this disk's ~3 ms flushes (and the journal's own behind them) for minutes at start.
   */
  durable?: boolean;
}

export function createStatusStore(stateDir: string, options: StatusStoreOptions = {}): StatusStore & { ids(): Promise<string[]> } {
  const dir = statusDirOf(stateDir);
  const durable = options.durable === true;
  let made: Promise<unknown> | undefined;
  const ensure = (): Promise<unknown> => (made ??= mkdir(path.join(dir, ARCHIVE_DIR), { recursive: true }));
  const fileOf = (server: string): string => path.join(dir, `${checkName(server)}.yaml`);
  const madeFolders = new Set<string>();
  const files = new FileReplacer();
  const ensureFolderOf = async (server: string): Promise<void> => {
    const folder = path.dirname(fileOf(server));
    if (folder === dir || madeFolders.has(folder)) return;
    await mkdir(folder, { recursive: true });
    madeFolders.add(folder);
  };
  const yamlIn = async (folder: string): Promise<string[]> => {
    try {
      return (await readdir(path.join(dir, folder))).filter((x) => x.endsWith('.yaml')).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw err;
    }
  };

  return {
    dir,
    async write(status) {
      await ensure();
      const id = serverIdOf(status);
      await ensureFolderOf(id);
      await files.replace(fileOf(id), statusToYaml(status), { mode: 0o644, fsync: durable });
    },
    async read(server) {
      try {
        return statusFromYaml(await readFile(fileOf(server), 'utf8')) as ServerStatus;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw err;
      }
    },
    async list() {
      const out: ServerStatus[] = [];
      for (const id of await this.ids()) {
        const s = await this.read(id);
        if (s !== undefined) out.push(s);
      }
      return out;
    },
    async ids() {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const ids: string[] = [];
      for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        if (e.isFile() && e.name.endsWith('.yaml')) ids.push(e.name.slice(0, -'.yaml'.length));
        else if (e.isDirectory() && e.name !== ARCHIVE_DIR && SEGMENT_RE.test(e.name)) {
          for (const f of await yamlIn(e.name)) ids.push(`${e.name}/${f.slice(0, -'.yaml'.length)}`);
        }
      }
      return ids.filter((id) => ID_RE.test(id));
    },
    async archive(server, nowIso = new Date().toISOString()) {
      await ensure();
      const stamp = nowIso.replace(/[-:]/g, '');
      const to = path.join(dir, ARCHIVE_DIR, `${checkName(server)}.${stamp}.yaml`);
      try {
        await mkdir(path.dirname(to), { recursive: true });
        await rename(fileOf(server), to);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    },
  };
}
