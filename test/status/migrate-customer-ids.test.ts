/**
 * Upgrading a state folder written with bare server names (format 1, test/fixtures/state-layout-1,
 * written by the code of the last commit with that layout) to customer/name ids, through
 * prepareStateFolder as mamori run does: the interrupted attempt in it is found after the upgrade
 * and never run again; the old content is backed up; a second run changes nothing; what was
 * migrated is logged.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { createLogger, silentLogger } from '../../src/log.ts';
import { seededRandom } from '../../src/reconcile/clock.ts';
import { Controller } from '../../src/reconcile/controller.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import { openJournal, readJournal } from '../../src/status/journal.ts';
import { migrateToCustomerIds } from '../../src/status/migrate-customer-ids.ts';
import { prepareStateFolder, readFormatFile } from '../../src/status/state-format.ts';
import { createStatusStore } from '../../src/status/store.ts';
import { RecordingNotifier, renderStub, ScriptedExecutor, serverDoc, TableProber } from '../reconcile/harness.ts';

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'state-layout-1');
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function oldFolder(): Promise<string> {
  const state = await mkdtemp(path.join(tmpdir(), 'mamori-layout-'));
  cleanup.push(() => rm(state, { recursive: true, force: true }));
  await cp(path.join(FIXTURE, 'journal'), path.join(state, 'journal'), { recursive: true });
  await cp(path.join(FIXTURE, 'status'), path.join(state, 'status'), { recursive: true });
  return state;
}

function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

/**
 * A controller of this code on the folder, as `mamori run` starts one: the journal is all it knows.
 * Not scheduled (as `mamori reconcile --once`): the test's reconcileOnce calls are the only passes,
 * so that no timer pass on the real clock opens a second incident behind the test's back.
 */
async function restart(state: string, prober: TableProber): Promise<{ controller: Controller; executor: ScriptedExecutor; interrupted: number }> {
  const journal = await openJournal(state);
  cleanup.push(() => journal.close());
  const executor = new ScriptedExecutor();
  const controller = new Controller({
    policy: policyFromConfig({ probe: { failuresToDown: 2, retryIntervalSeconds: 1, intervalSeconds: 10 }, remediation: { destructiveWaitSeconds: 0 } }),
    probe: prober.probe,
    executor,
    renderRunbook: renderStub,
    notifier: new RecordingNotifier(),
    store: createStatusStore(state),
    journal,
    logger: silentLogger(),
    random: seededRandom(7),
    operatorEmail: 'noc@provider.example',
  });
  cleanup.push(() => controller.stop({ deadlineMs: 1000 }));
  controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11'), serverDoc('db01', '10.231.10.12')]);
  const { interrupted } = await controller.start((await readJournal(state)).records, { schedule: false });
  return { controller, executor, interrupted };
}

