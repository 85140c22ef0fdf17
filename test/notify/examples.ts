/**
 * One notification of every kind, with fixed times and ids: the reviewed fixtures in
 * test/fixtures/email/ are these, rendered. Times are UTC; the messages show them in JST.
 */
import type { Locale, Notification, NotificationKind } from '../../src/notify/types.ts';

export const FIXED_DOMAIN = 'mamori.example.net';
export const FIXED_ROOT = '<inc-20261126-0001=3Adetected@mamori.example.net>';

const web01 = { name: 'web01', customer: 'acme', address: '203.0.113.10' };
const mail01 = { name: 'mail01', customer: 'acme', address: '203.0.113.25' };
const certificate = {
  endpoints: [
    { service: 'smtp' as const, target: '203.0.113.25:25', via: 'starttls' as const },
    { service: 'smtps' as const, target: '203.0.113.25:465', via: 'tls' as const },
  ],
  subject: 'CN=mail01.acme.example',
  issuer: 'C=JP, O=Example Trust, CN=Example Trust RSA CA',
  names: ['mail01.acme.example', 'mail.acme.example'],
  notAfter: '2026-11-30T23:59:59Z',
  fingerprint: '4F:2A:9C:1D:0B:7E:3A:55:C2:91:6E:0F:8B:44:D7:19:A3:5C:E8:02:7B:96:1F:C4:30:DA:85:6B:E1:09:72:BD',
  observedAt: '2026-11-25T19:00:00Z',
};
const incident = { id: 'inc-20261126-0001', openedAt: '2026-11-25T18:12:05Z' };
const customer = (locale: Locale) => ({ email: 'ops@acme.example', locale });
const operator = (locale: Locale) => ({ email: 'noc@provider.example', locale });

