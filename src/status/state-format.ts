/**
 * The state folder's format version (`<stateDir>/format.json`), checked at every start under the
 * state lock: an older folder is migrated (src/status/state-migrations.ts) after a copy of it is
 * kept in `<stateDir>/backup/format-<N>-<time>/`; a newer one, written by a later mamori, is
 * refused — this mamori would misread it — with what to do. A folder without the file is new
 * (nothing in it but the lock) or in format 1, the layout before the file existed.
 */
import { cp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { buildInfo } from '../package-info.ts';
import { LOCK_NAME, OWNER_NAME } from './lock.ts';
import { STATE_MIGRATIONS, type StateMigration } from './state-migrations.ts';

export const FORMAT_FILE = 'format.json';
export const BACKUP_DIR = 'backup';
/** What a backup leaves out: earlier backups, the lock, the local API socket, the git cache (fetched again). */
const NOT_BACKED_UP = new Set([BACKUP_DIR, LOCK_NAME, OWNER_NAME, 'mamori.sock', 'git', '.write-check']);
/** Entries that a folder only locked, never used, holds. */
const FRESH_ENTRIES = new Set([LOCK_NAME, OWNER_NAME, 'mamori.sock', '.write-check']);

export interface FormatFile {
  format: number;
  /** The mamori version that last wrote the file. */
  writtenBy: string;
  /** Each migration applied, oldest first. */
  history: { from: number; to: number; at: string; description: string; backup?: string }[];
  /** Set while a migration runs: the copy made before it (an interrupted migration reuses it, not a copy of its half-done work). */
  migrating?: { from: number; backup: string };
}

export interface StateFormatOptions {
  logger?: Logger;
  /** Tests: another list of migrations (the current format is its length + 1). */
  migrations?: readonly StateMigration[];
  now?: () => Date;
}

export interface StateFormatResult {
  /** The format the folder was found in (`undefined`: a new folder). */
  found: number | undefined;
  format: number;
  /** The backup made before migrating, if any. */
  backup?: string;
}

export function currentStateFormat(migrations: readonly StateMigration[] = STATE_MIGRATIONS): number {
  return migrations.length + 1;
}

/** The folder's format as recorded (`undefined`: no file; a new folder or format 1). */
export async function readFormatFile(stateDir: string): Promise<FormatFile | undefined> {
  const file = path.join(stateDir, FORMAT_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MamoriError('MAMORI_STATE_FORMAT_UNREADABLE', `${file} cannot be read (${(err as Error).message})`, { cause: err, details: { file } });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new MamoriError('MAMORI_STATE_FORMAT_UNREADABLE', `${file} is not JSON (${(err as Error).message}); restore it from a backup under ${path.join(stateDir, BACKUP_DIR)}, or write {"format": 1} if the folder is from mamori 0.1`, { cause: err, details: { file } });
  }
  const format = (doc as { format?: unknown } | null)?.format;
  if (typeof format !== 'number' || !Number.isInteger(format) || format < 1) {
    throw new MamoriError('MAMORI_STATE_FORMAT_UNREADABLE', `${file}: field "format" must be a whole number from 1 (found ${JSON.stringify(format)})`, { details: { file, field: 'format' } });
  }
  const d = doc as Partial<FormatFile>;
  const migrating = d.migrating && typeof d.migrating.backup === 'string' && typeof d.migrating.from === 'number' ? { migrating: d.migrating } : {};
  return { format, writtenBy: typeof d.writtenBy === 'string' ? d.writtenBy : 'unknown', history: Array.isArray(d.history) ? d.history : [], ...migrating };
}

async function writeFormatFile(stateDir: string, doc: FormatFile): Promise<void> {
  await writeFileAtomic(path.join(stateDir, FORMAT_FILE), `${JSON.stringify(doc, null, 2)}\n`, { fsync: true, mode: 0o644 });
}

async function isFresh(stateDir: string): Promise<boolean> {
  const entries = await readdir(stateDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return entries.every((e) => FRESH_ENTRIES.has(e));
}

async function backUp(stateDir: string, from: number, now: Date): Promise<string> {
  const name = `format-${from}-${now.toISOString().replace(/[:.]/g, '-')}`;
  const target = path.join(stateDir, BACKUP_DIR, name);
  await mkdir(path.join(stateDir, BACKUP_DIR), { recursive: true, mode: 0o750 });
  try {
    for (const entry of await readdir(stateDir)) {
      if (NOT_BACKED_UP.has(entry)) continue;
      await cp(path.join(stateDir, entry), path.join(target, entry), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    }
  } catch (err) {
    await rm(target, { recursive: true, force: true }).catch(() => undefined);
    throw new MamoriError('MAMORI_STATE_MIGRATION_FAILED', `the backup of ${stateDir} before migrating it from format ${from} could not be written to ${target} (${(err as Error).message}); nothing was changed: free space and start again`, { cause: err, details: { stateDir, from } });
  }
  return target;
}

/** The newest backup under `<stateDir>/backup/` made from a format this mamori reads, for the refusal's hint. */
async function readableBackup(stateDir: string, current: number): Promise<string | undefined> {
  const names = await readdir(path.join(stateDir, BACKUP_DIR)).catch(() => [] as string[]);
  const usable = names.filter((n) => {
    const m = /^format-(\d+)-/.exec(n);
    return m !== null && Number(m[1]) <= current;
  });
  usable.sort();
  const last = usable.at(-1);
  return last === undefined ? undefined : path.join(stateDir, BACKUP_DIR, last);
}

/**
 * Brings the state folder to the current format, or refuses it. Call with the state lock held,
 * before anything else reads or writes the folder.
 */
export async function prepareStateFolder(stateDir: string, options: StateFormatOptions = {}): Promise<StateFormatResult> {
  const migrations = options.migrations ?? STATE_MIGRATIONS;
  const current = currentStateFormat(migrations);
  const now = options.now ?? (() => new Date());
  const version = buildInfo().version;
  const recorded = await readFormatFile(stateDir);

  if (recorded === undefined && (await isFresh(stateDir))) {
    await writeFormatFile(stateDir, { format: current, writtenBy: version, history: [] });
    return { found: undefined, format: current };
  }
  const doc: FormatFile = recorded ?? { format: 1, writtenBy: 'unknown (before format files)', history: [] };

  if (doc.format > current) {
    const backup = await readableBackup(stateDir, current);
    throw new MamoriError(
      'MAMORI_STATE_FORMAT_NEWER',
      `${stateDir} is in state format ${doc.format}, written by mamori ${doc.writtenBy}; this mamori (${version}) reads format ${current} at most. Run mamori ${doc.writtenBy} or later${backup ? `, or move ${stateDir} aside and restore the copy kept before the upgrade (${backup})` : ''}`,
      { details: { stateDir, format: doc.format, supported: current, writtenBy: doc.writtenBy, ...(backup ? { backup } : {}) } },
    );
  }
  if (doc.format === current) {
    if (recorded === undefined) await writeFormatFile(stateDir, { ...doc, writtenBy: version });
    return { found: doc.format, format: current };
  }

  const found = doc.format;
  const resumed = doc.migrating;
  const backup = resumed?.backup ?? (await backUp(stateDir, found, now()));
  if (resumed === undefined) {
    doc.migrating = { from: found, backup };
    await writeFormatFile(stateDir, doc);
  }
  options.logger?.warn({ stateDir, from: found, to: current, backup, resumed: resumed !== undefined }, 'state folder in an older format: migrating it (a copy is kept)');
  for (let from = found; from < current; from++) {
    const step = migrations[from - 1];
    if (step === undefined || step.from !== from) {
      throw new MamoriError('MAMORI_STATE_MIGRATION_FAILED', `no migration from state format ${from} (the list of migrations is out of order)`, { details: { stateDir, from } });
    }
    try {
      await step.migrate({ stateDir, ...(options.logger ? { logger: options.logger } : {}) });
    } catch (err) {
      throw new MamoriError(
        'MAMORI_STATE_MIGRATION_FAILED',
        `migrating ${stateDir} from state format ${from} to ${from + 1} (${step.description}) failed: ${(err as Error).message}. The folder is still marked format ${from} and the migration runs again at the next start; the copy made before is ${backup}`,
        { cause: err, details: { stateDir, from, backup } },
      );
    }
    doc.history.push({ from, to: from + 1, at: now().toISOString(), description: step.description, backup });
    doc.format = from + 1;
    doc.writtenBy = version;
    if (doc.format === current) delete doc.migrating;
    await writeFormatFile(stateDir, doc);
    options.logger?.info({ stateDir, from, to: from + 1, migration: step.description }, 'state folder migrated one format');
  }
  return { found, format: current, backup };
}
