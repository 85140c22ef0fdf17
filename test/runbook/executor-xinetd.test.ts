/**
 * TELNET on a CentOS 5 lab host (lab id 20): the standard runbook selected for it (xinetd,
 * as on a real CentOS 4-6), rendered and run by the real executor over real SSH, restores a
 * killed xinetd — and its look-first checks pass against the live xinetd, so a blocked path
 * is reported, not "repaired" by a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import type { ServerDocument, ServiceName } from '../../src/manifest/types.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import { createExecutor } from '../../src/runbook/executor.ts';
import type { Transcript } from '../../src/runbook/execution.ts';
import { renderRunbook } from '../../src/runbook/render.ts';
import { selectRunbook } from '../../src/runbook/select.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { labProfiles, labSecrets, labServer, outsideProbe, resolverOf } from './executor-lab.ts';
import { standardRunbooks } from './operator-docs.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const HOST = 'tel';
let lab: Lab;
let secrets: Map<string, string>;
let server: ServerDocument;

beforeAll(async () => {
  lab = await startLab({ id: 20, hosts: [{ name: HOST }] });
  secrets = await labSecrets(lab);
  // The lab host says CentOS release 5.11: the server document says the same.
  server = labServer(lab, lab.host(HOST), { version: '5.11', services: ['ping', 'ssh', 'telnet'] });
});

afterAll(async () => {
  await lab?.stop();
});

/** The standard runbook the daemon would pick for telnet on this server, rendered for it. */
function telnetRunbook() {
  const picked = selectRunbook(server, 'telnet', standardRunbooks());
  if ('error' in picked) throw new Error(picked.error);
  expect({ name: picked.runbook.metadata.name, origin: picked.origin }).toEqual({ name: 'std-xinetd-el-sysv', origin: 'standard' });
  return renderRunbook(server, 'telnet', picked.runbook);
}

async function execute(): Promise<{ t: Transcript; calls: Array<{ service: ServiceName; up: boolean; at: number }> }> {
  const calls: Array<{ service: ServiceName; up: boolean; at: number }> = [];
  const executor = createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets), consoleProfiles: labProfiles(lab), logger: silentLogger() });
  const t = await executor.execute({ server, runbook: telnetRunbook(), probe: outsideProbe(server, calls) });
  return { t, calls };
}

async function pids(): Promise<{ xinetd: string; inetd: string }> {
  const r = await lab.console(HOST, 'echo "$(cat /var/run/xinetd.pid) $(cat /var/run/inetd.pid)"');
  const [xinetd = '', inetd = ''] = r.stdout.trim().split(' ');
  return { xinetd, inetd };
}

async function telnetUp(): Promise<boolean> {
  const r = await createProberRegistry({ targets: LAB_TARGETS }).probe({ service: 'telnet', address: lab.host(HOST).address, timeoutMs: 3_000 });
  return r.up;
}

const step = (t: Transcript, id: string) => t.steps.find((s) => s.id === id);

describe('telnet on CentOS 5: the standard xinetd runbook against the lab', () => {
  test('a killed xinetd (telnet down) is restarted by /etc/init.d/xinetd restart: Recovered, inetd untouched', async () => {
    const before = await pids();
    expect(before.xinetd).toMatch(/^\d+$/);
    await lab.breakService(HOST, 'xinetd');
    expect(await telnetUp()).toBe(false);

    const { t, calls } = await execute();
    expect(t.verdict, t.message).toBe('Recovered');
    expect(t.acted).toBe(true);
    expect(t.runbook).toBe('std-xinetd-el-sysv');
    expect(step(t, 'process-running')).toMatchObject({ outcome: 'failed' });
    expect(step(t, 'restart-xinetd')).toMatchObject({ command: '/etc/init.d/xinetd restart', exitCode: 0, outcome: 'ok' });
    expect(step(t, 'restart-xinetd')?.output).toContain('Starting xinetd: [  OK  ]');
    expect(step(t, 'confirm')).toMatchObject({ outcome: 'ok' });
    expect(t.evidence).toMatchObject({ processRunning: true, localConnect: true, outsideProbe: true });
    expect(calls.filter((c) => c.service === 'telnet').at(-1)?.up).toBe(true);

    expect(await telnetUp()).toBe(true);
    const after = await pids();
    expect(after.xinetd).not.toBe(before.xinetd);
    expect(after.inetd).toBe(before.inetd);
    const ps = await lab.console(HOST, 'pgrep -x xinetd | wc -l; pgrep -x inetd | wc -l');
    expect(ps.stdout).toBe('1\n1\n');
  });

  test('with xinetd running but the path from mamori blocked, the checks pass on the live xinetd: RemoteAccessBlocked, nothing restarted', async () => {
    const before = await pids();
    const rule = `INPUT -s ${lab.gateway} -p tcp --dport 23 -j DROP`;
    await lab.console(HOST, `iptables -I ${rule}`);
    try {
      const { t } = await execute();
      expect(t.verdict, t.message).toBe('RemoteAccessBlocked');
      expect(t.acted).toBe(false);
      expect(step(t, 'process-running')).toMatchObject({ outcome: 'ok' });
      expect(t.evidence).toMatchObject({ processRunning: true, localConnect: true, outsideProbe: false });
      expect(t.steps.map((s) => s.kind)).not.toContain('run');
    } finally {
      await lab.console(HOST, `iptables -D ${rule}`);
    }
    expect(await pids()).toEqual(before);
    expect(await telnetUp()).toBe(true);
  });
});
