/**
 * Last-known-good manifests, per server, in the state folder (`<stateDir>/last-good/<customer>/<name>.json`):
 * the newest manifest of each server that was valid when applied. After a restart a server whose
 * manifest is invalid in the revision being applied keeps being watched from this one (the same
 * rule as while the daemon runs), instead of silently dropping out of the fleet.
 */
import { execFile } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { serverIdOf } from '../manifest/server-id.ts';
import { FileReplacer } from '../status/replace-file.ts';
import type { LoadedDocument, Owner, ServerDocument } from '../manifest/types.ts';
import type { AppliedServer, LastGoodPersistence } from './desired.ts';

export const LAST_GOOD_DIR = 'last-good';
/** Records read at once at start. */
const READ_AT_ONCE = 16;
/** A server id as a path: customer/name (or a bare name for a server with no customer). */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;
const SEGMENT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface LastGoodRecord {
  v: 1;
  /** The server's id: customer/name. */
  name: string;
  revision: string;
  file: string;
  owner: Owner;
  doc: ServerDocument;
}

function documentOf(r: LastGoodRecord): LoadedDocument<ServerDocument> {
  // Positions are those of a revision no longer at hand: findings point at the file's top.
  return { kind: 'Server', doc: r.doc, file: r.file, owner: r.owner, positionOf: () => ({ line: 1, col: 1 }) };
}

/** What decides whether a record must be written again: everything but the revision. */
function contentOf(r: LastGoodRecord): string {
  return JSON.stringify([r.name, r.file, r.owner, r.doc]);
}

export interface LastGoodStoreOptions {
  stateDir: string;
  logger: Logger;
  /** Told of each failed write (the state folder's health). */
  onWriteError?: (err: unknown) => void;
  /** Flushes the folder's file system to disk once a batch is written (`sync -f`); tests count the calls. */
  syncFolder?: (dir: string) => Promise<void>;
}

/**
 * `sync -f DIR`: one flush of the file system for a whole batch. Each file fsync'd on its own held
 * a thread of libuv's pool (4) for a disk flush, 10,000 in a row at a fleet's first start, and the
 * status files' and the journal's I/O queued behind them (the daemon took minutes to start).
 */
function syncFileSystem(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', dir], { timeout: 120_000 }, (err) => (err ? reject(err) : resolve()));
  });
}

export class LastGoodStore implements LastGoodPersistence {
  private readonly dir: string;
  /**
   * What is on disk, by server: the manifest's JSON (file, owner, document; not the revision). A
   * manifest unchanged by a new revision is not written again: its record keeps the revision it
   * was saved at, and a commit touching one server writes one file, not the whole fleet's.
   */
  private readonly saved = new Map<string, string>();
  /** The document object each record was saved from: the same object (an unchanged file the loader reused) is not even serialised. */
  private readonly savedFrom = new Map<string, LoadedDocument<ServerDocument>>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly files = new FileReplacer();

  constructor(private readonly o: LastGoodStoreOptions) {
    this.dir = path.join(o.stateDir, LAST_GOOD_DIR);
  }

  async load(): Promise<Map<string, AppliedServer>> {
    const out = new Map<string, AppliedServer>();
    let entries: Dirent[];
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw err;
    }
    const files: string[] = [];
    for (const e of entries) {
      if (e.isFile() && e.name.endsWith('.json')) files.push(e.name);
      else if (e.isDirectory() && SEGMENT_RE.test(e.name)) {
        for (const f of await readdir(path.join(this.dir, e.name)).catch(() => [] as string[])) if (f.endsWith('.json')) files.push(`${e.name}/${f}`);
      }
    }
    files.sort();
    // Read READ_AT_ONCE at a time: one after another, a restart of 10,000 servers waited 10,000
    // round trips through libuv's pool before its first revision could be applied.
    const texts: Array<string | Error> = new Array<string | Error>(files.length);
    let next = 0;
    const reader = async (): Promise<void> => {
      while (next < files.length) {
        const i = next++;
        texts[i] = await readFile(path.join(this.dir, files[i] as string), 'utf8').catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_AT_ONCE, files.length) }, reader));
    for (const [i, n] of files.entries()) {
      try {
        const text = texts[i];
        if (text instanceof Error) throw text;
        const r = JSON.parse(text as string) as LastGoodRecord;
        if (r.v !== 1 || typeof r.name !== 'string' || `${r.name}.json` !== n || typeof r.doc?.spec?.address !== 'string' || serverIdOf(r.doc) !== r.name) throw new Error('not a last-good record');
        this.saved.set(r.name, contentOf(r));
        out.set(r.name, { name: r.name, document: documentOf(r), revision: r.revision });
      } catch (err) {
        this.o.logger.warn({ err, file: path.join(LAST_GOOD_DIR, n) }, 'last-good manifest unreadable; ignored');
      }
    }
    return out;
  }

  /** After a revision is applied: each valid server's manifest is saved (if changed); servers gone are forgotten. */
  save(servers: readonly AppliedServer[]): Promise<void> {
    const run = this.chain.then(() => this.saveNow(servers));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async saveNow(servers: readonly AppliedServer[]): Promise<void> {
    const started = performance.now();
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    const keep = new Set<string>();
    const folders = new Set<string>();
    let written = 0;
    for (const s of servers) {
      if (!NAME_RE.test(s.name)) continue;
      keep.add(s.name);
      if (s.condition !== undefined) continue; // running on its last good one: that file stays
      if (this.savedFrom.get(s.name) === s.document) continue;
      const record: LastGoodRecord = { v: 1, name: s.name, revision: s.revision, file: s.document.file, owner: s.document.owner, doc: s.document.doc };
      const content = contentOf(record);
      if (this.saved.get(s.name) === content) {
        this.savedFrom.set(s.name, s.document);
        continue;
      }
      const text = `${JSON.stringify(record)}\n`;
      try {
        const file = path.join(this.dir, `${s.name}.json`);
        const folder = path.dirname(file);
        if (!folders.has(folder)) {
          await mkdir(folder, { recursive: true, mode: 0o750 });
          folders.add(folder);
        }
        // Renamed into place now, flushed to disk once for the batch (below).
        await this.files.replace(file, text, { mode: 0o640 });
        this.saved.set(s.name, content);
        this.savedFrom.set(s.name, s.document);
        written++;
      } catch (err) {
        this.o.onWriteError?.(err);
        this.o.logger.error({ err, server: s.name }, 'last-good manifest not saved');
        return;
      }
    }
    if (written > 0) {
      try {
        await (this.o.syncFolder ?? syncFileSystem)(this.dir);
      } catch (err) {
        this.o.onWriteError?.(err);
        this.o.logger.error({ err, written }, 'last-good manifests not flushed to disk');
      }
    }
    let removed = 0;
    for (const name of [...this.saved.keys()]) {
      if (keep.has(name)) continue;
      await unlink(path.join(this.dir, `${name}.json`)).catch(() => undefined);
      this.saved.delete(name);
      this.savedFrom.delete(name);
      removed++;
    }
    if (written > 0 || removed > 0) this.o.logger.info({ written, removed, ms: Math.round(performance.now() - started) }, 'last-good manifests saved');
  }
}
