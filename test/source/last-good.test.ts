import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import type { AppliedServer } from '../../src/source/desired.ts';
import { LastGoodStore } from '../../src/source/last-good.ts';
import { serverDoc } from '../reconcile/harness.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function applied(name: string, address: string, revision = 'rev1'): AppliedServer {
  const doc = serverDoc(name, address);
  return { name: `acme/${name}`, revision, document: { kind: 'Server', doc, file: `customers/acme/servers/${name}.yaml`, owner: { kind: 'customer', customer: 'acme' }, positionOf: () => ({ line: 1, col: 1 }) } };
}

/** A store in a fresh state folder that records its folder flushes, and a fleet of 20 manifests. */
async function twentyServers(): Promise<{ stateDir: string; syncs: string[]; store: LastGoodStore; fleet: ReturnType<typeof applied>[] }> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'mamori-last-good-'));
  dirs.push(stateDir);
  const syncs: string[] = [];
  const store = new LastGoodStore({ stateDir, logger: silentLogger(), syncFolder: async (dir) => void syncs.push(dir) });
  const fleet = Array.from({ length: 20 }, (_, i) => applied(`web${i}`, `10.231.10.${i + 1}`));
  return { stateDir, syncs, store, fleet };
}

describe('last-good manifests', () => {
  test('a batch is written whole and flushed to disk once, not once a file; unchanged manifests are not written again', async () => {
    const { stateDir, syncs, store, fleet } = await twentyServers();
    await store.save(fleet);
    expect(syncs).toEqual([path.join(stateDir, 'last-good')]);
    expect((await readdir(path.join(stateDir, 'last-good', 'acme'))).length).toBe(20);
    await store.save(fleet);
    expect(syncs).toHaveLength(1);
    await store.save([...fleet.slice(1), applied('web0', '10.231.10.99', 'rev2')]);
    expect(syncs).toHaveLength(2);
    // A new process reads back what was saved.
    const loaded = await new LastGoodStore({ stateDir, logger: silentLogger() }).load();
    expect(loaded.size).toBe(20);
    expect(loaded.get('acme/web0')?.document.doc.spec.address).toBe('10.231.10.99');
    expect(loaded.get('acme/web0')?.revision).toBe('rev2');
  });

  test('a new revision that leaves a manifest as it was writes nothing for it: a commit to one server writes one file, and the record keeps the revision it was saved at', async () => {
    const { stateDir, syncs, store, fleet } = await twentyServers();
    await store.save(fleet);
    // The next revision: the same documents (new objects, as a loader without a cache hands them), one changed.
    const next = fleet.map((s, i) => (i === 3 ? applied('web3', '10.231.10.99', 'rev2') : applied(`web${i}`, `10.231.10.${i + 1}`, 'rev2')));
    await store.save(next);
    expect(syncs).toHaveLength(2);
    const loaded = await new LastGoodStore({ stateDir, logger: silentLogger() }).load();
    expect(loaded.get('acme/web3')?.revision).toBe('rev2');
    expect(loaded.get('acme/web3')?.document.doc.spec.address).toBe('10.231.10.99');
    // Unchanged: still the record of rev1 (the file was not rewritten).
    expect(loaded.get('acme/web4')?.revision).toBe('rev1');
    expect(loaded.get('acme/web4')?.document.doc).toEqual(fleet[4]?.document.doc);
    // Nothing changed at all: nothing written, no flush.
    await store.save(next.map((s) => ({ ...s, revision: 'rev3' })));
    expect(syncs).toHaveLength(2);
  });

  test('a restart reads every record back (several at once), in order, and skips an unreadable one with a warning naming it', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'mamori-last-good-'));
    dirs.push(stateDir);
    const fleet = Array.from({ length: 40 }, (_, i) => applied(`web${String(i).padStart(2, '0')}`, `10.231.10.${i + 1}`));
    await new LastGoodStore({ stateDir, logger: silentLogger(), syncFolder: async () => undefined }).save(fleet);
    await writeFile(path.join(stateDir, 'last-good', 'acme', 'web07.json'), '{ not json');
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const loaded = await new LastGoodStore({ stateDir, logger }).load();
    expect([...loaded.keys()]).toEqual(fleet.map((s) => s.name).filter((n) => n !== 'acme/web07'));
    expect(loaded.get('acme/web39')?.document.doc.spec.address).toBe('10.231.10.40');
    expect(lines.filter((l) => l.msg === 'last-good manifest unreadable; ignored').map((l) => l.file)).toEqual([path.join('last-good', 'acme', 'web07.json')]);
  });

  test('the real flush (sync -f) runs', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'mamori-last-good-'));
    dirs.push(stateDir);
    const errors: unknown[] = [];
    const store = new LastGoodStore({ stateDir, logger: silentLogger(), onWriteError: (e) => void errors.push(e) });
    await store.save([applied('web1', '10.231.10.1')]);
    expect(errors).toEqual([]);
  });
});
