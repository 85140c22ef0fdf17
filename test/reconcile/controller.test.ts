import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { seededRandom } from '../../src/reconcile/clock.ts';
import { Controller, type ControllerEvent, type ControllerOptions, type PassReport } from '../../src/reconcile/controller.ts';
import type { LagMonitor } from '../../src/reconcile/lag-monitor.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import { openJournal, readJournal, type Journal } from '../../src/status/journal.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { createStatusStore, type StatusStore } from '../../src/status/store.ts';
import { WRITE_ALL_AT_ONCE } from '../../src/reconcile/status-files.ts';
import { flush, ManualClock, RecordingNotifier, renderStub, ScriptedExecutor, serverDoc, TableProber, tempStateDir } from './harness.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Rig {
  state: string;
  controller: Controller;
  prober: TableProber;
  executor: ScriptedExecutor;
  notifier: RecordingNotifier;
  journal: Journal;
  events: ControllerEvent[];
}

async function rig(over: Partial<ControllerOptions> & { state?: string; prober?: TableProber } = {}): Promise<Rig> {
  const state = over.state ?? (await tempStateDir());
  if (over.state === undefined) cleanup.push(() => rm(state, { recursive: true, force: true }));
  const journal = await openJournal(state);
  cleanup.push(() => journal.close());
  const prober = over.prober ?? new TableProber();
  const executor = new ScriptedExecutor();
  const notifier = new RecordingNotifier();
  const events: ControllerEvent[] = [];
  const controller = new Controller({
    policy: policyFromConfig({ probe: { failuresToDown: 2, retryIntervalSeconds: 1, intervalSeconds: 10 }, remediation: { destructiveWaitSeconds: 0 } }),
    probe: prober.probe,
    executor,
    renderRunbook: renderStub,
    notifier,
    store: createStatusStore(state),
    journal,
    logger: silentLogger(),
    onEvent: (e) => events.push(e),
    random: seededRandom(7),
    operatorEmail: 'noc@provider.example',
    ...over,
  });
  cleanup.push(() => controller.stop({ deadlineMs: 1000 }));
  return { state, controller, prober, executor, notifier, journal, events };
}

const types = async (state: string): Promise<string[]> => (await readJournal(state)).records.map((r) => r.type);

