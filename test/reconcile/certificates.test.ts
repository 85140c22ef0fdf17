import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { silentLogger } from '../../src/log.ts';
import type { ServerDocument, ServiceName } from '../../src/manifest/types.ts';
import type { ProbeResult, TlsObservation } from '../../src/probe/types.ts';
import { certificateConditions, certificateFindings, expiryStage } from '../../src/reconcile/certificates.ts';
import type { Clock } from '../../src/reconcile/clock.ts';
import { Controller } from '../../src/reconcile/controller.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import { openJournal } from '../../src/status/journal.ts';
import { createStatusStore } from '../../src/status/store.ts';
import { RecordingNotifier, renderStub, ScriptedExecutor, serverDoc, tempStateDir } from './harness.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');

describe('expiry stages: the smallest threshold crossed, then expired', () => {
  test.each([
    [40, 'ok', undefined],
    [30.5, 'ok', undefined],
    [29.5, '30d', 30],
    [7.5, '30d', 30],
    [6.9, '7d', 7],
    [0.5, '7d', 7],
    [-0.1, 'expired', undefined],
    [-400, 'expired', undefined],
  ])('%s days left → %s', (days, stage, threshold) => {
    const e = expiryStage(T0 + days * DAY, T0, [30, 7]);
    expect(e.stage).toBe(stage);
    expect(e.thresholdDays).toBe(threshold);
  });
});

function tls(over: Partial<TlsObservation> = {}): TlsObservation {
  return { daysToExpiry: 0, selfSigned: false, authorized: true, fingerprint: 'AA:BB', notAfter: new Date(T0 + 60 * DAY).toISOString(), names: ['mail.acme.example'], ...over };
}

