/**
 * Scenario 8 of issue 10 (lab 18): `mamori run` is SIGKILLed in the middle of a runbook, after its
 * restart step and during a slow step of the customer's own runbook; started again on the same
 * state folder, it finds the attempt open in the journal, records it interrupted and never runs it
 * again: httpd keeps the pid the first (and only) restart gave it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordsOf, startE2eFleet, type E2eFleet } from '../support/e2e-fleet.ts';

const HOST = 'acme-slow';
const HANG_GUARD = 45_000;
let fleet: E2eFleet;

const SLOW_RUNBOOK = `# yaml-language-server: $schema=../../../../schemas/runbook.schema.json
apiVersion: mamori/v1
kind: Runbook
metadata:
  name: acme-slow-httpd
  customer: acme
  description: Restart httpd, then let the application warm up before checking.
spec:
  services: [http]
  steps:
    - id: look
      check: { process: httpd }
    - id: answers-locally
      check: { localConnect: {} }
    - id: restart
      run: { command: /etc/init.d/httpd restart }
    - id: warm-up
      description: The application fills its caches before it takes traffic.
      deadlineSeconds: 120
      run: { command: sleep 60 }
    - id: confirm
      verify: { process: httpd, localConnect: {}, probe: true, withinSeconds: 60 }
`;

beforeAll(async () => {
  fleet = await startE2eFleet({
    labId: 18,
    hosts: [{ name: HOST, variant: 'standard', manifest: { services: ['ping', 'ssh', 'http'], runbooks: { http: 'acme-slow-httpd' }, locale: 'en' } }],
    files: { 'customers/acme/runbooks/acme-slow-httpd.yaml': SLOW_RUNBOOK },
  });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
});

async function httpdPid(): Promise<string | undefined> {
  const r = await fleet.lab.console(HOST, '/etc/init.d/httpd status >/dev/null && cat /var/run/httpd.pid');
  return r.code === 0 ? r.stdout.trim() : undefined;
}

describe('mamori killed mid-runbook', () => {
  it('scenario 8: SIGKILLed during a runbook and started again → the attempt is journaled interrupted and not repeated', async () => {
    await expect.poll(() => fleet.service(HOST, 'http')?.state, { timeout: HANG_GUARD, interval: 200 }).toBe('Healthy');
    const before = await httpdPid();
    await fleet.lab.breakService(HOST, 'httpd');
    await expect.poll(async () => recordsOf(await fleet.journal(), HOST, 'http').some((r) => r.type === 'started'), { timeout: HANG_GUARD, interval: 100 }).toBe(true);
    const [started] = recordsOf(await fleet.journal(), HOST, 'http').filter((r) => r.type === 'started');
    // The restart step has run (httpd is back with a new pid); the runbook now sits in its slow step.
    await expect.poll(httpdPid, { timeout: HANG_GUARD, interval: 200 }).toMatch(/^\d+$/);
    const restartedPid = await httpdPid();
    expect(restartedPid).not.toBe(before);

    fleet.daemon.child.kill('SIGKILL');
    expect(await fleet.daemon.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const atKill = recordsOf(await fleet.journal(), HOST, 'http');
    expect(atKill.filter((r) => r.type === 'finished' || r.type === 'interrupted')).toEqual([]);

    await fleet.restartDaemon();
    await expect
      .poll(async () => (await fleet.journal()).find((r) => r.type === 'interrupted' && r.incidentId === started?.incidentId), { timeout: HANG_GUARD, interval: 200 })
      .toMatchObject({ server: `acme/${HOST}`, target: 'http', attempt: started?.attempt, reason: 'daemon-restarted' });
    // Re-probed first: httpd answers, so the incident closes without another attempt.
    await expect.poll(() => fleet.service(HOST, 'http')?.state, { timeout: HANG_GUARD, interval: 200 }).toBe('Healthy');
    await new Promise((r) => setTimeout(r, 2_000));
    const records = recordsOf(await fleet.journal(), HOST, 'http');
    expect(records.filter((r) => r.type === 'started')).toHaveLength(1);
    expect(records.find((r) => r.type === 'incident-closed' && r.incidentId === started?.incidentId)).toBeDefined();
    expect(await httpdPid()).toBe(restartedPid);
  }, 120_000);
});
