/**
 * The hostile corpus (hostile-corpus.ts) through the review as `validate` runs it: each
 * command refused, with the file, the line, the rule, the command as parsed and the
 * reason. The time each takes is measured by `npm run bench -- policy`.
 */
import { afterAll, describe, expect, test } from 'vitest';
import type { RunbookDocument } from '../../src/manifest/types.ts';
import { customRunbookCommands, lintRunbook } from '../../src/runbook/policy.ts';
import { ShellParserPool } from '../../src/runbook/shell-parser-pool.ts';
import { HOSTILE_COMMANDS } from './hostile-corpus.ts';
import { loadedFromYaml, policy } from './operator-docs.ts';

const POLICY = policy();
const FILE = 'customers/acme/runbooks/acme-httpd.yaml';
const parser = new ShellParserPool({ budgetMs: 20_000 });
afterAll(() => parser.close());

/** A custom runbook whose third step runs `command`: on line 12, or as a block scalar from line 13. */
function runbookWith(command: string): string {
  const value = command.includes('\n') ? `|-\n${command.split('\n').map((l) => `          ${l}`).join('\n')}` : JSON.stringify(command);
  return `apiVersion: mamori/v1
kind: Runbook
metadata:
  name: acme-httpd
  customer: acme
spec:
  services: [http]
  steps:
    - check: { process: httpd }
    - check: { localConnect: {} }
    - run:
        command: ${value}
    - verify: { process: httpd }
`;
}

describe('every hostile command is refused with its line, its rule, the command as parsed and the reason', () => {
  test.each(HOSTILE_COMMANDS.map((h) => [h.name, h] as const))('%s', async (_name, hostile) => {
    const doc = loadedFromYaml<RunbookDocument>(runbookWith(hostile.command), FILE, { kind: 'customer', customer: 'acme' });
    const outcomes = await parser.parse([{ key: FILE, texts: customRunbookCommands(doc.doc) }]);
    const findings = lintRunbook(doc, POLICY, (t) => outcomes.get(t));
    const mine = findings.filter((f) => f.rule === hostile.finding);
    expect(mine.length, JSON.stringify(findings)).toBeGreaterThanOrEqual(1);
    for (const f of findings) expect(['policy-forbidden-command', 'policy-unreviewable']).toContain(f.rule);
    expect(mine[0]).toMatchObject({ file: FILE, line: hostile.command.includes('\n') ? 13 : 12, field: 'spec.steps[2].run.command', severity: 'error' });
    if (hostile.finding === 'policy-forbidden-command') {
      const rule = hostile.rule as string;
      const reason = POLICY.spec.forbiddenCommands.find((r) => r.rule === rule)?.reason as string;
      const hit = mine.find((f) => f.message.startsWith(`refused by rule ${rule}: \``));
      expect(hit?.message, JSON.stringify(mine)).toMatch(/^refused by rule [a-z-]+: `[^\n]+`: /);
      expect(hit?.message.endsWith(reason)).toBe(true);
    } else {
      expect(mine[0]?.message).toMatch(/^refused as unreviewable: `[^\n]*`: .+; an operator may allow this exact command/);
      if (hostile.rule !== undefined) expect(mine[0]?.message).toContain(`rule ${hostile.rule} cannot be judged`);
    }
  });
});