describe('conditions', () => {
  const at = (t: TlsObservation) => ({ up: true, at: T0, latencyMs: 1, tls: t });
  test.each([
    ['a good certificate', tls(), ['False', 'NotExpiring'], ['False', 'Verified']],
    ['5 days left', tls({ notAfter: new Date(T0 + 5 * DAY).toISOString() }), ['True', 'ExpiresSoon'], ['False', 'Verified']],
    ['expired, from a CA', tls({ notAfter: new Date(T0 - DAY).toISOString(), authorized: false, chainError: 'CERT_HAS_EXPIRED' }), ['True', 'CertificateExpired'], ['True', 'CertificateExpired']],
    ['self-signed', tls({ selfSigned: true, authorized: false, chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), ['False', 'NotExpiring'], ['True', 'SelfSigned']],
    ['an intermediate missing', tls({ authorized: false, chainError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), ['False', 'NotExpiring'], ['True', 'Untrusted']],
    ['another name', tls({ authorized: false, nameError: 'x is not among the names' }), ['False', 'NotExpiring'], ['True', 'NameMismatch']],
  ])('%s', (_name, t, expiring, invalid) => {
    const c = certificateConditions(certificateFindings(['smtp'], { smtp: at(t) }, { warningDays: [30, 7] }, T0));
    expect(c.map((x) => [x.type, x.status, x.reason])).toEqual([
      ['CertificateExpiring', ...expiring],
      ['CertificateInvalid', ...invalid],
    ]);
  });
});

/** A clock the test sets; no timer ever fires (passes are run by reconcileOnce). */
class SetClock implements Clock {
  t = T0;
  now = (): number => this.t;
  setTimeout = (): unknown => 0;
  clearTimeout = (): void => undefined;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('controller: a certificate is a condition and a mail, never a Down or a runbook', () => {
  test('thresholds 30 and 7 then expiry: one mail each, the service Healthy throughout; a renewed certificate clears it', async () => {
    const state = await tempStateDir();
    cleanup.push(() => rm(state, { recursive: true, force: true }));
    const journal = await openJournal(state);
    cleanup.push(() => journal.close());
    const clock = new SetClock();
    const certs: Partial<Record<ServiceName, TlsObservation>> = {
      smtp: tls({ fingerprint: 'AA:AA:AA:AA:AA:AA:AA:AA:01', notAfter: new Date(T0 + 40 * DAY).toISOString() }),
      imaps: tls({ fingerprint: 'BB:BB:BB:BB:BB:BB:BB:BB:02', notAfter: new Date(T0 + 400 * DAY).toISOString(), selfSigned: true, authorized: false, chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    };
    const probe = async (doc: ServerDocument, service: ServiceName): Promise<ProbeResult> => {
      const t = certs[service];
      return { service, target: `${doc.spec.address}:25`, up: true, latencyMs: 1, startedAt: new Date(clock.t).toISOString(), ...(t !== undefined ? { tls: t } : {}) };
    };
    const notifier = new RecordingNotifier();
    const executor = new ScriptedExecutor();
    const controller = new Controller({
      policy: policyFromConfig({ probe: { failuresToDown: 2 } }),
      probe,
      executor,
      renderRunbook: renderStub,
      notifier,
      store: createStatusStore(state),
      journal,
      logger: silentLogger(),
      clock,
      certificates: { warningDays: [30, 7] },
    });
    cleanup.push(() => controller.stop({ deadlineMs: 1000 }));
    const doc = serverDoc('mail01', '10.231.10.25', ['ping', 'smtp', 'imaps'], { services: ['ping', { smtp: { starttls: true } }, 'imaps'] });
    controller.setDesired('rev1', [doc]);
    await controller.start();

    const pass = async (atDays: number): Promise<void> => {
      clock.t = T0 + atDays * DAY;
      await controller.reconcileOnce();
      await controller.reconcileOnce();
      await new Promise((r) => setTimeout(r, 50));
    };
    const read = async (): Promise<Record<string, string>> => {
      const s = await createStatusStore(state).read('acme/mail01');
      return Object.fromEntries((s?.conditions ?? []).filter((c) => c.type.startsWith('Certificate')).map((c) => [c.type, `${c.status}/${c.reason}`]));
    };
    // The status file is written in the background after a pass: wait for what the controller holds.
    const conditions = async (): Promise<Record<string, string>> => {
      const want = JSON.stringify(Object.fromEntries((controller.status().servers[0]?.conditions ?? []).filter((c) => c.type.startsWith('Certificate')).map((c) => [c.type, `${c.status}/${c.reason}`])));
      for (let i = 0; i < 100 && JSON.stringify(await read()) !== want; i++) await new Promise((r) => setTimeout(r, 30));
      return read();
    };
    const mails = (): string[] => notifier.sent.map((n) => `${n.kind}:${n.id.split(':').slice(2).join(':')}`);

    await pass(0);
    expect(await conditions()).toEqual({ CertificateExpiring: 'False/NotExpiring', CertificateInvalid: 'True/SelfSigned' });
    expect(mails()).toEqual(['certificate-invalid:BBBBBBBBBBBBBBBB:invalid']);
    const status = await createStatusStore(state).read('acme/mail01');
    expect(status?.services.smtp).toMatchObject({ state: 'Healthy', certificate: { fingerprint: 'AA:AA:AA:AA:AA:AA:AA:AA:01', stage: 'ok', verified: true } });
    expect(status?.services.imaps).toMatchObject({ state: 'Healthy', certificate: { selfSigned: true, verified: false, chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });

    await pass(11); // 29 days left
    await pass(12);
    expect(await conditions()).toMatchObject({ CertificateExpiring: 'True/ExpiresSoon' });
    await pass(35); // 5 days left
    await pass(36);
    await pass(41); // expired a day ago
    await pass(42);
    expect(await conditions()).toEqual({ CertificateExpiring: 'True/CertificateExpired', CertificateInvalid: 'True/CertificateExpired' });
    expect(mails()).toEqual([
      'certificate-invalid:BBBBBBBBBBBBBBBB:invalid',
      'certificate-expiring:AAAAAAAAAAAAAAAA:30d',
      'certificate-expiring:AAAAAAAAAAAAAAAA:7d',
      'certificate-expiring:AAAAAAAAAAAAAAAA:expired',
    ]);
    const expired = notifier.sent.find((n) => n.id.endsWith(':expired'));
    expect(expired).toMatchObject({ to: { email: 'ops@acme.example' }, service: 'smtp', facts: { endpoints: [{ service: 'smtp', target: '10.231.10.25:25', via: 'starttls' }], expired: true, daysLeft: -1 } });
    const s = await createStatusStore(state).read('acme/mail01');
    expect(Object.values(s?.services ?? {}).map((x) => x.state)).toEqual(['Healthy', 'Healthy', 'Healthy']);
    expect(executor.runs).toEqual([]);

    // The metric reads the same state.
    const metrics = new MamoriMetrics({ defaultMetrics: false });
    metrics.setCertificateSource(() => controller.certificateExpiries());
    const text = await metrics.text();
    expect(text).toContain(`mamori_tls_certificate_expiry_timestamp_seconds{server="acme/mail01",service="smtp"} ${(T0 + 40 * DAY) / 1000}`);
    expect(text).toMatch(/mamori_tls_certificate_expiry_timestamp_seconds\{server="acme\/mail01",service="imaps"\} \d+/);
    expect(text).not.toContain('service="ping"');

    // Renewed: the conditions clear, no mail.
    certs.smtp = tls({ fingerprint: 'CC:CC:CC:CC:CC:CC:CC:CC:03', notAfter: new Date(T0 + 400 * DAY).toISOString() });
    certs.imaps = tls({ fingerprint: 'DD:DD:DD:DD:DD:DD:DD:DD:04', notAfter: new Date(T0 + 400 * DAY).toISOString() });
    await pass(43);
    expect(await conditions()).toEqual({ CertificateExpiring: 'False/NotExpiring', CertificateInvalid: 'False/Verified' });
    expect(notifier.sent).toHaveLength(4);
  });
});