describe('controller', () => {
  test('each server pass is reported once with its own id and duration (the pass-duration histogram)', async () => {
    const passes: PassReport[] = [];
    const r = await rig({ onPass: (p) => passes.push(p) });
    r.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11'), serverDoc('web02', '10.231.10.12')]);
    await r.controller.start(undefined, { schedule: false });
    await r.controller.reconcileOnce();
    await r.controller.reconcileOnce();
    expect(passes.map((p) => p.server).sort()).toEqual(['acme/web01', 'acme/web01', 'acme/web02', 'acme/web02']);
    expect(new Set(passes.map((p) => p.pass)).size).toBe(4);
    for (const p of passes) {
      expect(p.failed).toBe(false);
      expect(p.durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  test('down twice → one runbook → Recovered: journaled started/finished, status file, e-mail', async () => {
    const r = await rig();
    r.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11')]);
    await r.controller.start();
    r.prober.set('web01', 'http', false);
    await r.controller.reconcileOnce();
    const second = await r.controller.reconcileOnce();
    expect(second.runbooks).toEqual([{ server: 'acme/web01', target: 'http', incidentId: expect.stringMatching(/^acme\/web01\.http\./), attempt: 1, verdict: 'Recovered' }]);
    expect(r.executor.runs).toHaveLength(1);
    const t = await types(r.state);
    expect(t.filter((x) => x === 'started')).toHaveLength(1);
    expect(t.filter((x) => x === 'finished')).toHaveLength(1);
    expect(t.indexOf('started')).toBeLessThan(t.indexOf('finished'));
    const status = await createStatusStore(r.state).read('acme/web01');
    expect(status?.services.http?.state).toBe('Recovered');
    expect(status?.observedRevision).toBe('rev1');
    expect(status?.incidents.recent[0]).toMatchObject({ service: 'http', closeReason: 'recovered', attempts: [{ n: 1, verdict: 'Recovered' }] });
    expect(r.notifier.sent.map((n) => n.kind)).toEqual(['recovered']);
    expect(r.events.map((e) => e.type)).toContain('remediation-finished');
  });

  test("the views' statuses: one unchanged since the last read is the same object; a probe, a state change and a new revision each show at the next read", async () => {
    const r = await rig();
    r.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11'), serverDoc('web02', '10.231.10.12')]);
    await r.controller.start();
    await r.controller.reconcileOnce();
    const of = (name: string): ServerStatus | undefined => r.controller.status().servers.find((x) => x.metadata.name === name);
    const first = of('web01');
    expect(first?.services.http?.state).toBe('Healthy');
    // Nothing happened in between: not built again (10,000 of them took 0.7 s a request).
    expect(of('web01')).toBe(first);
    const probedAt = first?.services.http?.lastProbe?.at;
    await new Promise((res) => setTimeout(res, 5));
    r.prober.set('web01', 'http', false);
    await r.controller.reconcileOnce();
    const failing = of('web01');
    expect(failing).not.toBe(first);
    expect(failing?.services.http).toMatchObject({ state: 'Suspect', lastProbe: { up: false } });
    expect(failing?.services.http?.lastProbe?.at).not.toBe(probedAt);
    // The same history, a newer probe: shown too (probes update their observations in place).
    await new Promise((res) => setTimeout(res, 5));
    r.prober.set('web01', 'http', true);
    const before = of('web02')?.services.http?.lastProbe?.at;
    await r.controller.reconcileOnce();
    expect(of('web02')?.services.http?.lastProbe?.at).not.toBe(before);
    expect(of('web01')?.services.http?.state).toBe('Healthy');
    r.controller.setDesired('rev2', [serverDoc('web01', '10.231.10.11'), serverDoc('web02', '10.231.10.12')]);
    expect(r.controller.status().servers.map((x) => x.observedRevision)).toEqual(['rev2', 'rev2']);
  });

  test('a dry run probes and decides but journals, runs and writes nothing', async () => {
    const r = await rig();
    r.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11')]);
    // Not scheduled: a timer pass on the real clock (due 117 ms after start with this seed) is no
    // dry run, and under load it ran between the two and journaled its transitions.
    await r.controller.start(undefined, { schedule: false });
    r.prober.set('web01', 'http', false);
    await r.controller.reconcileOnce({ dryRun: true });
    const s = await r.controller.reconcileOnce({ dryRun: true });
    expect(s.dryRun).toBe(true);
    expect(s.probes).toBe(2);
    expect(r.executor.runs).toHaveLength(0);
    expect(await types(r.state)).toEqual([]);
    expect(r.controller.historyOf('acme/web01')).toBeUndefined();
  });

  test('a crash mid-runbook: the restarted controller journals interrupted and never runs that attempt again', async () => {
    const a = await rig();
    a.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11')]);
    await a.controller.start();
    a.executor.hold();
    a.prober.set('web01', 'http', false);
    await a.controller.reconcileOnce();
    const pass = a.controller.reconcileOnce(); // starts attempt 1, which hangs: the "crash" happens now
    for (let i = 0; i < 200 && !(await types(a.state)).includes('started'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(await types(a.state)).toContain('started');
    void pass;

    // A new process on the same state folder: the journal is all it knows.
    const b = await rig({ state: a.state, prober: a.prober });
    b.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11')]);
    const { interrupted } = await b.controller.start((await readJournal(a.state)).records);
    expect(interrupted).toBe(1);
    expect(b.controller.historyOf('acme/web01')?.services.http?.incident?.attempts).toEqual([{ n: 1, startedAt: expect.any(Number), finishedAt: expect.any(Number), verdict: 'Interrupted' }]);
    const s = await b.controller.reconcileOnce(); // re-probe first: still down → attempt 2, not 1 again
    expect(s.runbooks.map((x) => x.attempt)).toEqual([2]);
    expect(b.executor.runs).toHaveLength(1);
    const recs = (await readJournal(a.state)).records;
    const started = recs.filter((x) => x.type === 'started').map((x) => x.attempt);
    expect(started).toEqual([1, 2]);
    expect(recs.find((x) => x.type === 'interrupted')).toMatchObject({ attempt: 1, reason: 'daemon-restarted' });
    a.executor.release();
  });

  test('stop() aborts an in-flight runbook and journals it interrupted: every started has an end', async () => {
    const r = await rig();
    r.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11')]);
    await r.controller.start();
    r.executor.hold();
    r.prober.set('web01', 'http', false);
    await r.controller.reconcileOnce();
    void r.controller.reconcileOnce();
    for (let i = 0; i < 200 && !(await types(r.state)).includes('started'); i++) await new Promise((res) => setTimeout(res, 5));
    await r.controller.stop({ deadlineMs: 2000 });
    const recs = (await readJournal(r.state)).records;
    expect(recs.filter((x) => x.type === 'started')).toHaveLength(1);
    expect(recs.filter((x) => x.type === 'interrupted')).toHaveLength(1);
    expect(recs.filter((x) => x.type === 'finished')).toHaveLength(0);
  });

  test('attempts spent → Escalated, could-not-recover once; resume gives a new incident', async () => {
    const r = await rig();
    r.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11')]);
    await r.controller.start();
    r.executor.verdicts = ['VerifyFailed', 'VerifyFailed', 'Recovered'];
    r.prober.set('web01', 'http', false);
    for (let i = 0; i < 6; i++) await r.controller.reconcileOnce();
    expect(r.executor.runs).toHaveLength(2);
    expect(r.controller.historyOf('acme/web01')?.services.http?.state).toBe('Escalated');
    expect(r.notifier.sent.map((n) => n.kind)).toEqual(['could-not-recover']);
    const status = await createStatusStore(r.state).read('acme/web01');
    expect(status?.conditions.find((c) => c.type === 'Escalated')).toMatchObject({ status: 'True', reason: 'AttemptsExhausted' });
    expect(await r.controller.resume('acme/web01')).toEqual({ server: 'acme/web01', resumed: ['http'] });
    await r.controller.reconcileOnce();
    expect(r.executor.runs).toHaveLength(3);
    expect(r.controller.historyOf('acme/web01')?.services.http?.state).toBe('Recovered');
  });

  test('mass failure: four of five servers of a /24 down → paused, operator told once, nothing run, status says why', async () => {
    const r = await rig({ policy: policyFromConfig({ probe: { failuresToDown: 2 }, massFailure: { fleetFraction: 1 } }) });
    const docs = [0, 1, 2, 3, 4].map((i) => serverDoc(`s${i}`, `10.231.10.${11 + i}`, ['http']));
    r.controller.setDesired('rev1', docs);
    await r.controller.start();
    for (const i of [0, 1, 2, 3]) r.prober.set(`s${i}`, 'http', false);
    for (let i = 0; i < 4; i++) await r.controller.reconcileOnce();
    expect(r.executor.runs).toHaveLength(0);
    expect(r.notifier.sent.map((n) => n.kind)).toEqual(['mass-failure-paused']);
    const st = await createStatusStore(r.state).read('acme/s0');
    expect(st?.conditions.find((c) => c.type === 'MassFailurePaused')).toMatchObject({ status: 'True', reason: 'NetworkFailure' });
    // The failures clear: the pause clears by itself.
    for (const i of [0, 1, 2, 3]) r.prober.set(`s${i}`, 'http', true);
    await r.controller.reconcileOnce();
    expect((await readJournal(r.state)).records.some((x) => x.type === 'mass-failure-cleared')).toBe(true);
    expect(r.controller.status().massFailure).toEqual([]);
  });

  test('a probe that failed while the event loop lagged past half the timeout is Unknown, not a failure', async () => {
    const lag: LagMonitor = { maxLagBetween: () => 4000, stop: () => undefined };
    const r = await rig({ lagMonitor: lag });
    r.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11')]);
    await r.controller.start();
    r.prober.set('web01', 'http', false);
    for (let i = 0; i < 3; i++) await r.controller.reconcileOnce();
    const h = r.controller.historyOf('acme/web01')?.services.http;
    expect(h?.consecutiveFailures).toBe(0);
    expect(h?.state).not.toBe('Down');
    expect(r.executor.runs).toHaveLength(0);
    expect(r.events.filter((e) => e.type === 'probe' && e.unknown)).toHaveLength(3);
  });

  test('scheduler: interval with jitter, quick retries while failing, never two passes of a server at once', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T00:00:00Z'));
    const prober = new TableProber();
    const r = await rig({ clock, prober, policy: policyFromConfig({ probe: { intervalSeconds: 10, retryIntervalSeconds: 1, failuresToDown: 3, jitter: 0.1 } }) });
    r.controller.setDesired('rev1', ['a', 'b', 'c'].map((n, i) => serverDoc(n, `10.231.10.${11 + i}`, ['http'])));
    await r.controller.start();
    const idle = () => r.controller.whenIdle();
    await clock.advance(10_000, idle); // the first round is spread over one interval
    expect(new Set(prober.calls)).toEqual(new Set(['a/http', 'b/http', 'c/http']));
    prober.calls.length = 0;
    await clock.advance(30_000, idle);
    const perServer = (n: string) => prober.calls.filter((c) => c.startsWith(`${n}/`)).length;
    for (const n of ['a', 'b', 'c']) {
      expect(perServer(n)).toBeGreaterThanOrEqual(2);
      expect(perServer(n)).toBeLessThanOrEqual(4);
    }
    // b starts failing: retried at the 1 s retry interval until Down.
    prober.set('b', 'http', false);
    prober.calls.length = 0;
    await clock.advance(15_000, idle);
    expect(perServer('b')).toBeGreaterThanOrEqual(4);
    expect(perServer('a')).toBeLessThanOrEqual(2);
    expect(prober.maxConcurrentPerServer).toBe(1);
    await flush();
  });

  test('the first round: logged once every server of the start went through a pass, with its duration', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T00:00:00Z'));
    const prober = new TableProber();
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const r = await rig({ clock, prober, logger, policy: policyFromConfig({ probe: { intervalSeconds: 10, retryIntervalSeconds: 1 } }) });
    const idle = () => r.controller.whenIdle();
    r.controller.setDesired('rev1', ['a', 'b', 'c', 'd'].map((n, i) => serverDoc(n, `10.231.10.${11 + i}`, ['http'])));
    await r.controller.start();
    expect(r.controller.firstRoundLeft).toBe(4);
    const rounds = (): Array<Record<string, unknown>> => lines.filter((l) => l.msg === 'first round complete');
    // d leaves before its first pass: the round does not wait for it.
    r.controller.setDesired('rev2', ['a', 'b', 'c'].map((n, i) => serverDoc(n, `10.231.10.${11 + i}`, ['http'])));
    await clock.advance(2_000, idle);
    const left = r.controller.firstRoundLeft;
    if (left !== undefined) expect(rounds()).toEqual([]);
    await clock.advance(10_000, idle); // the first round is spread over one interval
    expect(new Set(prober.calls)).toEqual(new Set(['a/http', 'b/http', 'c/http']));
    expect(r.controller.firstRoundLeft).toBeUndefined();
    expect(rounds()).toHaveLength(1);
    expect(rounds()[0]).toMatchObject({ servers: 3, durationMs: expect.any(Number) });
    expect(rounds()[0]?.durationMs as number).toBeLessThanOrEqual(12_000);
    await clock.advance(30_000, idle);
    expect(rounds()).toHaveLength(1);
  });

  test('status files at start: written a few at once, and the sweep reads only the files of servers not watched', async () => {
    const state = await tempStateDir();
    cleanup.push(() => rm(state, { recursive: true, force: true }));
    const real = createStatusStore(state);
    const docs = Array.from({ length: 40 }, (_, i) => serverDoc(`web${i}`, `10.231.10.${11 + i}`, ['http']));
    // A previous run's files: the 40 servers, and one server since removed from the manifests.
    for (const d of [...docs, serverDoc('gone', '10.231.10.99', ['http'])]) {
      await real.write({ apiVersion: 'mamori/v1', kind: 'ServerStatus', metadata: { name: d.metadata.name, customer: 'acme' }, observedRevision: 'rev0', conditions: [], services: {}, incidents: { open: [], recent: [] } } as unknown as ServerStatus);
    }
    const reads = new Map<string, number>();
    let writing = 0;
    let most = 0;
    const store: StatusStore = {
      dir: real.dir,
      read: (id) => (reads.set(id, (reads.get(id) ?? 0) + 1), real.read(id)),
      write: async (st) => {
        most = Math.max(most, ++writing);
        await new Promise((r) => setTimeout(r, 5));
        await real.write(st);
        writing--;
      },
      list: () => real.list(),
      ids: () => real.ids(),
      archive: (id, at) => real.archive(id, at),
    };
    const r = await rig({ state, store });
    r.controller.setDesired('rev1', docs);
    await r.controller.start(undefined, { schedule: false });
    await r.controller.writeAllStatus();
    // Each watched server's old file is read once (its conditions carried over), not again by the sweep.
    for (const d of docs) expect(reads.get(`acme/${d.metadata.name}`)).toBe(1);
    // The removed one: read by the sweep, and again as its file is rewritten to say it is not watched.
    expect(reads.get('acme/gone')).toBe(2);
    expect(r.controller.status().unmonitored?.map((u) => [u.name, u.reason])).toEqual([['acme/gone', 'NotInDesiredState']]);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(WRITE_ALL_AT_ONCE);
    expect((await real.read('acme/web39'))?.observedRevision).toBe('rev1');
  });

  test('status files at start, without a whole-fleet write: the first pass of each server writes its file (a restart whose history is already Healthy too); the first round ends once every file is written; the sweep writes the removed ones', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T00:00:00Z'));
    const prober = new TableProber();
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const state = await tempStateDir();
    cleanup.push(() => rm(state, { recursive: true, force: true }));
    const real = createStatusStore(state);
    const written: string[] = [];
    const store: StatusStore = { ...real, dir: real.dir, write: async (st) => {
        written.push(`${st.metadata.customer ?? ''}/${st.metadata.name}`);
        await real.write(st);
      }, read: (id) => real.read(id), list: () => real.list(), ids: () => real.ids(), archive: (id, at) => real.archive(id, at) };
    const docs = ['a', 'b', 'c'].map((n, i) => serverDoc(n, `10.231.10.${11 + i}`, ['http']));
    const policy = policyFromConfig({ probe: { intervalSeconds: 10, retryIntervalSeconds: 1 } });
    // A first run: every server probed Healthy, its transition written; then stopped.
    const first = await rig({ state, store, clock, prober, policy });
    first.controller.setDesired('rev1', docs);
    await first.controller.start();
    await clock.advance(10_000, () => first.controller.whenIdle());
    await first.controller.stop({ deadlineMs: 1000 });
    await first.journal.close();
    await real.write({ apiVersion: 'mamori/v1', kind: 'ServerStatus', metadata: { name: 'gone', customer: 'acme' }, observedRevision: 'rev0', conditions: [], services: {}, incidents: { open: [], recent: [] } } as unknown as ServerStatus);
    // The restart: the journal's history says Healthy, so the first passes change nothing.
    written.length = 0;
    const r = await rig({ state, store, clock, prober, policy, logger });
    r.controller.setDesired('rev2', docs);
    await r.controller.start((await readJournal(state)).records);
    await r.controller.writeStartStatus();
    expect(written).toEqual(['acme/gone']);
    expect((await real.read('acme/gone'))?.conditions.map((c) => c.type)).toContain('Monitored');
    expect((await real.read('acme/a'))?.observedRevision).toBe('rev1');
    await clock.advance(10_000, () => r.controller.whenIdle());
    await flush();
    expect(written.filter((w) => w !== 'acme/gone').sort()).toEqual(['acme/a', 'acme/b', 'acme/c']);
    for (const n of ['a', 'b', 'c']) expect((await real.read(`acme/${n}`))?.observedRevision).toBe('rev2');
    expect(lines.filter((l) => l.msg === 'first round complete')).toHaveLength(1);
    // Later passes that change nothing write nothing.
    written.length = 0;
    await clock.advance(20_000, () => r.controller.whenIdle());
    expect(written).toEqual([]);
  });

  test('canaries are probed every interval: one down pauses remediation everywhere, status says why, and it clears', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T00:00:00Z'));
    const prober = new TableProber();
    let canaryUp = false;
    const r = await rig({
      clock,
      prober,
      policy: policyFromConfig({ probe: { intervalSeconds: 10, retryIntervalSeconds: 1, failuresToDown: 2 } }),
      canaries: [{ address: '10.231.10.250' }],
      probeCanary: async (c) => ({ service: 'ping', target: c.address, up: canaryUp, latencyMs: 1, startedAt: new Date().toISOString() }),
    });
    const idle = () => r.controller.whenIdle();
    r.controller.setDesired('rev1', [serverDoc('web01', '10.231.10.11', ['http'])]);
    await r.controller.start();
    prober.set('web01', 'http', false);
    await clock.advance(40_000, idle);
    expect(r.executor.runs).toHaveLength(0);
    expect(r.controller.historyOf('acme/web01')?.services.http?.hold).toBe('MassFailurePaused');
    expect(r.notifier.sent.map((n) => n.kind)).toEqual(['mass-failure-paused']);
    const st = await createStatusStore(r.state).read('acme/web01');
    expect(st?.conditions.find((c) => c.type === 'MassFailurePaused')).toMatchObject({ status: 'True', reason: 'CanaryDown' });
    canaryUp = true;
    await clock.advance(25_000, idle);
    expect((await readJournal(r.state)).records.some((x) => x.type === 'mass-failure-cleared')).toBe(true);
    expect(r.executor.runs.length).toBeGreaterThanOrEqual(1);
  });

  test('a new revision re-probes at once only the servers whose manifest changed', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T00:00:00Z'));
    const prober = new TableProber();
    const r = await rig({ clock, prober, policy: policyFromConfig({ probe: { intervalSeconds: 60, retryIntervalSeconds: 1 } }) });
    const idle = () => r.controller.whenIdle();
    const docs = ['a', 'b'].map((n, i) => serverDoc(n, `10.231.10.${11 + i}`, ['http']));
    r.controller.setDesired('rev1', docs);
    await r.controller.start();
    await clock.advance(61_000, idle);
    prober.calls.length = 0;
    const changed = serverDoc('b', '10.231.10.12', ['http'], { suspend: true });
    r.controller.setDesired('rev2', [serverDoc('a', '10.231.10.11', ['http']), changed]);
    await clock.advance(10, idle);
    expect(prober.calls).toEqual(['b/http']);
    // b gains a service; a is handed in as an equal document (another object), then as the very same
    // objects (the daemon's loader reuses an unchanged file's): only the change is probed at once.
    prober.calls.length = 0;
    const gains = serverDoc('b', '10.231.10.12', ['http', 'ssh'], { suspend: true });
    const a = docs[0] as (typeof docs)[number];
    r.controller.setDesired('rev3', [a, gains]);
    await clock.advance(10, idle);
    expect([...prober.calls].sort()).toEqual(['b/http', 'b/ssh']);
    prober.calls.length = 0;
    r.controller.setDesired('rev4', [a, gains]);
    await clock.advance(10, idle);
    expect(prober.calls).toEqual([]);
    expect(r.controller.status().servers.find((x) => x.metadata.name === 'b')?.services.ssh).toBeDefined();
  });
});
