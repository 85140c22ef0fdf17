/**
 * Format 1 → 2 of the state folder (a step of src/status/state-migrations.ts): format 1 named a
 * server by its bare name (status/web01.yaml, journal records with server: web01,
 * last-good/web01.json); format 2 by its id, customer/name. The journal's server names become ids,
 * so that a `started` record written under the old name is still found by the replay (the attempt
 * it opened is journaled interrupted and never run again); status and last-good files move into
 * their customer's folder; the old status/archive moves to status/_archive/layout-1.
 *
 * Which customer a bare name belongs to comes from the folder itself: the status files and
 * last-good manifests (which carry the customer), the journal's `monitor-desired` records (every
 * server with its customer), and files an interrupted run already moved (their folder). Under
 * format 1 a name was unique across customers, so the answer is one customer. A name nothing maps
 * is left as it was, and said so. Idempotent: every step only touches names without a customer.
 * The caller (prepareStateFolder) backs the folder up first and holds the state lock.
 */
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { parse } from 'yaml';
import { silentLogger, type Logger } from '../log.ts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface CustomerIdMigration {
  /** Bare name → customer/name, for every name that was mapped. */
  servers: Record<string, string>;
  journalRecords: number;
  statusFiles: number;
  lastGood: number;
  /** Names found without a customer to map them to: left as they were. */
  unmapped: string[];
}

async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
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
  if ((await isDir(oldArchive)) && !(await isDir(path.join(dir, '_archive', 'layout-1')))) {
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

/** Renames every bare server name in the folder to its customer/name id (see the top of this file). */
export async function migrateToCustomerIds(stateDir: string, logger: Logger | undefined): Promise<CustomerIdMigration> {
  const log = logger ?? silentLogger();
  const customers = await customersOf(stateDir, log);
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
  const result: CustomerIdMigration = { servers, journalRecords, statusFiles, lastGood, unmapped: [...unmapped].sort() };
  log.warn(
    {
      servers: Object.keys(servers).length,
      // Bounded: a fleet's worth of names is for the backup and the journal, not one log line.
      mapped: Object.entries(servers).slice(0, 50).map(([from, to]) => `${from} -> ${to}`),
      journalRecords,
      statusFiles,
      lastGood,
      unmapped: result.unmapped.slice(0, 50),
      unmappedCount: result.unmapped.length,
    },
    'state folder: servers renamed to customer/name',
  );
  return result;
}
