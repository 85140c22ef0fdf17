/**
 * A replica that loses its lease while a power step waits on the BMC sends nothing (CI, seed
 * 574646: a replica paused during the step's status query resumed and sent "on" after the new
 * owner had judged the step and sent it itself). The executor asks `mayAct` before each step and
 * again right before the power command (and before a console command). The channel is an operator
 * `command` profile whose scripts record each action or command they are given; the host is off.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecutor } from '../../src/runbook/executor.ts';
import type { RenderedRunbook } from '../../src/runbook/types.ts';
import { serverDoc } from '../reconcile/harness.ts';
import { LAB_TARGETS } from '../support/targets.ts';

let dir: string;
let actions: string;
let power: string;
let consoleScript: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-power-fence-'));
  actions = join(dir, 'actions');
  power = join(dir, 'power.sh');
  // The host is off until the script is told "on".
  writeFileSync(power, `#!/bin/sh\necho "$1" >> ${actions}\ncase "$1" in status) cat ${join(dir, 'state')} 2>/dev/null || echo off ;; on) echo on > ${join(dir, 'state')} ;; esac\nexit 0\n`);
  chmodSync(power, 0o755);
  consoleScript = join(dir, 'console.sh');
  writeFileSync(consoleScript, `#!/bin/sh\necho "$1" >> ${actions}\nexit 0\n`);
  chmodSync(consoleScript, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const server = serverDoc('web01', '10.231.31.10', ['http', 'ping'], { console: { profile: 'fake', credentials: { secretRef: 'bmc' } } });
const runbook: RenderedRunbook = {
  runbook: 'power-on',
  origin: 'custom',
  server: 'web01',
  service: 'http',
  address: '10.231.31.10',
  deadlineMs: 60_000,
  steps: [{ kind: 'power', id: 'power-on', action: 'on', deadlineMs: 30_000 }],
};

/** Runs the runbook with a lease that holds for the first `holds` questions, then is lost. */
async function run(holds: number, rb: RenderedRunbook = runbook): Promise<{ verdict: string; sent: string[]; note: string | undefined; asked: number }> {
  writeFileSync(actions, '');
  rmSync(join(dir, 'state'), { force: true });
  let asked = 0;
  const executor = createExecutor({
    targets: LAB_TARGETS,
    resolveSecret: async () => 'not-used',
    consoleProfiles: { fake: { driver: 'command', console: [consoleScript, '{{command}}'], power: [power, '{{action}}'] } },
  });
  const t = await executor.execute({
    server,
    runbook: rb,
    probe: async () => ({ up: false, message: 'no reply' }),
    mayAct: () => (++asked > holds ? "this replica's etcd lease is not confirmed for 10 s; it acts no more" : undefined),
  });
  return { verdict: t.verdict, sent: readFileSync(actions, 'utf8').split('\n').filter((l) => l !== ''), note: t.steps.find((s) => s.id === rb.steps[0]?.id)?.note, asked };
}

describe('a power step under a lease', () => {
  it('the lease lost while the BMC was asked: the command is not sent, the runbook ends Interrupted', async () => {
    const r = await run(1);
    expect(r.sent).toEqual(['status']);
    expect(r.verdict).toBe('Interrupted');
    expect(r.note).toMatch(/power on not sent: this replica's etcd lease is not confirmed/);
  });

  it('the lease held throughout: status, then on', async () => {
    const r = await run(Infinity);
    expect(r.sent).toEqual(['status', 'on', 'status']);
    expect(r.verdict).not.toBe('Interrupted');
    expect(r.asked).toBeGreaterThanOrEqual(2);
  });

  it('the lease lost before the step: not even the BMC is asked', async () => {
    const r = await run(0);
    expect(r.sent).toEqual([]);
    expect(r.verdict).toBe('Interrupted');
  });
});

describe('a console command under a lease', () => {
  const onConsole: RenderedRunbook = {
    ...runbook,
    runbook: 'console-restart',
    steps: [{ kind: 'console', id: 'restart-on-console', action: 'run', command: 'systemctl restart nginx', deadlineMs: 30_000 }],
  };

  it('the lease lost after the step began: the command is not sent, the runbook ends Interrupted', async () => {
    const r = await run(1, onConsole);
    expect(r.sent).toEqual([]);
    expect(r.verdict).toBe('Interrupted');
    expect(r.note).toMatch(/not sent to the console: this replica's etcd lease is not confirmed/);
    expect(r.asked).toBe(2);
  });

  it('the lease held: the command reaches the console once', async () => {
    const r = await run(Infinity, onConsole);
    expect(r.sent).toEqual(['systemctl restart nginx']);
    expect(r.verdict).not.toBe('Interrupted');
  });
});
