/**
 * The reconciler against the lab (lab id 10): real probes, the real executor over SSH to a real
 * sshd, real journal and status files. A killed httpd gets exactly one attempt and is Recovered; a
 * mamori SIGKILLed mid-runbook never starts that attempt again after a restart; a second mamori on
 * the same state folder refuses to start.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import { Controller } from '../../src/reconcile/controller.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import { probeTargetOf } from '../../src/reconcile/probe-target.ts';
import { createExecutor } from '../../src/runbook/executor.ts';
import { openJournal, readJournal, type JournalRecord } from '../../src/status/journal.ts';
import { createStatusStore } from '../../src/status/store.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { labProfiles, labSecrets, labServer, resolverOf, standardRunbook } from '../runbook/executor-lab.ts';
import { RecordingNotifier } from './harness.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const LAB_ID = 10;
const CHILD = path.join(import.meta.dirname, 'lab-controller-child.ts');
let lab: Lab;
const temps: string[] = [];

beforeAll(async () => {
  lab = await startLab({ id: LAB_ID, hosts: [{ name: 'rc-a' }, { name: 'rc-b' }] });
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

async function tempState(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mamori-reconcile-lab-'));
  temps.push(d);
  return d;
}

/** Every `started` has exactly one `finished` or `interrupted`; no attempt is started twice. */
function checkEnds(records: readonly JournalRecord[]): void {
  const key = (r: JournalRecord): string => `${String(r.incidentId)}#${String(r.attempt)}`;
  const starts = records.filter((r) => r.type === 'started').map(key);
  expect(new Set(starts).size).toBe(starts.length);
  for (const k of starts) expect(records.filter((r) => (r.type === 'finished' || r.type === 'interrupted') && key(r) === k), k).toHaveLength(1);
}

async function probeUp(address: string, service: 'http'): Promise<boolean> {
  return (await createProberRegistry({ targets: LAB_TARGETS }).probe({ service, address, timeoutMs: 3000 })).up;
}

interface ChildRun {
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  kill(sig: NodeJS.Signals): void;
}

