import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { mergeConditions } from '../../src/status/conditions.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { createStatusStore } from '../../src/status/store.ts';

const dirs: string[] = [];
async function tempState(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mamori-status-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function status(name: string, n: number): ServerStatus {
  // Large enough that a torn write would show: many services and incidents.
  const services: ServerStatus['services'] = {};
  for (let i = 0; i < 50; i++) services[`svc${i}`] = { state: n % 2 ? 'Healthy' : 'Down', since: new Date(n).toISOString(), consecutiveFailures: n };
  return {
    apiVersion: 'mamori/v1',
    kind: 'ServerStatus',
    metadata: { name },
    observedRevision: `rev-${n}`,
    updatedAt: new Date(n).toISOString(),
    conditions: [{ type: 'Ready', status: 'True', reason: 'AllServicesUp', message: 'x'.repeat(2000), lastTransitionTime: new Date(0).toISOString() }],
    services,
    incidents: { open: [], recent: [] },
  };
}

describe('status store', () => {
  test('writes YAML a reader parses back, and archives a removed server', async () => {
    const state = await tempState();
    const store = createStatusStore(state);
    await store.write(status('web01', 1));
    const text = await readFile(path.join(state, 'status', 'web01.yaml'), 'utf8');
    expect(parse(text)).toMatchObject({ kind: 'ServerStatus', observedRevision: 'rev-1' });
    expect((await store.list()).map((s) => s.metadata.name)).toEqual(['web01']);
    await store.archive('web01', '2026-11-25T00:00:00.000Z');
    expect(await store.read('web01')).toBeUndefined();
    expect(await readdir(path.join(state, 'status', '_archive'))).toEqual(['web01.20261125T000000.000Z.yaml']);
  });

  test('a server is customer/name: two customers\' web01 are two files, listed and archived apart', async () => {
    const state = await tempState();
    const store = createStatusStore(state);
    const of = (customer: string, n: number): ServerStatus => ({ ...status('web01', n), metadata: { name: 'web01', customer } });
    await store.write(of('acme', 1));
    await store.write(of('globex', 2));
    expect(parse(await readFile(path.join(state, 'status', 'acme', 'web01.yaml'), 'utf8'))).toMatchObject({ metadata: { name: 'web01', customer: 'acme' }, observedRevision: 'rev-1' });
    expect(parse(await readFile(path.join(state, 'status', 'globex', 'web01.yaml'), 'utf8'))).toMatchObject({ metadata: { name: 'web01', customer: 'globex' }, observedRevision: 'rev-2' });
    expect((await store.read('acme/web01'))?.observedRevision).toBe('rev-1');
    expect((await store.read('globex/web01'))?.observedRevision).toBe('rev-2');
    expect((await store.list()).map((s) => `${s.metadata.customer}/${s.metadata.name}`)).toEqual(['acme/web01', 'globex/web01']);
    await store.archive('acme/web01', '2026-11-25T00:00:00.000Z');
    expect(await store.read('acme/web01')).toBeUndefined();
    expect((await store.read('globex/web01'))?.observedRevision).toBe('rev-2');
    expect(await readdir(path.join(state, 'status', '_archive', 'acme'))).toEqual(['web01.20261125T000000.000Z.yaml']);
    expect((await store.list()).map((s) => s.metadata.customer)).toEqual(['globex']);
  });

  test('refuses a server name that would leave the folder', async () => {
    const store = createStatusStore(await tempState());
    await expect(store.write(status('../evil', 1))).rejects.toThrow(/not a server name/);
    await expect(store.write({ ...status('web01', 1), metadata: { name: 'web01', customer: '..' } })).rejects.toThrow(/not a server name/);
    await expect(store.read('a/b/c')).rejects.toThrow(/not a server name/);
  });

  test('a reader never sees a half-written status file', async () => {
    const state = await tempState();
    const store = createStatusStore(state);
    await store.write(status('web01', 0));
    const file = path.join(state, 'status', 'web01.yaml');
    let writing = true;
    let reads = 0;
    const writer = (async () => {
      for (let i = 1; i <= 100; i++) await store.write(status('web01', i));
      writing = false;
    })();
    // Bounded: the writer ends after 100 rewrites; the reader stops with it (and after 100k reads at most).
    while (writing && reads < 100_000) {
      const text = await readFile(file, 'utf8');
      const doc = parse(text) as ServerStatus;
      expect(doc.kind).toBe('ServerStatus');
      expect(Object.keys(doc.services)).toHaveLength(50);
      expect(doc.conditions[0]?.message).toHaveLength(2000);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
    expect((await store.read('web01'))?.observedRevision).toBe('rev-100');
  });
});

describe('conditions', () => {
  test('lastTransitionTime moves only when the status changes', () => {
    const a = mergeConditions(undefined, [{ type: 'Ready', status: 'True', reason: 'AllServicesUp', message: '' }], '2026-01-01T00:00:00.000Z');
    const b = mergeConditions(a, [{ type: 'Ready', status: 'True', reason: 'AllServicesUp', message: 'still' }], '2026-01-02T00:00:00.000Z');
    const c = mergeConditions(b, [{ type: 'Ready', status: 'False', reason: 'ServicesFailing', message: 'http' }], '2026-01-03T00:00:00.000Z');
    expect(b[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00.000Z');
    expect(b[0]?.message).toBe('still');
    expect(c[0]).toMatchObject({ status: 'False', lastTransitionTime: '2026-01-03T00:00:00.000Z' });
  });
});
