/**
 * Whole hosts end to end (lab 17): three lab hosts in one /24, `mamori run` on a real git remote at
 * the fastest settings, mail to a real SMTP server. Scenarios 9 (every link pulled: mass-failure
 * pause, nothing repaired, the operator told; restored: normal), 2 (powered off: console, power on
 * through the BMC, services verified) and 3 (link pulled on a running host: HostUnreachable,
 * escalated, no power action), in that order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src/status/journal.ts';
import { header, OPERATOR_EMAIL, recordsOf, startE2eFleet, type E2eFleet } from '../support/e2e-fleet.ts';

const HOSTS = ['acme-a', 'acme-b', 'acme-c'];
const SERVICES = ['ping', 'ssh', 'http'];
const HANG_GUARD = 45_000;
const TEST_BOUND = 120_000;
let fleet: E2eFleet;

beforeAll(async () => {
  fleet = await startE2eFleet({
    labId: 17,
    hosts: HOSTS.map((name) => ({ name, variant: 'standard' as const, manifest: { services: ['ping', 'ssh', 'http'], locale: 'en' as const } })),
  });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
});

type Finished = JournalRecord & { verdict: string; acted: boolean; powerActions: number; steps: Array<{ id: string; kind: string; outcome: string }> };

async function since(t: number): Promise<JournalRecord[]> {
  return (await fleet.journal()).filter((r) => Date.parse(r.ts) >= t);
}

async function allHealthy(hosts: string[]): Promise<void> {
  await expect
    .poll(() => hosts.flatMap((h) => SERVICES.map((s) => fleet.service(h, s)?.state)), { timeout: HANG_GUARD, interval: 200 })
    .toEqual(hosts.flatMap(() => SERVICES.map(() => 'Healthy')));
}

/** E-mails about the host incident of a server (its X-Mamori-Incident is `<customer>/<server>.host.<time>`, encoded). */
function hostMails(kind: string, host: string): ReturnType<E2eFleet['mails']> {
  return fleet.mails(kind, host).filter((m) => header(m, 'x-mamori-incident').startsWith(`acme=2F${host}=2Ehost=2E`));
}

function initPid(host: string): string {
  return readFileSync(join(fleet.lab.host(host).dir, 'init.pid'), 'utf8').trim();
}

