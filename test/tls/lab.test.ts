import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generate } from 'selfsigned';
import { parseConfig } from '../../src/config/load-config.ts';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { silentLogger } from '../../src/log.ts';
import type { ServerDocument } from '../../src/manifest/types.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import { wireReconciler, type ReconcilerParts } from '../../src/reconcile/wiring.ts';
import { startLab, type Lab, type LabHost } from '../lab/index.ts';
import { LAB_TARGETS } from '../support/targets.ts';

/**
 * TLS at protocol depth against the real daemons (lab id 140): exim (STARTTLS on 25, TLS on 465)
 * and dovecot (STLS/STARTTLS on 110/143, TLS on 995/993) with certificates made here — one
 * self-signed that expires in 5 days, one from a CA mamori trusts (config tls.caFiles) that expired
 * yesterday — and a host whose daemons offer no TLS, where the upgrade is refused.
 */
const DAY = 86_400_000;
let lab: Lab;
let work: string;
let ca: { key: string; cert: string };

async function certificate(name: string, address: string, notAfter: Date, notBefore: Date, signer?: { key: string; cert: string }) {
  const g = await generate([{ name: 'commonName', value: name }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }, { type: 7, ip: address }] }],
    ...(signer !== undefined ? { ca: signer } : {}),
  });
  return { key: g.private, cert: g.cert };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mamori-tls-lab-'));
  const c = await generate([{ name: 'commonName', value: 'mamori lab CA' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 400 * DAY),
    extensions: [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true }],
  });
  ca = { key: c.private, cert: c.cert };
  const now = Date.now();
  // Addresses are the lab's: 10.231.140.11 + index.
  const soon = await certificate('mail1.lab.test', '10.231.140.11', new Date(now + 5 * DAY + 3_600_000), new Date(now - DAY));
  const expired = await certificate('mail2.lab.test', '10.231.140.12', new Date(now - DAY), new Date(now - 90 * DAY), ca);
  lab = await startLab({
    id: 140,
    hosts: [
      { name: 'mail1', mailTls: soon },
      { name: 'mail2', mailTls: expired },
      { name: 'mail3' },
    ],
  });
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

function host(name: string): LabHost {
  const h = lab.hosts.find((x) => x.name === name);
  if (h === undefined) throw new Error(`no host ${name}`);
  return h;
}

function mailServer(h: LabHost): ServerDocument {
  return {
    apiVersion: 'mamori/v1',
    kind: 'Server',
    metadata: { name: h.name, customer: 'acme' },
    spec: {
      address: h.address,
      os: { family: 'centos', version: '5.4' },
      plan: 'basic',
      contact: { email: 'ops@acme.example', locale: 'en' },
      allowedNetworks: ['210.224.172.0/24', '210.188.224.0/24'],
      services: [
        { smtp: { starttls: true, host: `${h.name}.lab.test` } },
        'smtps',
        { pop3: { starttls: true } },
        'pop3s',
        { imap: { starttls: true } },
        'imaps',
      ],
      access: { user: lab.managementUser, hostKey: h.hostKeyFingerprint, credentials: { secretRef: `${h.name}-login` } },
    },
  };
}

describe('STARTTLS refused by the real daemons: a failed probe, phase named', () => {
  const registry = createProberRegistry({ targets: LAB_TARGETS });
  test.each([
    ['smtp', /^503 /],
    ['pop3', /^-ERR/],
    ['imap', /^a1 (NO|BAD)/],
  ] as const)('%s on a host whose daemon offers no TLS', async (service, reply) => {
    const r = await registry.probe({ service, address: host('mail3').address, timeoutMs: 5000, starttls: true });
    expect(r.up).toBe(false);
    expect(r.failure).toMatchObject({ kind: 'protocol', phase: 'starttls' });
    expect(r.peer).toMatch(reply);
    // Without starttls in the manifest the same service is up.
    expect((await registry.probe({ service, address: host('mail3').address, timeoutMs: 5000 })).up).toBe(true);
  });

  test('the implicit-TLS port of a host without TLS is refused at connect (nothing listens)', async () => {
    const r = await registry.probe({ service: 'smtps', address: host('mail3').address, timeoutMs: 5000 });
    expect(r.failure).toMatchObject({ kind: 'refused', phase: 'connect' });
  });
});

