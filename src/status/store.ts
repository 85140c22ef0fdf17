/**
 * Status files: one YAML file per server under `<stateDir>/status/`, replaced atomically
 * (write-file-atomic: a temporary file, fsync, rename), so a reader sees the old file or the new
 * one, never half of one. Removed servers move to `status/archive/`.
 */
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { parse, stringify } from 'yaml';
import type { ServerStatus } from './model.ts';

export const STATUS_DIR = 'status';
export const ARCHIVE_DIR = 'archive';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface StatusStore {
  readonly dir: string;
  write(status: ServerStatus): Promise<void>;
  read(server: string): Promise<ServerStatus | undefined>;
  list(): Promise<ServerStatus[]>;
  /** Moves a removed server's file to status/archive/<server>.<time>.yaml. */
  archive(server: string, nowIso?: string): Promise<void>;
}

function checkName(server: string): string {
  // A server name becomes a file name: never let it climb out of the folder.
  if (!NAME_RE.test(server)) throw new Error(`not a server name: ${JSON.stringify(server)}`);
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

  return {
    dir,
    async write(status) {
      await ensure();
      await writeFileAtomic(fileOf(status.metadata.name), stringify(status, { lineWidth: 0 }), { mode: 0o644, fsync: true });
    },
    async read(server) {
      try {
        return parse(await readFile(fileOf(server), 'utf8')) as ServerStatus;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async list() {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const out: ServerStatus[] = [];
      for (const n of names.filter((x) => x.endsWith('.yaml')).sort()) {
        const s = await this.read(n.slice(0, -'.yaml'.length));
        if (s !== undefined) out.push(s);
      }
      return out;
    },
    async archive(server, nowIso = new Date().toISOString()) {
      await ensure();
      const stamp = nowIso.replace(/[-:]/g, '');
      try {
        await rename(fileOf(server), path.join(dir, ARCHIVE_DIR, `${checkName(server)}.${stamp}.yaml`));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    },
  };
}
