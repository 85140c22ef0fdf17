/**
 * The review of customer commands: each command of the hostile corpus (the old regex
 * policy's catastrophic inputs, quoting and indirection bypasses, interpreters,
 * substitutions) parsed in the warm worker and judged against the shipped policy, as
 * `validate` does it. Time per command, from sending it to the worker to its findings.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { LoadedDocument, ReviewPolicyDocument, RunbookDocument } from '../src/manifest/types.ts';
import { customRunbookCommands, lintRunbook } from '../src/runbook/policy.ts';
import { ShellParserPool } from '../src/runbook/shell-parser-pool.ts';
import { HOSTILE_COMMANDS } from '../test/runbook/hostile-corpus.ts';

const ROUNDS = 5;

function runbook(command: string): LoadedDocument<RunbookDocument> {
  const doc: RunbookDocument = {
    apiVersion: 'mamori/v1',
    kind: 'Runbook',
    metadata: { name: 'acme-x', customer: 'acme' },
    spec: { services: ['http'], steps: [{ check: { process: 'httpd' } }, { run: { command } }, { verify: { process: 'httpd' } }] },
  };
  return { kind: 'Runbook', doc, file: 'customers/acme/runbooks/acme-x.yaml', owner: { kind: 'customer', customer: 'acme' }, positionOf: () => ({ line: 12, col: 9 }) };
}

export async function run(): Promise<void> {
  const policy = parse(readFileSync(new URL('../manifests/operator/policy.yaml', import.meta.url), 'utf8')) as ReviewPolicyDocument;
  const pool = new ShellParserPool({ budgetMs: 10_000 });
  try {
    const start = performance.now();
    await pool.parse([{ key: 'warm-up', texts: ['true'] }]);
    const startup = performance.now() - start;
    const times: Array<{ name: string; ms: number }> = [];
    let refused = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const h of HOSTILE_COMMANDS) {
        // A fresh text each round, so the parser's cache does not answer.
        const command = `${h.command}${round > 0 ? ` #${round}` : ''}`;
        const doc = runbook(command);
        const t0 = performance.now();
        const outcomes = await pool.parse([{ key: h.name, texts: customRunbookCommands(doc.doc) }]);
        const findings = lintRunbook(doc, policy, (t) => outcomes.get(t)).filter((f) => f.rule === h.finding);
        times.push({ name: h.name, ms: performance.now() - t0 });
        if (findings.length > 0) refused++;
      }
    }
    times.sort((a, b) => a.ms - b.ms);
    if (process.env.BENCH_POLICY_WORST) process.stdout.write(`${JSON.stringify(times.slice(-8))}\n`);
    const at = (q: number): number => (times[Math.min(times.length - 1, Math.floor(times.length * q))] as { ms: number }).ms;
    const worst = times[times.length - 1] as { name: string; ms: number };
    process.stdout.write(
      `policy: ${HOSTILE_COMMANDS.length} hostile commands x ${ROUNDS}: ${refused}/${times.length} refused as expected; per command parse+judge median ${at(0.5).toFixed(2)} ms, ` +
        `p95 ${at(0.95).toFixed(2)} ms, max ${worst.ms.toFixed(2)} ms (${worst.name}); worker start ${startup.toFixed(0)} ms\n`,
    );
  } finally {
    await pool.close();
  }
}
