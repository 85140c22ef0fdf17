import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { openJournal, readJournal } from '../../src/status/journal.ts';

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
});
