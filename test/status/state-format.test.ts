import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMamoriError } from '../../src/errors.ts';
import { acquireStateLock } from '../../src/status/lock.ts';
import { FORMAT_FILE, currentStateFormat, prepareStateFolder, readFormatFile } from '../../src/status/state-format.ts';
import type { StateMigration } from '../../src/status/state-migrations.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mamori-format-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A folder in the layout of mamori 0.1 (no format file). */
async function legacyFolder(): Promise<void> {
  await mkdir(path.join(dir, 'status'), { recursive: true });
  await writeFile(path.join(dir, 'status', 'acme-web1.yaml'), 'server: acme-web1\n');
  await mkdir(path.join(dir, 'journal'), { recursive: true });
  await writeFile(path.join(dir, 'journal', 'journal-000001.jsonl'), '{"kind":"probe"}\n');
  await mkdir(path.join(dir, 'git', 'objects'), { recursive: true });
}

/** Format 1 → 2 renames status/<name>.yaml to status/<customer>/<name>.yaml (an example, idempotent). */
const renameStatus: StateMigration = {
  from: 1,
  description: 'status files under their customer',
  async migrate({ stateDir }) {
    const status = path.join(stateDir, 'status');
    for (const f of await readdir(status, { withFileTypes: true })) {
      if (!f.isFile()) continue;
      const customer = f.name.split('-')[0]!;
      await mkdir(path.join(status, customer), { recursive: true });
      await writeFile(path.join(status, customer, f.name), await readFile(path.join(status, f.name)));
      await rm(path.join(status, f.name));
    }
  },
};

describe('state folder format', () => {
  it('marks a new folder with the current format', async () => {
    const lock = await acquireStateLock(dir);
    try {
      const r = await prepareStateFolder(dir);
      expect(r).toEqual({ found: undefined, format: currentStateFormat() });
      expect((await readFormatFile(dir))?.format).toBe(currentStateFormat());
    } finally {
      await lock.release();
    }
  });

  it('takes a folder without a format file but with state in it as format 1, and migrates it with a copy kept', async () => {
    await legacyFolder();
    const r = await prepareStateFolder(dir, { migrations: [renameStatus], now: () => new Date('2026-12-06T10:00:00Z') });
    expect(r.found).toBe(1);
    expect(r.format).toBe(2);
    expect(await readFile(path.join(dir, 'status', 'acme', 'acme-web1.yaml'), 'utf8')).toBe('server: acme-web1\n');
    const backup = r.backup!;
    expect(backup).toBe(path.join(dir, 'backup', 'format-1-2026-12-06T10-00-00-000Z'));
    // The copy holds the old layout, byte for byte; the git cache is not copied.
    expect(await readFile(path.join(backup, 'status', 'acme-web1.yaml'), 'utf8')).toBe('server: acme-web1\n');
    expect(await readFile(path.join(backup, 'journal', 'journal-000001.jsonl'), 'utf8')).toBe('{"kind":"probe"}\n');
    expect(await readdir(backup)).not.toContain('git');
    const doc = await readFormatFile(dir);
    expect(doc?.format).toBe(2);
    expect(doc?.history).toEqual([expect.objectContaining({ from: 1, to: 2, description: 'status files under their customer', backup })]);
    // A second start has nothing to do.
    const again = await prepareStateFolder(dir, { migrations: [renameStatus] });
    expect(again).toEqual({ found: 2, format: 2 });
    expect(await readdir(path.join(dir, 'backup'))).toHaveLength(1);
  });

  it('leaves a failed migration marked at its old format, to run again, with the copy named', async () => {
    await legacyFolder();
    let fail = true;
    const flaky: StateMigration = { ...renameStatus, migrate: async (ctx) => { if (fail) throw new Error('disk full'); await renameStatus.migrate(ctx); } };
    const err = await prepareStateFolder(dir, { migrations: [flaky] }).catch((e: unknown) => e);
    expect(isMamoriError(err, 'MAMORI_STATE_MIGRATION_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/from state format 1 to 2 \(status files under their customer\) failed: disk full/);
    expect((err as Error).message).toContain(path.join(dir, 'backup', 'format-1-'));
    const marked = await readFormatFile(dir);
    expect(marked?.format).toBe(1);
    fail = false;
    const r = await prepareStateFolder(dir, { migrations: [flaky] });
    expect(r.format).toBe(2);
    // The run again reuses the copy made before the first try: one backup, of the old layout.
    expect(r.backup).toBe(marked?.migrating?.backup);
    expect(await readdir(path.join(dir, 'backup'))).toHaveLength(1);
    expect((await readFormatFile(dir))?.migrating).toBeUndefined();
  });

  it('refuses a folder written by a newer mamori, saying which version and where the older copy is', async () => {
    await legacyFolder();
    await mkdir(path.join(dir, 'backup', 'format-1-2026-11-01T00-00-00-000Z'), { recursive: true });
    await writeFile(path.join(dir, FORMAT_FILE), JSON.stringify({ format: currentStateFormat() + 1, writtenBy: '9.0.0', history: [] }));
    const err = await prepareStateFolder(dir).catch((e: unknown) => e);
    expect(isMamoriError(err, 'MAMORI_STATE_FORMAT_NEWER')).toBe(true);
    expect((err as Error).message).toContain(`is in state format ${currentStateFormat() + 1}, written by mamori 9.0.0`);
    expect((err as Error).message).toContain('Run mamori 9.0.0 or later');
    expect((err as Error).message).toContain(path.join(dir, 'backup', 'format-1-2026-11-01T00-00-00-000Z'));
    // Nothing touched.
    expect(JSON.parse(await readFile(path.join(dir, FORMAT_FILE), 'utf8')).format).toBe(currentStateFormat() + 1);
  });

  it('refuses a format file it cannot read, naming the file and field', async () => {
    await writeFile(path.join(dir, FORMAT_FILE), '{"format": "two"}');
    const err = await prepareStateFolder(dir).catch((e: unknown) => e);
    expect(isMamoriError(err, 'MAMORI_STATE_FORMAT_UNREADABLE')).toBe(true);
    expect((err as Error).message).toContain(`${path.join(dir, FORMAT_FILE)}: field "format"`);
  });
});
