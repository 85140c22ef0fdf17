/**
 * The fast path (js-yaml) must read every document it accepts exactly as yaml does,
 * and must leave to yaml everything that needs yaml's refusals.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fastParse } from '../../src/manifest/fast-parse.ts';
import { parseYaml } from '../../src/manifest/parse-yaml.ts';
import { REPO } from './helpers.ts';

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

describe('fastParse', () => {
  const files = ['manifests', 'examples', 'test/fixtures/invalid'].flatMap((d) => yamlFiles(join(REPO, d)));

  test('reads every repository document it accepts exactly as yaml does', () => {
    let accepted = 0;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const fast = fastParse(text);
      if (fast === undefined) continue;
      accepted++;
      const exact = parseYaml(text, f);
      expect(exact.findings.filter((x) => x.severity === 'error'), f).toEqual([]);
      expect(fast.value, f).toEqual(exact.value);
    }
    expect(accepted).toBeGreaterThan(40);
  });

  test.each([
    ['an anchor', 'a: &x 1\nb: *x\n'],
    ['a tag', 'a: !!str 1\n'],
    ['a duplicate key', 'a: 1\na: 2\n'],
    ['two documents', 'a: 1\n---\nb: 1\n'],
    ['an explicit key', '? a\n: 1\n'],
    ['deep nesting', `a: ${'['.repeat(40)}${']'.repeat(40)}\n`],
    ['a syntax error', 'a: [\n'],
  ])('leaves %s to yaml', (_what, text) => {
    expect(fastParse(text)).toBeUndefined();
  });

  test('the value types agree on the YAML 1.2 core scalars', () => {
    const text = 'a: yes\nb: on\nc: 0o17\nd: 0x1f\ne: 1.5e3\nf: ~\ng: "5.4"\nh: 5.10\ni: .inf\nj: 2026-01-31\nk: True\n';
    expect(fastParse(text)?.value).toEqual(parseYaml(text, 'f').value);
  });
});