function startChild(specFile: string, slow: boolean): ChildRun {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, specFile], { env: { ...process.env, SLOW: slow ? '1' : '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { pid: child.pid as number, exited, kill: (sig) => child.kill(sig) };
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

describe('reconcile against the lab', () => {
  test('a killed httpd: exactly one attempt, Recovered, then Healthy (journal, status file)', async () => {
    const state = await tempState();
    const host = lab.host('rc-a');
    const doc = labServer(lab, host, { services: ['ping', 'http', 'ssh'] });
    const runbook = await standardRunbook('std-httpd-el-sysv', doc, 'http');
    const journal = await openJournal(state);
    const policy = policyFromConfig({ probe: { timeoutSeconds: 5, failuresToDown: 2, retryIntervalSeconds: 0.2 } });
    const registry = createProberRegistry({ targets: LAB_TARGETS });
    const notifier = new RecordingNotifier();
    const controller = new Controller({
      policy,
      probe: (d, service, signal) => registry.probe(probeTargetOf(d, service, policy.timeoutMs), signal),
      executor: createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(await labSecrets(lab)), consoleProfiles: labProfiles(lab), logger: silentLogger() }),
      renderRunbook: (_d, target) => (target === 'http' ? runbook : new Error(`no runbook for ${target} in this test`)),
      notifier,
      store: createStatusStore(state),
      journal,
      logger: silentLogger(),
    });
    try {
      controller.setDesired('lab', [doc]);
      await controller.start([], { schedule: false });
      const first = await controller.reconcileOnce();
      expect(first.failing).toEqual([]);

      await lab.breakService('rc-a', 'httpd');
      expect(await probeUp(host.address, 'http')).toBe(false);
      for (let i = 0; i < 10 && controller.historyOf('acme/rc-a')?.services.http?.state !== 'Recovered'; i++) await controller.reconcileOnce();
      expect(controller.historyOf('acme/rc-a')?.services.http?.state).toBe('Recovered');
      await controller.reconcileOnce();
      expect(controller.historyOf('acme/rc-a')?.services.http?.state).toBe('Healthy');
      expect(await probeUp(host.address, 'http')).toBe(true);

      const records = (await readJournal(state)).records;
      const started = records.filter((r) => r.type === 'started');
      expect(started).toHaveLength(1);
      expect(started[0]).toMatchObject({ server: 'acme/rc-a', target: 'http', attempt: 1 });
      expect(records.find((r) => r.type === 'finished')).toMatchObject({ attempt: 1, verdict: 'Recovered', acted: true });
      checkEnds(records);
      const status = await createStatusStore(state).read('acme/rc-a');
      expect(status?.services.http?.state).toBe('Healthy');
      expect(status?.incidents.open).toEqual([]);
      expect(status?.incidents.recent[0]).toMatchObject({ service: 'http', closeReason: 'recovered', attempts: [{ n: 1, verdict: 'Recovered' }] });
      expect(notifier.sent.map((n) => n.kind)).toEqual(['recovered']);
    } finally {
      await controller.stop({ deadlineMs: 5000 });
      await journal.close();
    }
  }, 180_000);

  test('SIGKILL mid-runbook: a second mamori is refused meanwhile; after a restart the started attempt is never run again', async () => {
    const state = await tempState();
    const host = lab.host('rc-b');
    const doc = labServer(lab, host, { services: ['ping', 'http', 'ssh'] });
    const spec = {
      stateDir: state,
      server: doc,
      secrets: Object.fromEntries(await labSecrets(lab)),
      profiles: labProfiles(lab),
      runbook: await standardRunbook('std-httpd-el-sysv', doc, 'http'),
      passes: 40,
    };
    const specFile = path.join(state, '..', `${path.basename(state)}-spec.json`);
    temps.push(specFile);
    await writeFile(specFile, JSON.stringify(spec), { mode: 0o600 });

    await lab.breakService('rc-b', 'httpd');
    const first = startChild(specFile, true);
    // Wait (bounded) until the runbook has started: `started` is journaled before it runs.
    let records: JournalRecord[] = [];
    for (let i = 0; i < 300 && !records.some((r) => r.type === 'started'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      records = (await readJournal(state)).records;
    }
    expect(records.filter((r) => r.type === 'started'), (await Promise.race([first.exited, Promise.resolve(undefined)]))?.stderr).toHaveLength(1);

    // A second mamori on the same state folder refuses to start.
    const second = await within(startChild(specFile, false).exited, 60_000, 'second mamori');
    expect(second.code).toBe(3);
    expect(second.stderr).toContain('MAMORI_STATE_LOCKED');

    // The runbook is still in its first step (sleep 600): kill mamori hard.
    first.kill('SIGKILL');
    const killed = await within(first.exited, 30_000, 'SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    records = (await readJournal(state)).records;
    expect(records.filter((r) => r.type === 'finished' || r.type === 'interrupted')).toHaveLength(0);
    const attempt1 = records.find((r) => r.type === 'started');

    // Restart: the journal is replayed, attempt 1 is journaled interrupted (never run again), the
    // service is re-probed (still down: the restart step never ran) and attempt 2 repairs it.
    const third = await within(startChild(specFile, false).exited, 120_000, 'restarted mamori');
    expect(third.code, third.stderr).toBe(0);
    records = (await readJournal(state)).records;
    const starts = records.filter((r) => r.type === 'started');
    expect(starts.map((r) => r.attempt)).toEqual([1, 2]);
    expect(starts.filter((r) => r.incidentId === attempt1?.incidentId && r.attempt === 1)).toHaveLength(1);
    expect(records.find((r) => r.type === 'interrupted')).toMatchObject({ attempt: 1, incidentId: attempt1?.incidentId, reason: 'daemon-restarted' });
    expect(records.find((r) => r.type === 'finished')).toMatchObject({ attempt: 2, verdict: 'Recovered' });
    const interruptedAt = records.findIndex((r) => r.type === 'interrupted');
    expect(records.findIndex((r, i) => r.type === 'started' && r.attempt === 2 && i > interruptedAt)).toBeGreaterThan(interruptedAt);
    checkEnds(records);
    expect(await probeUp(host.address, 'http')).toBe(true);
  }, 300_000);
});