describe('whole hosts end to end: power, links, mass failure', () => {
  it('scenario 9: every link pulled at once → mass-failure pause, no remediation, operator told; restored → normal', async () => {
    await allHealthy(HOSTS);
    const pulledAt = Date.now();
    await Promise.all(HOSTS.map((h) => fleet.lab.pull(h)));
    let restoredAt = Infinity;
    try {
      await pausedAndHeld(pulledAt);
    } finally {
      restoredAt = Date.now();
      await Promise.all(HOSTS.map((h) => fleet.lab.plug(h)));
    }
    await allHealthy(HOSTS);
    await expect.poll(async () => (await since(pulledAt)).some((r) => r.type === 'mass-failure-cleared'), { timeout: HANG_GUARD, interval: 200 }).toBe(true);
    const records = await since(pulledAt);
    // Nothing ran while paused.
    expect(records.filter((r) => r.type === 'started' && Date.parse(r.ts) < restoredAt)).toEqual([]);
    // Restored: every host answers again and nothing was powered. (Known gap, left to decide: a probe
    // pass that straddles the link's return can see ping up and ssh still failing on the machine's
    // stale neighbour entry; ssh, no longer covered by the host, is then restarted from the console.)
    const after = records.filter((r) => r.type === 'finished') as Array<JournalRecord & { powerActions: number; target: string }>;
    expect(after.filter((r) => r.powerActions > 0)).toEqual([]);
    expect(HOSTS.map((h) => fleet.status(h)?.conditions.find((c) => c.type === 'MassFailurePaused')?.status ?? 'False')).toEqual(HOSTS.map(() => 'False'));
    // The operator heard of it once; no customer was told of a fault of our own network.
    expect(fleet.mails('mass-failure-paused')).toHaveLength(1);
    expect(fleet.mails('could-not-recover')).toHaveLength(0);
  }, TEST_BOUND);

  async function pausedAndHeld(pulledAt: number): Promise<void> {
    await expect.poll(async () => (await since(pulledAt)).some((r) => r.type === 'mass-failure-paused'), { timeout: HANG_GUARD, interval: 200 }).toBe(true);
    await expect
      .poll(() => HOSTS.map((h) => fleet.status(h)?.conditions.find((c) => c.type === 'MassFailurePaused')?.status), { timeout: HANG_GUARD, interval: 200 })
      .toEqual(HOSTS.map(() => 'True'));
    await expect.poll(() => fleet.mails('mass-failure-paused').length, { timeout: 15_000, interval: 100 }).toBe(1);
    const [mail] = fleet.mails('mass-failure-paused');
    expect(mail?.to).toMatchObject({ value: [{ address: OPERATOR_EMAIL }] });
    expect(mail?.subject).toContain('3 of 3');
    // Paused long enough for every host to be confirmed Down and past the destructive wait.
    await expect.poll(() => HOSTS.map((h) => fleet.service(h, 'ping')?.state), { timeout: HANG_GUARD, interval: 200 }).toEqual(HOSTS.map(() => 'Down'));
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await since(pulledAt)).filter((r) => r.type === 'started')).toEqual([]);
    // A host whose incident opened before the pause tripped shows DestructiveWait until its next pass
    // re-judges it (at the latest when the wait ends): then it is held by the pause, and never started.
    await expect.poll(() => HOSTS.map((h) => fleet.service(h, 'ping')?.hold), { timeout: HANG_GUARD, interval: 200 }).toEqual(HOSTS.map(() => 'MassFailurePaused'));
    expect((await since(pulledAt)).filter((r) => r.type === 'started')).toEqual([]);
  }

  it('scenario 2: a host powered off → console check → powered on through the BMC → services verified', async () => {
    const host = 'acme-a';
    const before = initPid(host);
    const offAt = Date.now();
    await fleet.lab.power(host, 'off');
    await expect
      .poll(async () => recordsOf(await since(offAt), host, 'host').find((r) => r.type === 'finished'), { timeout: HANG_GUARD, interval: 200 })
      .toBeDefined();
    const run = recordsOf(await since(offAt), host, 'host').find((r): r is Finished => r.type === 'finished');
    expect(run).toMatchObject({ verdict: 'Recovered', runbook: 'std-ping', acted: true });
    expect(run?.powerActions).toBeGreaterThanOrEqual(1);
    expect(run?.steps.map((s) => [s.id, s.kind, s.outcome])).toEqual([
      // The console shows nothing: the host has stopped, so power is the answer.
      ['console-look', 'console', 'failed'],
      ['power-recover', 'power', 'ok'],
      ['back-up', 'verify', 'ok'],
    ]);
    expect(initPid(host)).not.toBe(before);
    expect(await fleet.lab.power(host, 'status')).toBe('on');
    await allHealthy([host]);
    await expect.poll(() => hostMails('recovered', host).length, { timeout: 15_000, interval: 100 }).toBe(1);
    // One host runbook, and the only power action was its own. (The lab's power-off kills the
    // host's processes a moment before its NIC goes dark: at the fastest settings ssh can be found
    // Down in that window and get its own console runbook, which finds no console and acts not.)
    const started = recordsOf(await since(offAt), host).filter((r) => r.type === 'started');
    expect(started.filter((r) => r.target === 'host')).toHaveLength(1);
    const others = recordsOf(await since(offAt), host).filter((r): r is Finished => r.type === 'finished' && r.target !== 'host');
    expect(others.filter((r) => r.powerActions > 0 || r.acted)).toEqual([]);
  }, TEST_BOUND);

  it('scenario 3: a running host whose link is pulled → HostUnreachable, escalated, no power action', async () => {
    const host = 'acme-b';
    await allHealthy([host]);
    const before = initPid(host);
    const pulledAt = Date.now();
    await fleet.lab.pull(host);
    try {
      await expect.poll(() => fleet.service(host, 'ping')?.state, { timeout: HANG_GUARD, interval: 200 }).toBe('Escalated');
    } finally {
      if (fleet.service(host, 'ping')?.state !== 'Escalated') await fleet.lab.plug(host);
    }
    expect(fleet.service(host, 'ping')?.escalation).toBe('HostUnreachable');
    const runs = recordsOf(await since(pulledAt), host, 'host').filter((r): r is Finished => r.type === 'finished');
    expect(runs.map((r) => [r.verdict, r.powerActions])).toEqual([['HostUnreachable', 0]]);
    expect(runs[0]?.steps.filter((s) => s.kind === 'power')).toEqual([]);
    expect(initPid(host)).toBe(before);
    expect(await fleet.lab.power(host, 'status')).toBe('on');
    await expect.poll(() => hostMails('could-not-recover', host).length, { timeout: 15_000, interval: 100 }).toBe(1);

    // Link back: it recovers by itself; still no power action, no second attempt.
    await fleet.lab.plug(host);
    await allHealthy([host]);
    expect(recordsOf(await since(pulledAt), host).filter((r) => r.type === 'started')).toHaveLength(1);
    expect(initPid(host)).toBe(before);
  }, TEST_BOUND);
});
