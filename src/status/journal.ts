/**
 * The append-only journal: one JSON object per line in `<stateDir>/journal/journal-<n>.jsonl`,
 * fsynced before `append` resolves, rotated by size. The reconciler writes `started` BEFORE it
 * acts and `finished`/`interrupted` after, so that a restart can tell what may have run.
 *
 * Appends that arrive while a write is in flight are written together and share one fsync
 * (group commit): the durability of each line, at the cost of one sync per batch.
 */
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const JOURNAL_DIR = 'journal';
export const DEFAULT_JOURNAL_MAX_BYTES = 8 * 1024 * 1024;
const FILE_RE = /^journal-(\d{6,})\.jsonl$/;

export interface JournalRecord {
  /** Monotonic across files and restarts. */
  seq: number;
  /** ISO 8601. */
  ts: string;
  type: string;
  [field: string]: unknown;
}

export type JournalEntry = Omit<JournalRecord, 'seq' | 'ts'> & { ts?: string };

export interface Journal {
  readonly dir: string;
  append(entry: JournalEntry): Promise<JournalRecord>;
  /**
   * Several records in one write and one fsync: all of them are in the file, or none is (a failed
   * or short write is cut back to where the file ended). The reconciler commits a pass's history
   * only after its records are in.
   */
  appendBatch?(entries: readonly JournalEntry[]): Promise<JournalRecord[]>;
  close(): Promise<void>;
}

/** The journal's file layer: node:fs/promises `open` by default; tests inject faults here. */
export type JournalOpen = (file: string, flags: string, mode?: number) => Promise<JournalFile>;

/** What the journal uses of a FileHandle. */
export interface JournalFile {
  write(text: string): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  truncate(len: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface OpenJournalOptions {
  maxBytes?: number;
  /** Clock for `ts` when the entry has none (tests). */
  now?: () => number;
  /** The file layer (tests inject failures: ENOSPC, EIO). */
  open?: JournalOpen;
}

/** All of a batch's records, or none (entries appended one by one on a journal without batches). */
export async function appendAll(journal: Journal, entries: readonly JournalEntry[]): Promise<JournalRecord[]> {
  if (entries.length === 0) return [];
  if (journal.appendBatch !== undefined) return journal.appendBatch(entries);
  const out: JournalRecord[] = [];
  for (const e of entries) out.push(await journal.append(e));
  return out;
}

export function journalDirOf(stateDir: string): string {
  return path.join(stateDir, JOURNAL_DIR);
}

function fileName(n: number): string {
  return `journal-${String(n).padStart(6, '0')}.jsonl`;
}

async function journalFiles(dir: string): Promise<Array<{ n: number; file: string }>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .flatMap((name) => {
      const m = FILE_RE.exec(name);
      return m?.[1] !== undefined ? [{ n: Number(m[1]), file: path.join(dir, name) }] : [];
    })
    .sort((a, b) => a.n - b.n);
}

export interface ReadJournalResult {
  records: JournalRecord[];
  /** Lines that did not parse: only a torn last line (a crash mid-write) is expected here. */
  torn: number;
}

/** Every record of every file, oldest first. */
export async function readJournal(stateDir: string): Promise<ReadJournalResult> {
  const records: JournalRecord[] = [];
  let torn = 0;
  for (const { file } of await journalFiles(journalDirOf(stateDir))) {
    const text = await readFile(file, 'utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const rec = JSON.parse(line) as JournalRecord;
        if (typeof rec.seq === 'number' && typeof rec.type === 'string') records.push(rec);
        else torn++;
      } catch {
        torn++;
      }
    }
  }
  return { records, torn };
}

interface Pending {
  line: string;
  records: JournalRecord[];
  resolve: (r: JournalRecord[]) => void;
  reject: (err: unknown) => void;
}

/** A write that did not take all its bytes (a full disk): an error, as a failed write is. */
function shortWrite(written: number, wanted: number): Error {
  const err = new Error(`journal write short: ${written} of ${wanted} bytes (no space left on device?)`) as NodeJS.ErrnoException;
  err.code = 'ENOSPC';
  return err;
}

export async function openJournal(stateDir: string, options: OpenJournalOptions = {}): Promise<Journal> {
  const dir = journalDirOf(stateDir);
  await mkdir(dir, { recursive: true });
  const maxBytes = options.maxBytes ?? DEFAULT_JOURNAL_MAX_BYTES;
  const now = options.now ?? Date.now;
  const openFile: JournalOpen = options.open ?? ((file, flags, mode) => open(file, flags, mode));
  const files = await journalFiles(dir);
  const lastFile = files[files.length - 1];
  let n = lastFile?.n ?? 1;
  let seq = 0;
  if (lastFile !== undefined) {
    const { records } = await readJournal(stateDir);
    seq = records.reduce((m, r) => Math.max(m, r.seq), 0);
  }
  let fh: JournalFile = await openFile(path.join(dir, fileName(n)), 'a', 0o640);
  let size = (await fh.stat()).size;
  // A torn last line from a crash: start on a fresh line so the next record parses.
  if (size > 0) {
    const tail = Buffer.alloc(1);
    const rfh = await openFile(path.join(dir, fileName(n)), 'r');
    await rfh.read(tail, 0, 1, size - 1);
    await rfh.close();
    if (tail[0] !== 0x0a) {
      const { bytesWritten } = await fh.write('\n');
      if (bytesWritten !== 1) throw shortWrite(bytesWritten, 1);
      size += 1;
    }
  }
  let queue: Pending[] = [];
  let writing = false;
  let closed = false;

  async function flush(): Promise<void> {
    if (writing) return;
    writing = true;
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        try {
          const text = batch.map((p) => p.line).join('');
          const bytes = Buffer.byteLength(text);
          if (size > 0 && size + bytes > maxBytes) {
            await fh.sync();
            const next = await openFile(path.join(dir, fileName(n + 1)), 'a', 0o640);
            await fh.close();
            fh = next;
            n += 1;
            size = 0;
          }
          try {
            const { bytesWritten } = await fh.write(text);
            if (bytesWritten !== bytes) throw shortWrite(bytesWritten, bytes);
            await fh.sync();
          } catch (err) {
            // Never leave half a line (it would swallow the next record): cut back to the last whole one.
            await fh.truncate(size).catch(() => undefined);
            throw err;
          }
          size += bytes;
          for (const p of batch) p.resolve(p.records);
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      writing = false;
    }
  }

  const enqueue = (entries: readonly JournalEntry[]): Promise<JournalRecord[]> => {
    if (closed) return Promise.reject(new Error('journal closed'));
    const records: JournalRecord[] = [];
    let line = '';
    for (const entry of entries) {
      seq += 1;
      const record = { ...entry, seq, ts: entry.ts ?? new Date(now()).toISOString() } as JournalRecord;
      records.push(record);
      line += `${JSON.stringify(record)}\n`;
    }
    return new Promise<JournalRecord[]>((resolve, reject) => {
      queue.push({ line, records, resolve, reject });
      void flush();
    });
  };

  return {
    dir,
    async append(entry) {
      return (await enqueue([entry]))[0] as JournalRecord;
    },
    appendBatch(entries) {
      return enqueue(entries);
    },
    async close() {
      if (closed) return;
      closed = true;
      while (writing || queue.length > 0) await new Promise((r) => setImmediate(r));
      await fh.close();
    },
  };
}
