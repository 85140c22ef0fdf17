import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { FileReplacer } from '../../src/status/replace-file.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('FileReplacer', () => {
  test('writes to one path land in the order asked (the last one wins), with the exact mode, and leave no temporary file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mamori-replace-'));
    dirs.push(dir);
    const file = path.join(dir, 'web01.yaml');
    const files = new FileReplacer();
    // Larger texts first: unordered, a short late write would finish before a long early one.
    const writes = Array.from({ length: 40 }, (_, i) => files.replace(file, `${i}\n${'x'.repeat((40 - i) * 20_000)}`, { mode: 0o640 }));
    const oldUmask = process.umask(0o077);
    try {
      await Promise.all(writes);
      await files.replace(path.join(dir, 'other.yaml'), 'other\n', { mode: 0o644 });
    } finally {
      process.umask(oldUmask);
    }
    expect((await readFile(file, 'utf8')).split('\n')[0]).toBe('39');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect((await stat(path.join(dir, 'other.yaml'))).mode & 0o777).toBe(0o644);
    expect((await readdir(dir)).sort()).toEqual(['other.yaml', 'web01.yaml']);
  });

  test('a write that fails rejects, leaves the old file as it was and no temporary file; the next write to the path goes ahead', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mamori-replace-'));
    dirs.push(dir);
    const files = new FileReplacer();
    await expect(files.replace(path.join(dir, 'missing', 'web01.yaml'), 'x', { mode: 0o644 })).rejects.toThrow(/ENOENT/);
    const file = path.join(dir, 'web01.yaml');
    await files.replace(file, 'old\n', { mode: 0o644 });
    // A folder where the file should be: the rename fails, the folder is untouched.
    const blocked = path.join(dir, 'blocked');
    await (await import('node:fs/promises')).mkdir(path.join(blocked, 'inside'), { recursive: true });
    await expect(files.replace(blocked, 'new\n', { mode: 0o644 })).rejects.toThrow();
    expect(await readFile(file, 'utf8')).toBe('old\n');
    expect((await readdir(dir)).sort()).toEqual(['blocked', 'web01.yaml']);
  });
});
