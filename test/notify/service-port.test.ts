/**
 * A mail names the port the service is really watched on: an access-blocked mail for HTTP on
 * 18081 tells the customer to open 18081, not 80 (both languages); a standard port stays as it was.
 */
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { buildIncidentNotification } from '../../src/reconcile/notifications.ts';
import { render } from '../../src/notify/render.ts';
import type { ServerDocument } from '../../src/manifest/types.ts';
import type { Incident } from '../../src/reconcile/types.ts';

const T = Date.parse('2026-11-25T01:00:00Z');

function doc(services: string, locale: 'ja' | 'en', access = ''): ServerDocument {
  return parse(`apiVersion: mamori/v1
kind: Server
metadata: { name: web01, customer: acme }
spec:
  address: 203.0.113.10
  os: { family: centos, version: "5.4" }
  plan: basic
  contact: { email: ops@acme.example, locale: ${locale} }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: ${services}
  access: { user: mamori, hostKey: "SHA256:n5b4EE+KUGOtL6UdDkL/CCe7RFkrTSLS1mNAdXJPHyE", credentials: { secretRef: acme-web01 }${access} }
`) as ServerDocument;
}

function mail(d: ServerDocument, service: 'http' | 'ssh'): { text: string; html: string } {
  const incident: Incident = { id: `web01.${service}.x`, server: 'web01', target: service, openedAt: T - 60_000, detectedAt: T - 65_000, attempts: [], notified: [] };
  const n = buildIncidentNotification('access-blocked', `${incident.id}:access-blocked`, 'RemoteAccessBlocked', {
    doc: d,
    service,
    incident,
    history: undefined,
    now: T,
    managementNetworks: ['210.224.172.0/24', '210.188.224.0/24'],
  });
  const r = render(n, { messageIdDomain: 'mamori.example.net' });
  return { text: r.text, html: r.html };
}

describe('the mail names the real port', () => {
  test.each(['en', 'ja'] as const)('HTTP on 18081 (%s): the mail says 18081/tcp and never 80/tcp', (locale) => {
    const m = mail(doc('[ping, { http: { port: 18081 } }, ssh]', locale), 'http');
    expect(m.text).toContain('HTTP (18081/tcp)');
    expect(m.text).not.toContain('80/tcp)');
    expect(m.html).toContain('HTTP (18081/tcp)');
  });

  test('SSH on the access port the manifest sets', () => {
    expect(mail(doc('[ping, http, ssh]', 'en', ', port: 2222'), 'ssh').text).toContain('SSH (2222/tcp)');
  });

  test('a standard port is named as before', () => {
    const m = mail(doc('[ping, http, ssh]', 'en'), 'http');
    expect(m.text).toContain('HTTP (80/tcp)');
  });
});
