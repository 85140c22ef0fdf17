/**
 * Webhooks end to end (lab 190): a real receiver (node:http, verifying signatures with the
 * README's recipe) is down while a lab incident opens and is repaired; mamori is restarted while
 * the events wait in its outbox; once the receiver is back, every event arrives — signed, each
 * with its idempotency key, a copy only with the same key and the same body.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../daemon/daemon-process.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { FAST_PROBE, fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests } from '../support/lab-fleet.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';

const HOST = 'acme-hook';
const SECRET = 'lab-webhook-signing-secret-0123456789';
const WAIT = 60_000;
let lab: Lab;
let dir: string;
let config: string;
let port: number;
let daemon: DaemonProcess | undefined;
const receiver = new WebhookReceiver(SECRET);

interface WebhookStats {
  name: string;
  pending: number;
  sent: number;
  failed: number;
  lastError?: string;
}

async function webhookStats(): Promise<WebhookStats | undefined> {
  const { json } = await daemon!.get('/api/status');
  return (json as { webhooks?: WebhookStats[] }).webhooks?.[0];
}

async function httpState(): Promise<string | undefined> {
  const { json } = await daemon!.get('/api/status');
  const servers = (json as { reconciler?: { servers?: Array<{ metadata: { name: string }; services: Record<string, { state: string }> }> } }).reconciler?.servers ?? [];
  return servers.find((s) => s.metadata.name === HOST)?.services.http?.state;
}

async function stopDaemon(): Promise<void> {
  if (!daemon) return;
  daemon.child.kill('SIGTERM');
  await Promise.race([daemon.exited, new Promise((r) => setTimeout(r, 20_000))]);
  daemon.kill();
  daemon = undefined;
}

beforeAll(async () => {
  lab = await startLab({ id: 190, hosts: [{ name: HOST }] });
  dir = await mkdtemp(join(tmpdir(), 'mamori-webhook-lab-'));
  const doc = fleetServer(lab, lab.host(HOST), { customer: 'acme', services: ['ping', 'ssh', 'http'], locale: 'en' });
  await writeServerManifests(join(dir, 'manifests'), [doc]);
  await writeLabSecrets(join(dir, 'secrets'), lab, { 'noc-hook': `${SECRET}\n` });
  // The receiver's port, kept while it is down: nothing listens there until it is started.
  receiver.port = await freePort();
  port = await freePort();
  config = join(dir, 'mamori.yaml');
  const alerting = stringify({
    alerting: { webhooks: [{ name: 'noc', url: receiver.url, secret: { secretRef: 'noc-hook' }, timeoutSeconds: 2, retry: { initialSeconds: 0.2, maxSeconds: 1 } }] },
  });
  await writeFile(config, `${fleetConfigYaml({ lab, source: { type: 'folder', path: 'manifests' }, httpPort: port, probe: FAST_PROBE })}${alerting}`);
  daemon = await spawnDaemon({ cwd: dir, config, port });
}, 120_000);

afterAll(async () => {
  await stopDaemon();
  killStrays();
  await receiver.stop();
  await lab?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('webhooks for a lab incident', () => {
  it('receiver down during the incident, mamori restarted: every event arrives once it is back, signed, duplicates only with the same key', async () => {
    await expect.poll(httpState, { timeout: WAIT, interval: 200 }).toBe('Healthy');
    await lab.breakService(HOST, 'httpd');
    // Opened and recovered, both waiting in the outbox while the receiver is down.
    await expect.poll(async () => (await httpState()) ?? '', { timeout: WAIT, interval: 200 }).toMatch(/Recovered|Healthy/);
    await expect.poll(async () => (await webhookStats())?.pending, { timeout: WAIT, interval: 200 }).toBe(2);
    expect(await webhookStats()).toMatchObject({ name: 'noc', sent: 0, failed: 0, lastError: 'ECONNREFUSED' });

    await stopDaemon();
    // Back, but the first post is answered 503: it is retried, with the same key.
    receiver.answers.push(503);
    await receiver.start();
    daemon = await spawnDaemon({ cwd: dir, config, port });
    await expect.poll(() => receiver.deliveries.filter((d) => d.status === 200).length, { timeout: WAIT, interval: 200 }).toBe(2);

    const delivered = receiver.deliveries.filter((d) => d.status === 200);
    expect(delivered.map((d) => d.event.type)).toEqual(['incident.opened', 'incident.recovered']);
    const [opened, recovered] = delivered;
    expect(opened!.event).toMatchObject({ server: { name: HOST, customer: 'acme' }, service: 'http' });
    const incidentId = (opened!.event.incident as { id: string }).id;
    expect(recovered!.event).toMatchObject({ incident: { id: incidentId }, server: { name: HOST } });
    expect(receiver.deliveries.every((d) => d.verified && d.idempotencyKey === d.id && d.id === d.event.id)).toBe(true);
    // Duplicates only with the same key, and the same bytes.
    for (const d of receiver.deliveries) {
      const copies = receiver.deliveries.filter((x) => x.id === d.id);
      expect(new Set(copies.map((x) => x.body)).size).toBe(1);
    }
    expect(receiver.deliveries[0]).toMatchObject({ status: 503, id: opened!.id });
    expect(new Set(receiver.deliveries.map((d) => d.id)).size).toBe(2);
    // No address or secret in what went out.
    const all = JSON.stringify(receiver.deliveries);
    expect(all).not.toContain(lab.host(HOST).address);
    expect(all).not.toContain(SECRET);
    expect(daemon.logs.map((l) => JSON.stringify(l)).join('\n')).not.toContain(SECRET);
    await expect.poll(webhookStats, { timeout: 10_000, interval: 200 }).toMatchObject({ pending: 0, sent: 2, failed: 0 });
  });
});
