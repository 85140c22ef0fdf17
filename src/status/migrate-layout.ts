/**
 * The state folder's layout, and the one upgrade so far: layout 1 named a server by its bare name
 * (status/web01.yaml, journal records with server: web01, last-good/web01.json); layout 2 by its
 * id, customer/name. The upgrade rewrites the journal's server names to ids, so that a `started`
 * record written under the old name is still found by the replay (the attempt it opened is
 * journaled interrupted and never run again), and moves status and last-good files into their
 * customer's folder.
 *
 * Which customer a bare name belongs to comes from the folder itself: the status files and
 * last-good manifests (which carry the customer) and the journal's `monitor-desired` records
 * (every server with its customer). Under layout 1 a name was unique across customers, so the
 * answer is one customer. A name nothing maps is left as it was, and said so.
 *
 * Safe to run again at any point: the old content is copied once to `layout-1-backup/` (made
 * under a temporary name and renamed, so a backup that exists is whole), every step only touches
 * names without a customer, and `layout.json` is written last. The caller holds the state lock.
 */
import { cp, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { parse } from 'yaml';
import type { Logger } from '../log.ts';

export const LAYOUT_FILE = 'layout.json';
export const LAYOUT_VERSION = 2;
export const LAYOUT_1_BACKUP = 'layout-1-backup';
const MIGRATED_DIRS = ['status', 'last-good', 'journal'] as const;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface LayoutMigration {
  /** False when the folder already had layout 2 (or was new). */
  migrated: boolean;
  backup?: string;
  /** Bare name → customer/name, for every name that was mapped. */
  servers: Record<string, string>;
  journalRecords: number;
  statusFiles: number;
  lastGood: number;
  /** Names found without a customer to map them to: left as they were. */
  unmapped: string[];
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The layout the folder says it has; a folder without the file is layout 1 (or new). */
export async function stateLayoutOf(stateDir: string): Promise<number> {
  try {
    const v = (JSON.parse(await readFile(path.join(stateDir, LAYOUT_FILE), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'number' ? v : 1;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 1;
    throw err;
  }
}

const bare = (name: unknown): name is string => typeof name === 'string' && NAME_RE.test(name);

type Rec = Record<string, unknown>;

/** Every bare server name one record holds, mapped (or collected when unmapped). */
function mapRecord(rec: Rec, map: (name: string) => string | undefined, unmapped: Set<string>): Rec | undefined {
  let changed = false;
  const one = (v: unknown): unknown => {
    if (!bare(v)) return v;
    const id = map(v);
    if (id === undefined) {
      unmapped.add(v);
      return v;
    }
    changed = true;
    return id;
  };
  const out: Rec = { ...rec };
  if ('server' in rec) out.server = one(rec.server);
  if (typeof rec.incident === 'object' && rec.incident !== null && 'server' in rec.incident) out.incident = { ...(rec.incident as Rec), server: one((rec.incident as Rec).server) };
  if (Array.isArray(rec.servers)) {
    out.servers = rec.servers.map((s: unknown) => (typeof s === 'string' ? one(s) : typeof s === 'object' && s !== null && 'name' in s ? { ...(s as Rec), name: one((s as Rec).name) } : s));
  }
  if (typeof rec.episode === 'object' && rec.episode !== null && Array.isArray((rec.episode as Rec).servers)) {
    out.episode = { ...(rec.episode as Rec), servers: ((rec.episode as Rec).servers as unknown[]).map(one) };
  }
  return changed ? out : undefined;
}

/** Bare name → customer, from what the folder holds; the status file and last-good win over the journal. */
async function customersOf(stateDir: string, logger: Logger): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const journalDir = path.join(stateDir, 'journal');
  for (const f of (await list(journalDir)).filter((n) => /^journal-\d+\.jsonl$/.test(n))) {
    for (const line of (await readFile(path.join(journalDir, f), 'utf8')).split('\n')) {
      if (!line.includes('"monitor-desired"')) continue;
      try {
        const r = JSON.parse(line) as Rec;
        if (r.type !== 'monitor-desired' || !Array.isArray(r.servers)) continue;
        for (const s of r.servers as Rec[]) if (bare(s.name) && typeof s.customer === 'string' && NAME_RE.test(s.customer)) out.set(s.name, s.customer);
      } catch {
        // a torn line: the journal's reader skips it too
      }
    }
  }
  const lastGoodDir = path.join(stateDir, 'last-good');
  for (const f of (await list(lastGoodDir)).filter((n) => n.endsWith('.json'))) {
    try {
      const r = JSON.parse(await readFile(path.join(lastGoodDir, f), 'utf8')) as { name?: unknown; doc?: { metadata?: { customer?: unknown } } };
      const c = r.doc?.metadata?.customer;
      if (bare(r.name) && typeof c === 'string' && NAME_RE.test(c)) out.set(r.name, c);
    } catch (err) {
      logger.warn({ err, file: path.join('last-good', f) }, 'last-good manifest unreadable; its customer is not known');
    }
  }
  // Files an interrupted upgrade already moved say their customer by their folder.
  for (const top of ['status', 'last-good']) {
    for (const c of (await list(path.join(stateDir, top))).filter((n) => NAME_RE.test(n) && n !== 'archive')) {
      for (const f of await list(path.join(stateDir, top, c)).catch(() => [] as string[])) {
        const name = f.replace(/\.(yaml|json)$/, '');
        if (name !== f && bare(name)) out.set(name, c);
      }
    }
  }
  const statusDir = path.join(stateDir, 'status');
  for (const f of (await list(statusDir)).filter((n) => n.endsWith('.yaml'))) {
    if (!(await isFile(path.join(statusDir, f)))) continue;
    const name = f.slice(0, -'.yaml'.length);
    try {
      const c = (parse(await readFile(path.join(statusDir, f), 'utf8')) as { metadata?: { customer?: unknown } } | null)?.metadata?.customer;
      if (bare(name) && typeof c === 'string' && NAME_RE.test(c)) out.set(name, c);
    } catch (err) {
      logger.warn({ err, file: path.join('status', f) }, 'status file unreadable; its customer is not known');
    }
  }
  return out;
}

async function rewriteJournal(stateDir: string, map: (name: string) => string | undefined, unmapped: Set<string>): Promise<number> {
  const dir = path.join(stateDir, 'journal');
  let rewritten = 0;
  for (const f of (await list(dir)).filter((n) => /^journal-\d+\.jsonl$/.test(n))) {
    const file = path.join(dir, f);
    const lines = (await readFile(file, 'utf8')).split('\n');
    let changed = 0;
    const out = lines.map((line) => {
      if (line.trim() === '') return line;
      let rec: Rec;
      try {
        rec = JSON.parse(line) as Rec;
      } catch {
        return line; // a torn line stays torn: the reader counts it
      }
      const next = mapRecord(rec, map, unmapped);
      if (next === undefined) return line;
      changed++;
      return JSON.stringify(next);
    });
    if (changed === 0) continue;
    await writeFileAtomic(file, out.join('\n'), { mode: 0o640, fsync: true });
    rewritten += changed;
  }
  return rewritten;
}

async function moveStatusFiles(stateDir: string, map: (name: string) => string | undefined, unmapped: Set<string>): Promise<number> {
  const dir = path.join(stateDir, 'status');
  let moved = 0;
  for (const f of (await list(dir)).filter((n) => n.endsWith('.yaml'))) {
    if (!(await isFile(path.join(dir, f)))) continue;
    const name = f.slice(0, -'.yaml'.length);
    const id = bare(name) ? map(name) : undefined;
    if (id === undefined) {
      unmapped.add(name);
      continue;
    }
    await mkdir(path.dirname(path.join(dir, `${id}.yaml`)), { recursive: true });
    await rename(path.join(dir, f), path.join(dir, `${id}.yaml`));
    moved++;
  }
  // The archive of layout 1 (status/archive/) could be a customer's folder now: it moves aside.
  const oldArchive = path.join(dir, 'archive');
  if ((await exists(oldArchive)) && !(await exists(path.join(dir, '_archive', 'layout-1')))) {
    await mkdir(path.join(dir, '_archive'), { recursive: true });
    await rename(oldArchive, path.join(dir, '_archive', 'layout-1'));
  }
  return moved;
}

async function moveLastGood(stateDir: string, map: (name: string) => string | undefined, unmapped: Set<string>): Promise<number> {
  const dir = path.join(stateDir, 'last-good');
  let moved = 0;
  for (const f of (await list(dir)).filter((n) => n.endsWith('.json'))) {
    const from = path.join(dir, f);
    if (!(await isFile(from))) continue;
    const name = f.slice(0, -'.json'.length);
    const id = bare(name) ? map(name) : undefined;
    if (id === undefined) {
      unmapped.add(name);
      continue;
    }
    const rec = JSON.parse(await readFile(from, 'utf8')) as Rec;
    const to = path.join(dir, `${id}.json`);
    await mkdir(path.dirname(to), { recursive: true, mode: 0o750 });
    await writeFileAtomic(to, `${JSON.stringify({ ...rec, name: id })}\n`, { mode: 0o640, fsync: true });
    await rm(from, { force: true });
    moved++;
  }
  return moved;
}

/**
 * Upgrades a layout-1 state folder to layout 2 (see the top of this file); a no-op on a folder
 * already at layout 2. A new (empty) folder is simply marked.
 */
export async function migrateStateLayout(stateDir: string, o: { logger: Logger; now?: () => number }): Promise<LayoutMigration> {
  const none: LayoutMigration = { migrated: false, servers: {}, journalRecords: 0, statusFiles: 0, lastGood: 0, unmapped: [] };
  if ((await stateLayoutOf(stateDir)) >= LAYOUT_VERSION) return none;
  const markDone = async (): Promise<void> => {
    await writeFileAtomic(path.join(stateDir, LAYOUT_FILE), `${JSON.stringify({ version: LAYOUT_VERSION, since: new Date((o.now ?? Date.now)()).toISOString() })}\n`, { mode: 0o644, fsync: true });
  };
  const present = [];
  for (const d of MIGRATED_DIRS) if ((await list(path.join(stateDir, d))).length > 0) present.push(d);
  if (present.length === 0) {
    await markDone();
    return none;
  }

  // The old content, once: a backup that exists was made whole (temporary name, then rename).
  const backup = path.join(stateDir, LAYOUT_1_BACKUP);
  if (!(await exists(backup))) {
    const tmp = `${backup}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true, mode: 0o750 });
    for (const d of present) await cp(path.join(stateDir, d), path.join(tmp, d), { recursive: true, preserveTimestamps: true });
    await rename(tmp, backup);
  }

  const customers = await customersOf(stateDir, o.logger);
  const servers: Record<string, string> = {};
  const map = (name: string): string | undefined => {
    const c = customers.get(name);
    if (c === undefined) return undefined;
    const id = `${c}/${name}`;
    servers[name] = id;
    return id;
  };
  const unmapped = new Set<string>();
  const journalRecords = await rewriteJournal(stateDir, map, unmapped);
  const statusFiles = await moveStatusFiles(stateDir, map, unmapped);
  const lastGood = await moveLastGood(stateDir, map, unmapped);
  await markDone();
  const result: LayoutMigration = { migrated: true, backup, servers, journalRecords, statusFiles, lastGood, unmapped: [...unmapped].sort() };
  o.logger.warn(
    {
      layout: { from: 1, to: LAYOUT_VERSION },
      backup,
      servers: Object.keys(servers).length,
      // Bounded: a fleet's worth of names is for the backup and the journal, not one log line.
      mapped: Object.entries(servers).slice(0, 50).map(([from, to]) => `${from} -> ${to}`),
      journalRecords,
      statusFiles,
      lastGood,
      unmapped: result.unmapped.slice(0, 50),
      unmappedCount: result.unmapped.length,
    },
    'state folder upgraded: servers are named customer/name',
  );
  return result;
}