describe('certificates through the reconciler: conditions, one mail per threshold, the metric; never a Down', () => {
  let parts: ReconcilerParts;

  beforeAll(async () => {
    await writeFile(join(work, 'ca.pem'), ca.cert);
    const config = parseConfig(
      `stateDir: ${join(work, 'state')}\nsecretsDir: ${join(work, 'secrets')}\nprobe: { timeoutSeconds: 5, failuresToDown: 2 }\ntls: { warningDays: [30, 7], caFiles: [ca.pem] }\n`,
      join(work, 'mamori.yaml'),
      work,
    );
    parts = await wireReconciler(config, { logger: silentLogger(), runbooks: () => new Map() });
    parts.controller.setDesired('rev1', [mailServer(host('mail1')), mailServer(host('mail2'))]);
    // Unscheduled: only this test's reconcileOnce passes run (no timer pass holds a server meanwhile).
    await parts.controller.start(undefined, { schedule: false });
    for (let i = 0; i < 3; i++) await parts.controller.reconcileOnce();
  }, 60_000);

  afterAll(async () => {
    await parts?.controller.stop({ deadlineMs: 2000 });
    await parts?.outbox.stop();
    parts?.health.stop();
    await parts?.journal.close();
  });

  const conditionsOf = (name: string): Record<string, string> => {
    const s = parts.controller.status().servers.find((x) => x.metadata.name === name);
    return Object.fromEntries((s?.conditions ?? []).filter((c) => c.type.startsWith('Certificate')).map((c) => [c.type, `${c.status}/${c.reason}`]));
  };

  test('every service answers over TLS and stays Healthy; no runbook', async () => {
    for (const name of ['mail1', 'mail2']) {
      const s = parts.controller.status().servers.find((x) => x.metadata.name === name);
      expect(Object.fromEntries(Object.entries(s?.services ?? {}).map(([k, v]) => [k, v.state]))).toEqual({
        smtp: 'Healthy', smtps: 'Healthy', pop3: 'Healthy', pop3s: 'Healthy', imap: 'Healthy', imaps: 'Healthy',
      });
      expect(s?.incidents.open).toEqual([]);
    }
  });

  test('self-signed, 5 days left: CertificateExpiring/ExpiresSoon and CertificateInvalid/SelfSigned, facts in the status file', async () => {
    expect(conditionsOf('mail1')).toEqual({ CertificateExpiring: 'True/ExpiresSoon', CertificateInvalid: 'True/SelfSigned' });
    const file = await readFile(join(work, 'state', 'status', 'acme', 'mail1.yaml'), 'utf8');
    expect(file).toContain('CertificateExpiring');
    expect(file).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    const smtp = parts.controller.status().servers.find((x) => x.metadata.name === 'mail1')?.services.smtp?.certificate;
    expect(smtp).toMatchObject({ selfSigned: true, verified: false, stage: '7d', names: ['mail1.lab.test', '10.231.140.11'], checkedName: 'mail1.lab.test' });
    expect(smtp?.nameError).toBeUndefined();
  });

  test('from the trusted CA, expired yesterday: CertificateExpired, the chain otherwise good', async () => {
    expect(conditionsOf('mail2')).toEqual({ CertificateExpiring: 'True/CertificateExpired', CertificateInvalid: 'True/CertificateExpired' });
    const imaps = parts.controller.status().servers.find((x) => x.metadata.name === 'mail2')?.services.imaps?.certificate;
    expect(imaps).toMatchObject({ selfSigned: false, chainError: 'CERT_HAS_EXPIRED', issuer: 'CN=mamori lab CA', stage: 'expired' });
  });

  test('one mail per threshold per certificate, whatever the number of passes and ports', async () => {
    await parts.controller.reconcileOnce();
    // A certificate's mail is queued after its status file is written, beside the pass (not awaited
    // by it): send until the outbox holds what it will hold; a second mail of a kind would still show.
    const sentKinds = async (): Promise<string[]> => {
      await parts.outbox.runOnce();
      const sent = (await readdir(join(work, 'state', 'outbox', 'sent'))).filter((f) => f.endsWith('.json'));
      const ids = await Promise.all(sent.map(async (f) => (JSON.parse(await readFile(join(work, 'state', 'outbox', 'sent', f), 'utf8')) as { notification?: { id: string; kind: string }; id?: string; kind?: string })));
      return ids.map((r) => {
        const n = r.notification ?? (r as { id: string; kind: string });
        return `${n.kind} ${n.id.replace(/:[0-9A-F]{16}:/, ':FP:')}`;
      }).sort();
    };
    await expect.poll(async () => (await sentKinds()).length, { timeout: 10_000, interval: 200 }).toBeGreaterThanOrEqual(3);
    await parts.controller.reconcileOnce();
    const kinds = await sentKinds();
    expect(kinds).toEqual([
      'certificate-expiring cert:mail1:FP:7d',
      'certificate-expiring cert:mail2:FP:expired',
      'certificate-invalid cert:mail1:FP:invalid',
    ]);
    const eml = (await readdir(join(work, 'state', 'outbox', 'sent'))).filter((f) => f.endsWith('.eml'));
    const texts = await Promise.all(eml.map((f) => readFile(join(work, 'state', 'outbox', 'sent', f), 'utf8')));
    const seven = texts.find((t) => t.includes('expires in 5 days'));
    expect(seven).toBeDefined();
    // One mail names every port that presents the certificate.
    for (const port of [':25 (STARTTLS)', ':465 (TLS)', ':110 (STARTTLS)', ':995 (TLS)', ':143 (STARTTLS)', ':993 (TLS)']) expect(seven).toContain(port);
  });

  test('the metric: notAfter per server and service', async () => {
    const metrics = new MamoriMetrics({ defaultMetrics: false });
    metrics.setCertificateSource(() => parts.controller.certificateExpiries());
    const text = await metrics.text();
    const series = text.split('\n').filter((l) => l.startsWith('mamori_tls_certificate_expiry_timestamp_seconds{'));
    expect(series).toHaveLength(12);
    const mail1 = series.find((l) => l.includes('server="acme/mail1",service="smtps"'));
    const value = Number(mail1?.split(' ')[1]);
    expect(value * 1000 - Date.now()).toBeGreaterThan(5 * DAY - 60_000);
    expect(value * 1000 - Date.now()).toBeLessThan(5 * DAY + 3_600_000);
  });
});
