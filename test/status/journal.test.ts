import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { open } from 'node:fs/promises';
import { appendAll, openJournal, readJournal, type JournalOpen } from '../../src/status/journal.ts';

const dirs: string[] = [];
async function tempState(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mamori-journal-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('journal', () => {
  test('appends records with increasing seq, and reads them back in order', async () => {
    const state = await tempState();
    const j = await openJournal(state);
    const written = await Promise.all(Array.from({ length: 50 }, (_, i) => j.append({ type: 'transition', n: i })));
    await j.close();
    expect(written.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const { records, torn } = await readJournal(state);
    expect(torn).toBe(0);
    expect(records.map((r) => r.n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test('rotates by size into journal-<n>.jsonl and keeps seq across files and reopenings', async () => {
    const state = await tempState();
    let j = await openJournal(state, { maxBytes: 400 });
    for (let i = 0; i < 20; i++) await j.append({ type: 'started', payload: 'x'.repeat(40), i });
    await j.close();
    j = await openJournal(state, { maxBytes: 400 });
    const r = await j.append({ type: 'finished' });
    await j.close();
    const files = (await readdir(path.join(state, 'journal'))).sort();
    expect(files.length).toBeGreaterThan(3);
    expect(files[0]).toBe('journal-000001.jsonl');
    expect(r.seq).toBe(21);
    const { records } = await readJournal(state);
    expect(records.map((x) => x.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  });

  test('a torn last line (crash mid-write) is skipped and the next record starts on a new line', async () => {
    const state = await tempState();
    let j = await openJournal(state);
    await j.append({ type: 'started', attempt: 1 });
    await j.close();
    await appendFile(path.join(state, 'journal', 'journal-000001.jsonl'), '{"seq":2,"type":"fini');
    j = await openJournal(state);
    await j.append({ type: 'interrupted', attempt: 1 });
    await j.close();
    const { records, torn } = await readJournal(state);
    expect(torn).toBe(1);
    expect(records.map((r) => r.type)).toEqual(['started', 'interrupted']);
  });

  test('a short write (a full disk) is cut back: no half line swallows the next record, and a batch is all or nothing', async () => {
    const state = await tempState();
    let short = false;
    const faulty: JournalOpen = async (file, flags, mode) => {
      const fh = await open(file, flags, mode);
      return {
        write: async (text: string) => (short ? fh.write(text.slice(0, Math.floor(text.length / 2))) : fh.write(text)),
        sync: () => fh.sync(),
        truncate: (len: number) => fh.truncate(len),
        stat: () => fh.stat(),
        read: (b: Buffer, o: number, l: number, p: number) => fh.read(b, o, l, p),
        close: () => fh.close(),
      };
    };
    const j = await openJournal(state, { open: faulty });
    await j.append({ type: 'transition', n: 1 });
    short = true;
    await expect(appendAll(j, [{ type: 'transition', n: 2 }, { type: 'incident-opened', n: 3 }])).rejects.toMatchObject({ code: 'ENOSPC' });
    short = false;
    await appendAll(j, [{ type: 'transition', n: 4 }, { type: 'started', n: 5 }]);
    await j.close();
    const { records, torn } = await readJournal(state);
    expect(torn).toBe(0);
    expect(records.map((r) => r.n)).toEqual([1, 4, 5]);
  });
});
