import { describe, expect, test } from 'vitest';
import type { LoadedDocument, RunbookDocument, ServerDocument } from '../../src/manifest/types.ts';
import { computePlan, type PlanSide } from '../../src/plan/compute.ts';
import { formatPlan } from '../../src/plan/format.ts';
import { unifiedDiff } from '../../src/plan/unified-diff.ts';
import { server, standardRunbookFiles, standardRunbooks } from '../runbook/operator-docs.ts';

const at = (): { line: number; col: number } => ({ line: 1, col: 1 });

function side(label: string, servers: ServerDocument[], runbooks: RunbookDocument[]): PlanSide {
  const files = standardRunbookFiles();
  return {
    label,
    servers: new Map(servers.map((s) => [s.metadata.name, { kind: 'Server', doc: s, file: `customers/acme/servers/${s.metadata.name}.yaml`, owner: { kind: 'customer', customer: 'acme' }, positionOf: at } as LoadedDocument<ServerDocument>])),
    runbooks: new Map(runbooks.map((r, i) => [r.metadata.name, { kind: 'Runbook', doc: r, file: `operator/runbooks/${files[i] ?? r.metadata.name}`, owner: { kind: 'operator' }, positionOf: at } as LoadedDocument<RunbookDocument>])),
    findings: [],
  };
}

describe('unifiedDiff', () => {
  test.each([
    [['a', 'b', 'c'], ['a', 'b', 'c'], []],
    [[], ['x'], ['@@ -0,0 +1,1 @@', '+x']],
    [['x'], [], ['@@ -1,1 +0,0 @@', '-x']],
    [['a', 'b', 'c'], ['a', 'B', 'c'], ['@@ -1,3 +1,3 @@', ' a', '-b', '+B', ' c']],
    [
      ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'],
      ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'],
      ['@@ -1,3 +1,4 @@', '+0', ' 1', ' 2', ' 3', '@@ -8,3 +9,4 @@', ' 8', ' 9', ' 10', '+11'],
    ],
  ])('%j → %j', (a, b, expected) => {
    expect(unifiedDiff(a, b)).toEqual(expected);
  });
});

describe('a change that reaches the whole fleet still fits a pull-request comment', () => {
  test('2,000 servers whose standard runbook changed: markdown under 65,536 characters, JSON complete', () => {
    const fleet = Array.from({ length: 2000 }, (_, i) => server({ family: 'centos', version: '5.4' }, { address: `203.0.113.${i % 250}` }, `web${i}`));
    const before = standardRunbooks();
    const after = before.map((r) =>
      r.metadata.name === 'std-httpd-el-sysv'
        ? { ...r, spec: { ...r.spec, steps: r.spec.steps.map((s) => (s.run === undefined ? s : { ...s, run: { ...s.run, command: '/etc/init.d/httpd graceful' } })) } }
        : r,
    );
    const plan = computePlan(side('before', fleet, before), side('after', fleet, after));
    expect(plan.runbooks).toEqual([expect.objectContaining({ name: 'std-httpd-el-sysv', change: 'changed' })]);
    expect(plan.runbooks[0]?.reaches).toHaveLength(4000);
    expect(plan.effective.unchanged).toBe(2000 * 7);
    const md = formatPlan(plan, 'markdown');
    expect(md.length).toBeLessThan(65_536);
    expect(md).toContain('… and 3960 more server services');
    expect((JSON.parse(formatPlan(plan, 'json')) as typeof plan).effective.changed).toHaveLength(4000);
  });
});
