/**
 * test/lab/README.md keeps a row per standard runbook: the lab variant it runs on and the test
 * that proves it there. A runbook added to manifests/operator/runbooks without a row fails here,
 * and so does a row whose test file does not exist or never names its runbook.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNBOOKS = `${ROOT}manifests/operator/runbooks/`;

function rows(): Map<string, string[]> {
  const readme = readFileSync(`${ROOT}test/lab/README.md`, 'utf8');
  const start = readme.indexOf('## Every standard runbook on a host of its kind');
  expect(start).toBeGreaterThan(-1);
  const table = readme.slice(start).split('\n').filter((l) => /^\| std-/.test(l));
  const out = new Map<string, string[]>();
  for (const line of table) {
    const cells = line.split('|').map((c) => c.trim());
    const name = cells[1] ?? '';
    const proof = cells[3] ?? '';
    expect(out.has(name), `two rows for ${name}`).toBe(false);
    out.set(name, proof.includes('not proven yet') ? [] : [...proof.matchAll(/`([^`]+\.test\.ts)`/g)].map((m) => m[1] ?? ''));
  }
  return out;
}

describe('the runbook table of the lab README', () => {
  const names = readdirSync(RUNBOOKS).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, '')).sort();

  test('has a row for every standard runbook, and none for a runbook that is gone', () => {
    const table = rows();
    expect(names.length).toBeGreaterThanOrEqual(23);
    for (const n of names) expect(table.has(n), `test/lab/README.md has no row for ${n}`).toBe(true);
    expect([...table.keys()].sort()).toEqual(names);
  });

  test("each proof names an existing test file that names the runbook", () => {
    for (const [name, tests] of rows()) {
      for (const t of tests) {
        expect(existsSync(`${ROOT}${t}`), `${name}: ${t} does not exist`).toBe(true);
        expect(readFileSync(`${ROOT}${t}`, 'utf8'), `${name}: ${t} never names it`).toContain(`'${name}'`);
      }
    }
  });
});
