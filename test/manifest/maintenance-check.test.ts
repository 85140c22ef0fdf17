/**
 * Maintenance windows and suspensions in a server manifest: each well formed and bounded, each
 * refusal naming the file, the line and the field.
 */
import { describe, expect, test } from 'vitest';
import { validateDocuments } from '../../src/manifest/validate-documents.ts';
import { readManifestTree, SHIPPED_OPERATOR_DIR } from '../../src/manifest/read-tree.ts';
import type { ManifestFile } from '../../src/manifest/types.ts';
import { config } from './helpers.ts';

const FILE = 'customers/acme/servers/web01.yaml';

function serverWith(extra: string): string {
  return `apiVersion: mamori/v1
kind: Server
metadata: { name: web01, customer: acme }
spec:
  address: 203.0.113.10
  os: { family: centos, version: "5.4" }
  plan: basic
  contact: { email: ops@acme.example }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: [ping, http, ssh]
  access: { user: mamori, hostKey: "SHA256:n5b4EE+KUGOtL6UdDkL/CCe7RFkrTSLS1mNAdXJPHyE", credentials: { secretRef: acme-web01 } }
${extra}`;
}

async function findingsOf(extra: string, policyPatch?: (yaml: string) => string): Promise<Array<{ line: number; field: string; rule: string; message: string }>> {
  const operator = (await readManifestTree('/nonexistent-root', { operatorDir: SHIPPED_OPERATOR_DIR })).files;
  const files: ManifestFile[] = operator.map((f) => (f.path === 'operator/policy.yaml' && policyPatch ? { ...f, content: policyPatch(typeof f.content === 'string' ? f.content : Buffer.from(f.content).toString('utf8')) } : f));
  const set = validateDocuments([...files, { path: FILE, content: serverWith(extra) }], { config });
  return set.findings.filter((f) => f.file === FILE && f.severity === 'error').map((f) => ({ line: f.line, field: f.field, rule: f.rule, message: f.message }));
}

describe('valid windows pass', () => {
  test.each([
    ['a one-time window', '  maintenance:\n    - { start: "2026-12-01T01:00:00+09:00", end: "2026-12-01T03:00:00+09:00", reason: disk swap }\n'],
    ['a recurring window in JST', '  maintenance:\n    - { schedule: "0 2 * * 0", durationMinutes: 120, timeZone: Asia/Tokyo, reason: weekly patching }\n'],
    ['a recurring window without a zone (UTC)', '  maintenance:\n    - { schedule: "30 3 1 * *", durationMinutes: 60 }\n'],
    ['suspend until a time', '  suspend: { until: "2026-12-24T00:00:00+09:00", reason: moving racks }\n'],
    ['suspend: true', '  suspend: true\n'],
  ])('%s', async (_name, extra) => {
    expect(await findingsOf(extra)).toEqual([]);
  });
});

describe('refused, with the line and the field', () => {
  test.each([
    { name: 'an end before the start', extra: '  maintenance:\n    - start: "2026-12-01T03:00:00Z"\n      end: "2026-12-01T01:00:00Z"\n', line: 14, field: 'spec.maintenance[0].end', says: /before or when it starts/ },
    { name: 'a one-time window longer than the policy allows', extra: '  maintenance:\n    - start: "2026-12-01T00:00:00Z"\n      end: "2026-12-08T00:00:00Z"\n', line: 14, field: 'spec.maintenance[0].end', says: /168 hours, longer than the 72 hours/ },
    { name: 'a recurring window longer than the policy allows', extra: '  maintenance:\n    - schedule: "0 0 * * *"\n      durationMinutes: 4321\n', line: 14, field: 'spec.maintenance[0].durationMinutes', says: /4321 minutes is longer than the 72 hours/ },
    { name: 'an unknown time zone', extra: '  maintenance:\n    - schedule: "0 0 * * *"\n      durationMinutes: 60\n      timeZone: Mars/Olympus\n', line: 15, field: 'spec.maintenance[0].timeZone', says: /Mars\/Olympus is not a time zone/ },
    { name: 'a schedule that is no cron expression', extra: '  maintenance:\n    - schedule: "99 0 * * *"\n      durationMinutes: 60\n', line: 13, field: 'spec.maintenance[0].schedule', says: /five-field cron/ },
    { name: 'once and recurring mixed', extra: '  maintenance:\n    - { start: "2026-12-01T00:00:00Z", end: "2026-12-01T01:00:00Z", schedule: "0 0 * * *", durationMinutes: 60 }\n', line: 13, field: 'spec.maintenance[0]', says: /not both/ },
    { name: 'a recurring window without its duration', extra: '  maintenance:\n    - { schedule: "0 0 * * *" }\n', line: 13, field: 'spec.maintenance[0]', says: /durationMinutes is missing/ },
    { name: 'a one-time window without its end', extra: '  maintenance:\n    - { start: "2026-12-01T00:00:00Z" }\n', line: 13, field: 'spec.maintenance[0]', says: /end is missing/ },
    { name: 'an empty window', extra: '  maintenance:\n    - { reason: nothing }\n', line: 13, field: 'spec.maintenance[0]', says: /needs start and end/ },
  ])('$name', async ({ extra, line, field, says }) => {
    const found = await findingsOf(extra);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ line, field, rule: 'maintenance-window' });
    expect(found[0]?.message).toMatch(says);
  });

  test('suspend until something that is not a time is a schema error on that field', async () => {
    const found = await findingsOf('  suspend: { until: tomorrow }\n');
    expect(found.map((f) => f.field)).toContain('spec.suspend.until');
  });

  test("the operator's policy sets the longest window", async () => {
    const extra = '  maintenance:\n    - { schedule: "0 0 * * *", durationMinutes: 180 }\n';
    expect(await findingsOf(extra)).toEqual([]);
    const strict = await findingsOf(extra, (y) => y.replace('spec:\n', 'spec:\n  maxMaintenanceHours: 2\n'));
    expect(strict.map((f) => f.message)).toEqual(['180 minutes is longer than the 2 hours the operator\'s policy allows for one window (operator/policy.yaml, maxMaintenanceHours): nothing is repaired during a window']);
  });
});