export function example(kind: Exclude<NotificationKind, 'digest'> | 'digest', locale: Locale): Notification {
  switch (kind) {
    case 'recovered':
      return {
        id: `${incident.id}:recovered`,
        kind,
        to: customer(locale),
        server: web01,
        service: 'http',
        incident: { ...incident, closedAt: '2026-11-25T18:16:40Z' },
        occurredAt: '2026-11-25T18:16:40Z',
        facts: {
          detectedAt: '2026-11-25T18:12:05Z',
          failure: { target: '203.0.113.10:80', kind: 'refused', message: 'connect ECONNREFUSED 203.0.113.10:80' },
          remedy: { type: 'restart-service', unit: 'httpd' },
          steps: [
            {
              type: 'check',
              title: { ja: 'httpd プロセスの稼働確認', en: 'Check that httpd is running' },
              command: 'ps ax -o pid,comm | grep httpd',
              outcome: 'failed',
              exitCode: 1,
              startedAt: '2026-11-25T18:15:51Z',
            },
            {
              type: 'run',
              title: { ja: 'httpd の再起動', en: 'Restart httpd' },
              command: '/etc/init.d/httpd restart',
              outcome: 'ok',
              exitCode: 0,
              output: 'Starting httpd:                                            [  OK  ]',
              startedAt: '2026-11-25T18:15:53Z',
            },
            {
              type: 'verify',
              title: { ja: 'httpd プロセスの稼働確認', en: 'Check that httpd is running' },
              command: 'ps ax -o pid,comm | grep httpd',
              outcome: 'ok',
              startedAt: '2026-11-25T18:16:01Z',
            },
          ],
          verification: { externalProbe: { target: '203.0.113.10:80', at: '2026-11-25T18:16:40Z' }, process: 'httpd', localConnect: true },
          recoveredAt: '2026-11-25T18:16:40Z',
          runbook: 'standard/http (centos 5)',
        },
      };
    case 'could-not-recover':
      return {
        id: `${incident.id}:could-not-recover`,
        kind,
        to: customer(locale),
        server: web01,
        service: 'http',
        incident,
        occurredAt: '2026-11-25T18:20:12Z',
        facts: {
          detectedAt: '2026-11-25T18:12:05Z',
          failure: { target: '203.0.113.10:80', kind: 'timeout', message: 'no answer to HEAD / within 5000 ms' },
          steps: [
            { type: 'check', title: { ja: 'httpd プロセスの稼働確認', en: 'Check that httpd is running' }, command: 'ps ax -o pid,comm | grep httpd', outcome: 'failed', exitCode: 1, startedAt: '2026-11-25T18:15:51Z' },
            {
              type: 'run',
              title: { ja: 'httpd の再起動', en: 'Restart httpd' },
              command: '/etc/init.d/httpd restart',
              outcome: 'failed',
              exitCode: 1,
              output: 'Starting httpd: (28)No space left on device: Couldn\'t create accept lock\n                                                           [FAILED]',
              startedAt: '2026-11-25T18:15:53Z',
            },
          ],
          reason: 'step-failed',
          stateNow: { up: false, checkedAt: '2026-11-25T18:20:10Z' },
          remediationHeld: true,
          runbook: 'standard/http (centos 5)',
        },
      };
    case 'access-blocked':
      return {
        id: `${incident.id}:access-blocked`,
        kind,
        to: customer(locale),
        server: web01,
        service: 'http',
        incident,
        occurredAt: '2026-11-25T18:14:30Z',
        facts: {
          detectedAt: '2026-11-25T18:12:05Z',
          external: { target: '203.0.113.10:80', kind: 'timeout', message: 'connect timeout after 5000 ms' },
          local: { command: 'curl -sI http://127.0.0.1/', result: 'HTTP/1.1 200 OK' },
          process: 'httpd',
          managementNetworks: ['210.224.172.0/24', '210.188.224.0/24'],
          sourceAddress: '210.224.172.21',
        },
      };
    case 'certificate-expiring':
      return {
        id: 'cert:mail01:smtp:4F2A9C1D0B7E3A55:7d',
        kind,
        to: customer(locale),
        server: mail01,
        service: 'smtp',
        occurredAt: '2026-11-25T19:00:00Z',
        facts: { ...certificate, daysLeft: 5, thresholdDays: 7, expired: false },
      };
    case 'certificate-invalid':
      return {
        id: 'cert:mail01:imaps:4F2A9C1D0B7E3A55:invalid',
        kind,
        to: customer(locale),
        server: mail01,
        service: 'imaps',
        occurredAt: '2026-11-25T19:00:00Z',
        facts: { ...certificate, issuer: 'CN=mail01.acme.example', endpoints: [{ service: 'imaps', target: '203.0.113.25:993', via: 'tls' }], problems: ['self-signed', 'name-mismatch'], chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT', checkedName: 'mail.acme.example' },
      };
    case 'not-ready':
      return {
        id: 'ready:web01:2026-11-26',
        kind,
        to: customer(locale),
        server: web01,
        occurredAt: '2026-11-25T19:00:00Z',
        facts: {
          checkedAt: '2026-11-25T19:00:00Z',
          checks: [
            { check: 'management-login', ok: true },
            { check: 'ssl-passphrase', ok: false, detail: 'httpd did not start with the registered pass phrase' },
            { check: 'bmc', ok: false, detail: 'no answer from 192.0.2.10 (RMCP+)' },
          ],
        },
      };
    case 'revision-refused':
      return {
        id: 'revision:3f9c2ab:refused',
        kind,
        to: operator(locale),
        occurredAt: '2026-11-25T18:30:00Z',
        facts: {
          revision: '3f9c2ab',
          source: 'git@git.provider.example:mamori/manifests.git (main)',
          errors: [
            { file: 'customers/acme/servers/web01.yaml', line: 9, field: 'spec.os.version', message: 'CentOS 3.9 is not in the catalog (CentOS 4 or later)' },
            { file: 'customers/acme/runbooks/acme-httpd.yaml', line: 14, field: 'spec.steps[2].run', message: 'a step may not run "rm"' },
          ],
          keptRevision: '9e8d7c6',
        },
      };
    case 'revision-held':
      return {
        id: 'revision:5b1e0d4:held',
        kind,
        to: operator(locale),
        occurredAt: '2026-11-25T18:31:00Z',
        facts: {
          revision: '5b1e0d4',
          reason: 'TooManyRemovals',
          message: 'removes 14 of 40 servers (35 %, the limit is 20 %)',
          affected: ['acme/web01', 'acme/web02', 'acme/mail01'],
          keptRevision: '9e8d7c6',
          releaseCommand: 'mamori approve 5b1e0d4',
        },
      };
    case 'change-refused':
      return {
        id: 'change-refused-3f9c2ab',
        kind,
        to: customer(locale),
        occurredAt: '2026-11-25T18:32:00Z',
        facts: {
          revision: '3f9c2ab41d0e',
          customer: 'acme',
          changes: [
            { file: 'customers/acme/runbooks/acme-httpd.yaml', commit: '7d41c0e9a2b85f3e6c1d0a9b8e7f6d5c4b3a2918', signature: 'good', signer: 'globex-dev', allowed: ['acme-dev', 'ops-alice'], kept: true },
            { file: 'customers/acme/servers/web02.yaml', commit: '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567', signature: 'unsigned', allowed: ['acme-dev', 'ops-alice'], kept: false },
          ],
        },
      };
    case 'provider-fault':
      return {
        id: 'readiness:acme/web01:SecretMissing:2026-11-25T19:00:00.000Z:provider-fault',
        kind,
        to: operator(locale),
        server: web01,
        occurredAt: '2026-11-25T19:00:00Z',
        facts: {
          origin: 'repair',
          cause: 'SecretMissing',
          message: 'spec.access.credentials: the secret acme-web01 does not resolve',
          since: '2026-11-25T19:00:00Z',
          services: ['http', 'https', 'smtp'],
        },
      };
    case 'provider-working':
      return {
        id: 'readiness:acme/web01:SecretMissing:2026-11-25T19:00:00.000Z:provider-working',
        kind,
        to: customer(locale),
        server: web01,
        occurredAt: '2026-11-25T19:00:00Z',
        facts: { origin: 'repair', since: '2026-11-25T19:00:00Z', services: ['http', 'https', 'smtp'] },
      };
    case 'readiness-restored':
      return {
        id: 'readiness:acme/web01:LoginRefused:2026-11-25T19:00:00.000Z:restored:customer',
        kind,
        to: customer(locale),
        server: web01,
        occurredAt: '2026-11-26T01:00:00Z',
        facts: { since: '2026-11-25T19:00:00Z', checkedAt: '2026-11-26T01:00:00Z' },
      };
    case 'mass-failure-paused':
      return {
        id: 'mass:203.0.113.0-24:2026-11-25T18:40:00Z',
        kind,
        to: operator(locale),
        occurredAt: '2026-11-25T18:40:00Z',
        facts: {
          scope: { kind: 'network', value: '203.0.113.0/24' },
          down: 12,
          total: 40,
          servers: ['acme/web01', 'acme/web02', 'beta/db01', 'gamma/www'],
          pausedAt: '2026-11-25T18:40:00Z',
          resumeCommand: 'mamori resume --network 203.0.113.0/24',
        },
      };
    case 'console-check-requested':
      return {
        id: `${incident.id}:console-check`,
        kind,
        to: operator(locale),
        server: web01,
        service: 'ping',
        incident,
        occurredAt: '2026-11-25T18:13:00Z',
        facts: {
          reason: 'ping-failed',
          since: '2026-11-25T18:12:05Z',
          console: { profile: 'dc1-ipmi', site: 'dojima', rack: 'A12' },
        },
      };
    case 'digest':
      return {
        id: 'digest:ops@acme.example|web01:2026-11-25T18:00:00Z',
        kind,
        to: customer(locale),
        server: web01,
        service: 'http',
        incident,
        occurredAt: '2026-11-25T19:00:00Z',
        facts: {
          windowStart: '2026-11-25T18:00:00Z',
          windowEnd: '2026-11-25T19:00:00Z',
          items: [
            { id: 'inc-20261126-0003:recovered', kind: 'recovered', service: 'http', occurredAt: '2026-11-25T18:21:40Z', incidentId: 'inc-20261126-0003' },
            { id: 'inc-20261126-0004:recovered', kind: 'recovered', service: 'http', occurredAt: '2026-11-25T18:25:10Z', incidentId: 'inc-20261126-0004' },
            { id: 'inc-20261126-0005:recovered', kind: 'recovered', service: 'http', occurredAt: '2026-11-25T18:31:02Z', incidentId: 'inc-20261126-0005' },
          ],
        },
      };
    case 'monthly-report':
      return {
        id: 'report:acme:2026-10:ops@acme.example',
        kind,
        to: customer(locale),
        occurredAt: '2026-11-01T00:00:00Z',
        facts: {
          month: '2026-10',
          customer: 'acme',
          periodStart: '2026-09-30T15:00:00.000Z',
          periodEnd: '2026-10-31T15:00:00.000Z',
          partial: false,
          servers: [
            {
              name: 'web01',
              services: [
                { service: 'ping', availability: 1, upSeconds: 2669400, downSeconds: 0, unknownSeconds: 7200 },
                { service: 'http', availability: 0.99861, upSeconds: 2665680, downSeconds: 3720, unknownSeconds: 7200 },
              ],
              incidents: [
                { id: 'inc-20261005-0001', target: 'http', openedAt: '2026-10-05T10:00:10Z', closedAt: '2026-10-05T10:02:00Z', closeReason: 'recovered', timeToRecoverySeconds: 110, verdicts: ['Recovered'], powerActions: 0 },
                { id: 'inc-20261020-0002', target: 'http', openedAt: '2026-10-20T12:00:10Z', closedAt: '2026-10-20T13:00:00Z', closeReason: 'recovered-by-itself', timeToRecoverySeconds: 3590, verdicts: ['StepFailed', 'Interrupted'], powerActions: 0 },
              ],
            },
          ],
        },
      };
  }
}
