/**
 * Two vantage points end to end (lab 106, issue 25): three lab hosts reached by two management
 * networks — the lab bridge the daemon probes from (`primary`, 10.231.106.0/24) and the second
 * network (`second`, 10.232.106.0/24) where `mamori agent` runs in its own namespace and reports to
 * the daemon. `mamori run` on a real git remote at the fastest settings, real sshd/httpd and
 * ipmi_sim BMCs, mail to a real SMTP server. Paths are cut with iptables inside the hosts.
 *
 * In order: one host's primary path cut (the customer allows only the second network: its
 * access-blocked mail names the missing one, no runbook); every host's primary path cut (mamori's
 * own network: the operator is told, nothing is done); a powered-off host (powered on through the
 * BMC at once, seen back from both vantages); both paths cut to a running host (the console-first
 * host incident as without vantages); the agent killed (VantageLost: no power cycle on one
 * vantage's word).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src/status/journal.ts';
import { AGENT_VANTAGE, header, OPERATOR_EMAIL, recordsOf, SELF_VANTAGE, startE2eFleet, type E2eFleet } from '../support/e2e-fleet.ts';

const HOSTS = ['acme-a', 'acme-b', 'acme-c'];
const SERVICES = ['ping', 'ssh', 'http'];
const HANG_GUARD = 45_000;
const TEST_BOUND = 90_000;
/** A report older than this is no vote (the agent's round with a cut path takes the probe timeout, 2 s, plus its 1 s pause). */
const FRESH_SECONDS = 8;
let fleet: E2eFleet;

