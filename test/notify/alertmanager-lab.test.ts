/**
 * A real Alertmanager receives mamori's alerts for a lab incident (lab 150): firing while httpd is
 * down, resolved once mamori has repaired it; an alert that holds survives an Alertmanager restart
 * (mamori posts what holds again, level-based); its resolution arrives after the repair.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../daemon/daemon-process.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { FAST_PROBE, fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests } from '../support/lab-fleet.ts';
import { AlertReceiver, startAlertmanager, type AlertmanagerProcess } from '../support/alertmanager.ts';
import type { ServerDocument } from '../../src/manifest/types.ts';

const HOST = 'acme-am';
const WAIT = 45_000;
let lab: Lab;
let dir: string;
let daemon: DaemonProcess;
let am: AlertmanagerProcess;
let amPort: number;
const receiver = new AlertReceiver();
let doc: ServerDocument;

async function services(): Promise<Record<string, { state: string; hold?: string }>> {
  const { json } = await daemon.get('/api/status');
  const servers = (json as { reconciler?: { servers?: Array<{ metadata: { name: string }; services: Record<string, { state: string; hold?: string }> }> } }).reconciler?.servers ?? [];
  return servers.find((s) => s.metadata.name === HOST)?.services ?? {};
}

async function suspended(): Promise<unknown> {
  const { json } = await daemon.get('/api/status');
  const servers = (json as { reconciler?: { servers?: Array<{ metadata: { name: string }; conditions: Array<{ type: string }> }> } }).reconciler?.servers ?? [];
  return servers.find((s) => s.metadata.name === HOST)?.conditions.find((c) => c.type === 'Suspended');
}

async function writeManifest(suspend: boolean): Promise<void> {
  doc.spec.suspend = suspend;
  await writeServerManifests(join(dir, 'manifests'), [doc]);
}

beforeAll(async () => {
  lab = await startLab({ id: 150, hosts: [{ name: HOST }] });
  dir = await mkdtemp(join(tmpdir(), 'mamori-am-lab-'));
  doc = fleetServer(lab, lab.host(HOST), { customer: 'acme', services: ['ping', 'ssh', 'http'], locale: 'en' });
  await writeManifest(false);
  await writeLabSecrets(join(dir, 'secrets'), lab);
  await receiver.start();
  amPort = await freePort();
  am = await startAlertmanager(amPort, receiver.port);
  const port = await freePort();
  const config = join(dir, 'mamori.yaml');
  const alerting = stringify({ alerting: { alertmanager: { urls: [am.url], resendSeconds: 1, timeoutSeconds: 2 } } });
  await writeFile(config, `${fleetConfigYaml({ lab, source: { type: 'folder', path: 'manifests' }, httpPort: port, probe: FAST_PROBE })}${alerting}`);
  daemon = await spawnDaemon({ cwd: dir, config, port });
}, 120_000);

afterAll(async () => {
  daemon?.child.kill('SIGTERM');
  await Promise.race([daemon?.exited, new Promise((r) => setTimeout(r, 15_000))]);
  killStrays();
  await am?.stop();
  await receiver.stop();
  await lab?.stop();
  await rm(dir, { recursive: true, force: true });
});

const httpAlert = { alertname: 'MamoriServiceDown', server: `acme/${HOST}`, service: 'http', customer: 'acme', reason: 'Down' };

describe('Alertmanager receives mamori alerts for a lab incident', () => {
  it('httpd killed: a firing alert while it is down, a resolved one after the repair', async () => {
    await expect.poll(async () => Object.values(await services()).map((s) => s.state), { timeout: WAIT, interval: 200 }).toEqual(['Healthy', 'Healthy', 'Healthy']);
    expect(receiver.alerts).toEqual([]);
    await lab.breakService(HOST, 'httpd');
    await expect.poll(() => receiver.of(httpAlert, 'firing').length, { timeout: WAIT, interval: 100 }).toBeGreaterThan(0);
    expect(receiver.of(httpAlert, 'firing')[0]?.labels).toMatchObject({ severity: 'warning' });
    await expect.poll(() => receiver.of(httpAlert, 'resolved').length, { timeout: WAIT, interval: 100 }).toBeGreaterThan(0);
    // The repair is what resolves it (a resolution can also come from Alertmanager itself when a
    // resend is late under load, at endsAt): the service ends repaired, and its alert resolved.
    await expect.poll(async () => (await services()).http?.state, { timeout: WAIT, interval: 200 }).toMatch(/Recovered|Healthy/);
    const activeHttp = async (): Promise<number> =>
      ((await (await fetch(`${am.url}/api/v2/alerts?active=true`)).json()) as Array<{ labels: Record<string, string> }>).filter((a) => a.labels.service === 'http').length;
    await expect.poll(activeHttp, { timeout: 15_000, interval: 200 }).toBe(0);
    // Nothing about the services that never failed, and no address or secret in any label.
    expect(receiver.alerts.every((a) => a.labels.service === 'http')).toBe(true);
    expect(JSON.stringify(receiver.alerts)).not.toContain(lab.host(HOST).address);
  });

  it('an alert that holds is back after Alertmanager restarts, and resolves after the repair', async () => {
    await writeManifest(true);
    await expect.poll(suspended, { timeout: WAIT, interval: 200 }).toMatchObject({ status: 'True', reason: 'Suspended' });
    const firingBefore = receiver.of(httpAlert, 'firing').length;
    await lab.breakService(HOST, 'httpd');
    // Suspended: Down and held, nothing repaired: the alert holds.
    await expect.poll(async () => (await services()).http?.hold, { timeout: WAIT, interval: 200 }).toBe('Suspended');
    await expect.poll(() => receiver.of(httpAlert, 'firing').length, { timeout: WAIT, interval: 100 }).toBeGreaterThan(firingBefore);

    // Alertmanager keeps alerts in memory only: a restart forgets them. mamori posts them again.
    await am.stop();
    const firingBeforeRestart = receiver.of(httpAlert, 'firing').length;
    am = await startAlertmanager(amPort, receiver.port);
    await expect.poll(() => receiver.of(httpAlert, 'firing').length, { timeout: 15_000, interval: 100 }).toBeGreaterThan(firingBeforeRestart);
    const live = (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as Array<{ labels: Record<string, string> }>;
    expect(live.map((a) => a.labels.alertname)).toContain('MamoriServiceDown');

    const resolvedBefore = receiver.of(httpAlert, 'resolved').length;
    await writeManifest(false);
    await expect.poll(() => receiver.of(httpAlert, 'resolved').length, { timeout: WAIT, interval: 100 }).toBeGreaterThan(resolvedBefore);
    expect((await services()).http?.state).toMatch(/Recovered|Healthy/);
  });
});
