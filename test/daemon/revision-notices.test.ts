/**
 * The source reports a revision's problems as data (file, line, field of each finding); the
 * daemon's side words them as operator notifications — to mail.operator, or addressed to '' when
 * only webhooks take operator events, or to nobody.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { revisionNotifications, tellRevisionProblem } from '../../src/daemon/revision-notices.ts';
import { silentLogger } from '../../src/log.ts';
import type { Notification } from '../../src/notify/types.ts';
import { DesiredState, type RevisionProblem } from '../../src/source/desired.ts';
import { serverPath, serverYaml } from '../source/git-fixture.ts';
import { realValidate } from '../source/harness.ts';

const CATALOG = readFileSync(new URL('../../manifests/operator/catalog.yaml', import.meta.url), 'utf8');
const BROKEN_CATALOG = 'apiVersion: mamori/v1\nkind: Catalog\nspec: [this is not a catalog\n';

async function refusedProblem(): Promise<RevisionProblem[]> {
  const problems: RevisionProblem[] = [];
  const desired = new DesiredState({
    validate: realValidate,
    sink: { setDesired: () => undefined },
    holds: { maxRemovedFraction: 0.5, holdRollbacks: true },
    logger: silentLogger(),
    onProblem: async (p) => void problems.push(p),
  });
  await desired.apply({ revision: 'a'.repeat(40), digest: 'd1', files: [{ path: serverPath('web01'), content: serverYaml('web01') }, { path: 'operator/catalog.yaml', content: CATALOG }], errors: [] });
  const outcome = await desired.apply({
    revision: 'b'.repeat(40),
    digest: 'd2',
    files: [
      { path: serverPath('web01'), content: serverYaml('web01') },
      { path: 'operator/catalog.yaml', content: BROKEN_CATALOG },
    ],
    errors: [],
  });
  expect(outcome).toMatchObject({ result: 'refused', reason: 'OperatorDocumentsInvalid' });
  // Told once: the same refused revision again is not a new problem.
  await desired.apply({ revision: 'b'.repeat(40), digest: 'd2', files: [{ path: 'operator/catalog.yaml', content: BROKEN_CATALOG }], errors: [] });
  return problems;
}

describe('revision problems, reported by the source and worded by the daemon', () => {
  it('the source reports a refused revision as data: each finding with its file, line and field', async () => {
    const problems = await refusedProblem();
    expect(problems).toHaveLength(1);
    const p = problems[0];
    if (p?.kind !== 'revision-refused') throw new Error(`expected a refused revision, got ${p?.kind ?? 'nothing'}`);
    expect(p.revision).toBe('b'.repeat(40));
    expect(p.keptRevision).toBe('a'.repeat(40));
    expect(p.findings.length).toBeGreaterThan(0);
    expect(p.findings[0]).toMatchObject({ file: 'operator/catalog.yaml', severity: 'error' });
    expect(typeof p.findings[0]?.line).toBe('number');
    expect(typeof p.findings[0]?.field).toBe('string');
  });

  it('words it for mail.operator, for webhooks only (addressed to nobody by mail), or not at all', async () => {
    const [p] = await refusedProblem();
    if (p === undefined) throw new Error('no problem reported');
    const toOperator = revisionNotifications(p, { operatorEmail: 'ops@hosting.example', source: 'git main' });
    expect(toOperator).toHaveLength(1);
    expect(toOperator[0]).toMatchObject({
      id: `revision-refused-${'b'.repeat(40)}`,
      kind: 'revision-refused',
      to: { email: 'ops@hosting.example' },
      facts: { revision: 'b'.repeat(40), source: 'git main', keptRevision: 'a'.repeat(40) },
    });
    const first = p.kind === 'revision-refused' ? p.findings[0] : undefined;
    expect(toOperator[0]?.kind === 'revision-refused' ? toOperator[0].facts.errors[0] : undefined).toEqual({ file: first?.file, line: first?.line, field: first?.field, message: first?.message });
    expect(revisionNotifications(p, { operatorEventsWithoutEmail: true }).map((n) => n.to.email)).toEqual(['']);
    expect(revisionNotifications(p, {})).toEqual([]);
  });

  it('a notification the outbox refuses is logged and does not stop the next one', async () => {
    const held: RevisionProblem = { kind: 'revision-held', revision: 'c'.repeat(40), reason: 'TooManyRemovals', message: 'removes 3 of 4', affected: ['acme/web01'], keptRevision: 'a'.repeat(40), since: '2030-01-01T00:00:00.000Z' };
    const queued: Notification[] = [];
    let calls = 0;
    const notify = async (n: Notification): Promise<void> => {
      calls += 1;
      if (calls === 1) throw new Error('outbox full');
      queued.push(n);
    };
    await tellRevisionProblem(held, { operatorEmail: 'ops@hosting.example' }, notify, silentLogger());
    await tellRevisionProblem(held, { operatorEmail: 'ops@hosting.example' }, notify, silentLogger());
    expect(queued.map((n) => [n.kind, n.id, n.occurredAt])).toEqual([['revision-held', `revision-held-${'c'.repeat(40)}`, '2030-01-01T00:00:00.000Z']]);
    expect(queued[0]?.kind === 'revision-held' ? queued[0].facts.releaseCommand : undefined).toBe(`mamori confirm ${'c'.repeat(40)}`);
  });
});
