/**
 * Status files: one YAML file per server, `<stateDir>/status/<customer>/<name>.yaml` (a server is
 * `customer/name`: two customers may each have a web01), replaced atomically (write-file-atomic: a
 * temporary file, fsync, rename), so a reader sees the old file or the new one, never half of one.
 * Removed servers move to `status/_archive/<customer>/` (`_` starts no customer name).
 */
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { parse, stringify } from 'yaml';
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerStatus } from './model.ts';

export const STATUS_DIR = 'status';
export const ARCHIVE_DIR = '_archive';
/** customer/name, or a bare name (a server with no customer). */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;
const SEGMENT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface StatusStore {
  readonly dir: string;
  write(status: ServerStatus): Promise<void>;
  /** `server` is the id: customer/name. */
  read(server: string): Promise<ServerStatus | undefined>;
  list(): Promise<ServerStatus[]>;
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

export function createStatusStore(stateDir: string): StatusStore {
  const dir = statusDirOf(stateDir);
  let made: Promise<unknown> | undefined;
  const ensure = (): Promise<unknown> => (made ??= mkdir(path.join(dir, ARCHIVE_DIR), { recursive: true }));
  const fileOf = (server: string): string => path.join(dir, `${checkName(server)}.yaml`);
  const madeFolders = new Set<string>();
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
      await writeFileAtomic(fileOf(id), stringify(status, { lineWidth: 0 }), { mode: 0o644, fsync: true });
    },
    async read(server) {
      try {
        return parse(await readFile(fileOf(server), 'utf8')) as ServerStatus;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw err;
      }
    },
    async list() {
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
      const out: ServerStatus[] = [];
      for (const id of ids) {
        if (!ID_RE.test(id)) continue;
        const s = await this.read(id);
        if (s !== undefined) out.push(s);
      }
      return out;
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