beforeAll(async () => {
  fleet = await startE2eFleet({
    labId: 106,
    hosts: HOSTS.map((name) => ({ name, variant: 'standard' as const, manifest: { services: ['ping', 'ssh', 'http'], locale: 'en' as const } })),
    vantages: { quorum: { freshSeconds: FRESH_SECONDS } },
  });
  const agent = fleet.startAgent();
  // The agent fetched the servers from the daemon and sees every service answer over the second network.
  const until = Date.now() + 60_000;
  while (!HOSTS.every((h) => SERVICES.every((svc) => agent.state(`acme/${h}`, svc) === true))) {
    if (Date.now() > until || agent.child.exitCode !== null) throw new Error(`the agent does not see every service up over the second network:\n${agent.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 150_000);

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

/** E-mails about the host incident of a server (X-Mamori-Incident `<customer>/<server>.host.<time>`, encoded). */
function hostMails(kind: string, host: string): ReturnType<E2eFleet['mails']> {
  return fleet.mails(kind, host).filter((m) => header(m, 'x-mamori-incident').startsWith(`acme=2F${host}=2Ehost=2E`));
}

function initPid(host: string): string {
  return readFileSync(join(fleet.lab.host(host).dir, 'init.pid'), 'utf8').trim();
}

function agentAlive(): void {
  const agent = fleet.agent;
  expect(agent === undefined ? 'no agent' : agent.child.exitCode, agent?.output().slice(-2000)).toBeNull();
  // Every report it sent was taken (a refusal is logged by the agent).
  expect(agent?.lines.filter((l) => l.msg === 'agent report refused' || l.msg === 'agent round failed')).toEqual([]);
}

const votes = (host: string): string[] | undefined => fleet.service(host, 'ping')?.quorum?.votes.map((v) => `${v.vantage}:${v.up}`);

describe('two vantage points end to end: the second management network and its agent', () => {
  it('scenario 1: only the primary path to one host cut → the customer\'s access-blocked mail names the missing network, no runbook; it clears by itself', async () => {
    await allHealthy(HOSTS);
    const host = 'acme-a';
    const cutAt = Date.now();
    await fleet.lab.cut(host, 'primary');
    try {
      await expect.poll(() => fleet.service(host, 'ping')?.escalation, { timeout: HANG_GUARD, interval: 200 }).toBe('AccessBlocked');
      // The decision and the votes it used, in the status file and the journal.
      const q = fleet.service(host, 'ping')?.quorum;
      expect(q?.judgement).toBe('disputed');
      expect(q?.missingNetworks).toEqual([fleet.lab.subnet]);
      expect(votes(host)).toEqual([`${SELF_VANTAGE}:false`, `${AGENT_VANTAGE}:true`]);
      const quorumRecords = recordsOf(await since(cutAt), host).filter((r) => r.type === 'quorum');
      expect(quorumRecords.some((r) => r.judgement === 'disputed')).toBe(true);
      await expect.poll(() => hostMails('access-blocked', host).length, { timeout: 15_000, interval: 100 }).toBe(1);
    } finally {
      await fleet.lab.mend(host, 'primary');
    }
    const [mail] = hostMails('access-blocked', host);
    expect(mail?.to).toMatchObject({ value: [{ address: `ops@acme.example` }] });
    const text = mail?.text ?? '';
    // The missing network is named, and it alone is asked for; the other network's view is the evidence.
    expect(text).toContain(`${fleet.lab.subnet} is missing`);
    expect(text).toContain(`iptables -I INPUT -s ${fleet.lab.subnet} -j ACCEPT`);
    expect(text).not.toContain(`iptables -I INPUT -s ${fleet.lab.second?.subnet} -j ACCEPT`);
    expect(text).toContain(`From our management network ${fleet.lab.second?.subnet} (${AGENT_VANTAGE})`);
    expect(text).toContain('we did not restart anything');

    // Healthy again by itself; nothing ran, nothing was powered, nobody else was written to.
    await allHealthy([host]);
    const records = await since(cutAt);
    expect(records.filter((r) => r.type === 'started')).toEqual([]);
    expect(fleet.mails('could-not-recover')).toHaveLength(0);
    expect(fleet.mails().filter((m) => JSON.stringify(m.to ?? '').includes(OPERATOR_EMAIL)).map((m) => m.subject)).toEqual([]);
    agentAlive();
  }, TEST_BOUND);

  it('scenario 2: the primary path to every host cut (mamori\'s own network) → the operator is told, nothing is done; restored → normal', async () => {
    await allHealthy(HOSTS);
    const customerMailsBefore = fleet.mails('access-blocked').length;
    const cutAt = Date.now();
    await Promise.all(HOSTS.map((h) => fleet.lab.cut(h, 'primary')));
    let mendedAt = Infinity;
    try {
      await expect.poll(() => fleet.mails('mass-failure-paused').length, { timeout: HANG_GUARD, interval: 200 }).toBe(1);
      // Held long enough for every host to be confirmed Down and past the destructive wait.
      await expect.poll(() => HOSTS.map((h) => fleet.service(h, 'ping')?.state), { timeout: HANG_GUARD, interval: 200 }).toEqual(HOSTS.map(() => 'Down'));
      await expect.poll(() => HOSTS.map((h) => fleet.service(h, 'ping')?.hold), { timeout: HANG_GUARD, interval: 200 }).toEqual(HOSTS.map(() => 'MassFailurePaused'));
      await new Promise((r) => setTimeout(r, 2_000));
      // The agent sees them all answer the whole time: it is mamori's network, not the servers.
      expect(HOSTS.map((h) => fleet.agent?.state(`acme/${h}`, 'ping'))).toEqual(HOSTS.map(() => true));
    } finally {
      mendedAt = Date.now();
      await Promise.all(HOSTS.map((h) => fleet.lab.mend(h, 'primary')));
    }
    const [mail] = fleet.mails('mass-failure-paused');
    expect(mail?.to).toMatchObject({ value: [{ address: OPERATOR_EMAIL }] });
    expect(mail?.subject).toContain('3 of 3');
    await allHealthy(HOSTS);
    await expect.poll(async () => (await since(cutAt)).some((r) => r.type === 'mass-failure-cleared'), { timeout: HANG_GUARD, interval: 200 }).toBe(true);
    const records = await since(cutAt);
    expect(records.filter((r) => r.type === 'started' && Date.parse(r.ts) < mendedAt)).toEqual([]);
    expect(records.filter((r) => r.type === 'finished' && (r as Finished).powerActions > 0)).toEqual([]);
    // No customer was told of a fault of our own network.
    expect(fleet.mails('access-blocked')).toHaveLength(customerMailsBefore);
    expect(fleet.mails('could-not-recover')).toHaveLength(0);
    agentAlive();
  }, TEST_BOUND);

  it('scenario 4: a powered-off host → powered on through the BMC at once (no quorum, no wait), seen back from both vantages', async () => {
    const host = 'acme-b';
    await allHealthy(HOSTS);
    const before = initPid(host);
    const offAt = Date.now();
    await fleet.lab.power(host, 'off');
    await expect
      .poll(async () => recordsOf(await since(offAt), host, 'host').find((r) => r.type === 'finished'), { timeout: HANG_GUARD, interval: 200 })
      .toBeDefined();
    const records = recordsOf(await since(offAt), host, 'host');
    const run = records.find((r): r is Finished => r.type === 'finished');
    expect(run).toMatchObject({ verdict: 'Recovered', runbook: 'std-ping', acted: true });
    expect(run?.powerActions).toBeGreaterThanOrEqual(1);
    expect(run?.steps.map((s) => [s.id, s.kind, s.outcome])).toEqual([
      ['console-look', 'console', 'failed'],
      ['power-recover', 'power', 'ok'],
      ['back-up', 'verify', 'ok'],
    ]);
    // Powered on because the BMC said off: that judgement, not a quorum's.
    expect(recordsOf(await since(offAt), host, 'ping').filter((r) => r.type === 'quorum').map((r) => r.judgement)).toContain('power-on');
    expect(initPid(host)).not.toBe(before);
    expect(await fleet.lab.power(host, 'status')).toBe('on');
    await allHealthy([host]);
    // Seen from the second network too: the agent's own probes found it dark after the power-off
    // and answering again after the power-on.
    await expect.poll(() => fleet.agent?.state(`acme/${host}`, 'ping'), { timeout: HANG_GUARD, interval: 200 }).toBe(true);
    const seen = (fleet.agent?.lines ?? []).filter((l) => l.msg === 'service state changed' && l.server === `acme/${host}` && l.service === 'ping' && l.seenAt > offAt).map((l) => l.up);
    expect(seen).toEqual([false, true]);
    await expect.poll(() => hostMails('recovered', host).length, { timeout: 15_000, interval: 100 }).toBe(1);
    expect(recordsOf(await since(offAt), host).filter((r) => r.type === 'started' && r.target === 'host')).toHaveLength(1);
    agentAlive();
  }, TEST_BOUND);

  it('scenario 5: both paths cut to a running host → the console-first host incident as without vantages: HostUnreachable, no power action', async () => {
    const host = 'acme-c';
    await allHealthy(HOSTS);
    const before = initPid(host);
    const cutAt = Date.now();
    await fleet.lab.cut(host, 'both');
    try {
      await expect.poll(() => fleet.service(host, 'ping')?.state, { timeout: HANG_GUARD, interval: 200 }).toBe('Escalated');
    } finally {
      if (fleet.service(host, 'ping')?.state !== 'Escalated') await fleet.lab.mend(host, 'both');
    }
    expect(fleet.service(host, 'ping')?.escalation).toBe('HostUnreachable');
    // Both vantages failed after the wait: the quorum allowed the host runbook, which looked at the console first.
    const quorum = recordsOf(await since(cutAt), host).filter((r) => r.type === 'quorum');
    const allowed = quorum.find((r) => r.judgement === 'power-cycle') as (JournalRecord & { votes: Array<{ vantage: string; up: boolean }> }) | undefined;
    expect(allowed?.votes.map((v) => `${v.vantage}:${v.up}`)).toEqual([`${SELF_VANTAGE}:false`, `${AGENT_VANTAGE}:false`]);
    const runs = recordsOf(await since(cutAt), host, 'host').filter((r): r is Finished => r.type === 'finished');
    expect(runs.map((r) => [r.verdict, r.powerActions])).toEqual([['HostUnreachable', 0]]);
    expect(runs[0]?.steps[0]).toMatchObject({ id: 'console-look', kind: 'console' });
    expect(runs[0]?.steps.filter((s) => s.kind === 'power')).toEqual([]);
    expect(initPid(host)).toBe(before);
    expect(await fleet.lab.power(host, 'status')).toBe('on');
    await expect.poll(() => hostMails('could-not-recover', host).length, { timeout: 15_000, interval: 100 }).toBe(1);

    await fleet.lab.mend(host, 'both');
    await allHealthy([host]);
    expect(recordsOf(await since(cutAt), host).filter((r) => r.type === 'started')).toHaveLength(1);
    expect(initPid(host)).toBe(before);
    agentAlive();
  }, TEST_BOUND);

  it('scenario 3: the agent killed, then a host fails → VantageLost, the operator told, no power cycle on one vantage\'s word', async () => {
    const host = 'acme-a';
    await allHealthy(HOSTS);
    const before = initPid(host);
    await fleet.agent?.kill();
    const cutAt = Date.now();
    await fleet.lab.cut(host, 'both');
    try {
      await expect.poll(() => fleet.service(host, 'ping')?.hold, { timeout: HANG_GUARD, interval: 200 }).toBe('VantageLost');
      const q = fleet.service(host, 'ping')?.quorum;
      expect(q?.judgement).toBe('lost');
      expect(q?.lost).toEqual([AGENT_VANTAGE]);
      expect(votes(host)).toEqual([`${SELF_VANTAGE}:false`]);
      await expect
        .poll(() => hostMails('console-check-requested', host).length, { timeout: 15_000, interval: 100 })
        .toBe(1);
      const [mail] = hostMails('console-check-requested', host);
      expect(mail?.to).toMatchObject({ value: [{ address: OPERATOR_EMAIL }] });
      expect(mail?.text).toContain("we will not power-cycle it on one network's word");
      expect(mail?.text).toContain(`${AGENT_VANTAGE}: no fresh report`);
      // It holds: still no runbook a while later.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(fleet.service(host, 'ping')?.hold).toBe('VantageLost');
      expect(recordsOf(await since(cutAt), host).filter((r) => r.type === 'started')).toEqual([]);
    } finally {
      await fleet.lab.mend(host, 'both');
    }
    expect(initPid(host)).toBe(before);
    expect(await fleet.lab.power(host, 'status')).toBe('on');
    await allHealthy([host]);
    expect(recordsOf(await since(cutAt), host).filter((r) => r.type === 'started')).toEqual([]);
    // The customer was not told anything of it.
    expect(hostMails('could-not-recover', host)).toEqual([]);
  }, TEST_BOUND);
});
