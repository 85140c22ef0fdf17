/**
 * The time budget: a document whose commands are not parsed within it is refused as
 * policy-timeout at the command's line, the worker parsing it is ended, and the next
 * document is parsed by a new worker. Never a hang.
 */
import { afterAll, describe, expect, test } from 'vitest';
import type { RunbookDocument } from '../../src/manifest/types.ts';
import { customRunbookCommands, lintRunbook } from '../../src/runbook/policy.ts';
import { ShellParserPool } from '../../src/runbook/shell-parser-pool.ts';
import { loadedFromYaml, policy } from './operator-docs.ts';

const FILE = 'customers/acme/runbooks/acme-httpd.yaml';
// Long enough to take well over a few milliseconds on any machine: 330 commands and a pipeline of 150.
const HEAVY = `${'true; '.repeat(170)}${'cat | '.repeat(150)}cat`.slice(0, 2000);
const pool = new ShellParserPool({ budgetMs: 3 });
afterAll(() => pool.close());

function runbook(first: string, second: string): string {
  return `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  steps:
    - check: { process: httpd }
    - run: { command: ${JSON.stringify(first)} }
    - run: { command: ${JSON.stringify(second)} }
    - verify: { process: httpd }
`;
}

describe('a document over its time budget', () => {
  test('is refused as policy-timeout at the line of the command, and the pool goes on with a new worker', async () => {
    const doc = loadedFromYaml<RunbookDocument>(runbook(HEAVY, '/etc/init.d/httpd restart'), FILE, { kind: 'customer', customer: 'acme' });
    // Warm the worker first, so the budget meets the parse and not the start.
    await pool.parse([{ key: 'warm', texts: ['true'] }]);
    const started = performance.now();
    const outcomes = await pool.parse([{ key: FILE, texts: customRunbookCommands(doc.doc) }]);
    // Bounded by the budget and a worker start (when the warm-up itself ran over its 3 ms), never by the parse.
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(outcomes.get(HEAVY)).toEqual({ timeout: 3 });
    const findings = lintRunbook(doc, policy(), (t) => outcomes.get(t));
    expect(findings.map((f) => [f.rule, f.line, f.field])).toEqual([
      ['policy-timeout', 8, 'spec.steps[1].run.command'],
      ['policy-timeout', 9, 'spec.steps[2].run.command'],
    ]);
    expect(findings[0]?.message).toBe('refused: judging this command took longer than its time budget (3 ms): write it as shorter, plainer commands');
    // The next document gets a fresh worker (a generous budget now: the worker starts first).
    const next = new ShellParserPool({ budgetMs: 20_000 });
    try {
      const again = await next.parse([{ key: 'next', texts: ['rm -rf /'] }]);
      expect(again.get('rm -rf /')).toMatchObject({ parsed: { commands: [expect.objectContaining({ source: 'rm -rf /' })] } });
    } finally {
      await next.close();
    }
    const recovered = await pool.parse([{ key: 'after', texts: ['true'] }]);
    expect(recovered.get('true')).toBeDefined();
  }, 120_000);
});