describe('state folder layout 1 → 2 (customer/name)', () => {
  test('the fixture is what layout 1 wrote: bare names, and attempt 1 started but never finished', async () => {
    const recs = (await readJournal(FIXTURE)).records;
    expect(recs.filter((r) => r.type === 'started')).toMatchObject([{ server: 'web01', target: 'http', attempt: 1 }]);
    expect(recs.some((r) => r.type === 'finished' || r.type === 'interrupted')).toBe(false);
    expect((await readdir(path.join(FIXTURE, 'status'))).sort()).toEqual(['db01.yaml', 'web01.yaml']);
  });

  test('without the upgrade the new code would not know the attempt, and would run attempt 1 again (what the upgrade is for)', async () => {
    const state = await oldFolder();
    const prober = new TableProber();
    prober.set('web01', 'http', false);
    const { controller } = await restart(state, prober);
    expect(controller.historyOf('acme/web01')?.services.http?.incident).toBeUndefined();
    for (let i = 0; i < 5 && !(await readJournal(state)).records.some((r) => r.type === 'started' && r.server === 'acme/web01'); i++) await controller.reconcileOnce();
    expect((await readJournal(state)).records.filter((r) => r.type === 'started').map((r) => [r.server, r.attempt])).toEqual([
      ['web01', 1],
      ['acme/web01', 1],
    ]);
  });

  test('after the upgrade the interrupted attempt is found, journaled interrupted, and never run again', async () => {
    const state = await oldFolder();
    const before = await readFile(path.join(state, 'journal', 'journal-000001.jsonl'), 'utf8');
    const { logger, lines } = capturingLogger();
    const r = await prepareStateFolder(state, { logger });
    expect(r).toMatchObject({ found: 1, format: 2 });
    expect((await readFormatFile(state))?.history).toMatchObject([{ from: 1, to: 2, description: expect.stringContaining('customer/name') }]);

    // The old content, kept byte for byte.
    expect(r.backup).toBeDefined();
    expect(await readFile(path.join(r.backup as string, 'journal', 'journal-000001.jsonl'), 'utf8')).toBe(before);
    expect((await readdir(path.join(r.backup as string, 'status'))).sort()).toEqual(['db01.yaml', 'web01.yaml']);
    // What was migrated is said once, with the mapping.
    const said = lines.filter((l) => l.msg === 'state folder: servers renamed to customer/name');
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ servers: 2, journalRecords: before.trim().split('\n').length, statusFiles: 2, lastGood: 0, unmappedCount: 0 });
    expect(said[0]?.mapped).toEqual(expect.arrayContaining(['web01 -> acme/web01', 'db01 -> acme/db01']));

    // Status files in their customer's folder.
    expect(existsSync(path.join(state, 'status', 'web01.yaml'))).toBe(false);
    expect((await createStatusStore(state).read('acme/web01'))?.metadata).toEqual({ name: 'web01', customer: 'acme' });
    expect((await readJournal(state)).records.filter((x) => x.type === 'started')).toMatchObject([{ server: 'acme/web01', target: 'http', attempt: 1 }]);

    // A second start changes nothing; the step itself, run again over its own work, neither.
    const after = await readFile(path.join(state, 'journal', 'journal-000001.jsonl'), 'utf8');
    expect(await prepareStateFolder(state, { logger })).toEqual({ found: 2, format: 2 });
    expect(await migrateToCustomerIds(state, silentLogger())).toMatchObject({ journalRecords: 0, statusFiles: 0, lastGood: 0, unmapped: [] });
    expect(await readFile(path.join(state, 'journal', 'journal-000001.jsonl'), 'utf8')).toBe(after);

    // The new code on the upgraded folder: attempt 1 is interrupted, the next one is 2.
    const prober = new TableProber();
    prober.set('web01', 'http', false);
    const b = await restart(state, prober);
    expect(b.interrupted).toBe(1);
    expect(b.controller.historyOf('acme/web01')?.services.http?.incident?.attempts).toEqual([{ n: 1, startedAt: expect.any(Number), finishedAt: expect.any(Number), verdict: 'Interrupted' }]);
    const s = await b.controller.reconcileOnce();
    expect(s.runbooks.map((x) => [x.server, x.attempt])).toEqual([['acme/web01', 2]]);
    expect(b.executor.runs).toHaveLength(1);
    const recs = (await readJournal(state)).records;
    expect(recs.filter((x) => x.type === 'started').map((x) => [x.server, x.attempt])).toEqual([
      ['acme/web01', 1],
      ['acme/web01', 2],
    ]);
    expect(recs.find((x) => x.type === 'interrupted')).toMatchObject({ server: 'acme/web01', attempt: 1, reason: 'daemon-restarted' });
  });

  test('an interrupted upgrade is finished by the next run from where it stopped', async () => {
    const state = await oldFolder();
    // As if the first run had moved one status file, then died.
    await mkdir(path.join(state, 'status', 'acme'));
    await cp(path.join(state, 'status', 'db01.yaml'), path.join(state, 'status', 'acme', 'db01.yaml'));
    await rm(path.join(state, 'status', 'db01.yaml'));
    const m = await migrateToCustomerIds(state, silentLogger());
    expect(m).toMatchObject({ statusFiles: 1, unmapped: [] });
    expect((await createStatusStore(state).list()).map((s) => `${s.metadata.customer}/${s.metadata.name}`)).toEqual(['acme/db01', 'acme/web01']);
    expect((await readJournal(state)).records.every((r) => typeof r.server !== 'string' || r.server.startsWith('acme/'))).toBe(true);
  });

  test('last-good manifests and the old archive move; a name nothing maps is left and reported', async () => {
    const state = await oldFolder();
    await mkdir(path.join(state, 'last-good'));
    const doc = serverDoc('web01', '10.231.10.11');
    await writeFile(path.join(state, 'last-good', 'web01.json'), `${JSON.stringify({ v: 1, name: 'web01', revision: 'r1', file: 'customers/acme/servers/web01.yaml', owner: { kind: 'customer', customer: 'acme' }, doc })}\n`);
    await mkdir(path.join(state, 'status', 'archive'));
    await writeFile(path.join(state, 'status', 'archive', 'old01.20260101T000000.000Z.yaml'), 'kind: ServerStatus\n');
    await writeFile(path.join(state, 'status', 'ghost01.yaml'), 'apiVersion: mamori/v1\nkind: ServerStatus\nmetadata:\n  name: ghost01\n');
    const m = await migrateToCustomerIds(state, silentLogger());
    expect(m).toMatchObject({ lastGood: 1, statusFiles: 2, unmapped: ['ghost01'] });
    expect(JSON.parse(await readFile(path.join(state, 'last-good', 'acme', 'web01.json'), 'utf8'))).toMatchObject({ name: 'acme/web01', doc: { metadata: { name: 'web01', customer: 'acme' } } });
    expect(existsSync(path.join(state, 'last-good', 'web01.json'))).toBe(false);
    expect(await readdir(path.join(state, 'status', '_archive', 'layout-1'))).toEqual(['old01.20260101T000000.000Z.yaml']);
    expect(existsSync(path.join(state, 'status', 'ghost01.yaml'))).toBe(true);
  });
});
