/**
 * The schemas are the documentation editors show while someone writes a PR: every
 * field has a title and a description (its own or its $ref's), and the generated
 * types are in step with them.
 */
import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './helpers.ts';

type Node = Record<string, unknown>;
const FILES = ['common', 'server', 'runbook', 'catalog', 'policy', 'config'];
const schemas = new Map(FILES.map((f) => [`${f}.schema.json`, JSON.parse(readFileSync(join(REPO, 'schemas', `${f}.schema.json`), 'utf8')) as Node]));

function resolveRef(ref: string, file: string): Node | undefined {
  const [target, pointer] = ref.split('#') as [string, string | undefined];
  const doc = schemas.get(target === '' ? file : target);
  let node: unknown = doc;
  for (const seg of (pointer ?? '').split('/').filter(Boolean)) node = (node as Node | undefined)?.[seg];
  return node as Node | undefined;
}

function documented(node: Node, file: string): boolean {
  if (typeof node.title === 'string' && typeof node.description === 'string') return true;
  if (typeof node.$ref === 'string') {
    const target = resolveRef(node.$ref, file);
    return target !== undefined && documented({ ...target, ...(typeof node.title === 'string' ? { title: node.title } : {}) }, file);
  }
  return false;
}

function undocumented(file: string): string[] {
  const out: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    const n = node as Node;
    for (const [k, v] of Object.entries((n.properties ?? {}) as Record<string, Node>)) {
      if (!documented(v, file)) out.push(`${path}.${k}`);
      walk(v, `${path}.${k}`);
    }
    for (const key of ['items', 'additionalProperties']) walk(n[key], `${path}[]`);
    for (const key of ['oneOf', 'allOf', 'anyOf']) if (Array.isArray(n[key])) (n[key] as unknown[]).forEach((b, i) => walk(b, `${path}/${key}/${i}`));
    for (const [k, v] of Object.entries((n.$defs ?? {}) as Record<string, Node>)) walk(v, `#/$defs/${k}`);
  };
  walk(schemas.get(file), '');
  return out;
}

describe('schemas', () => {
  test.each(FILES)('%s.schema.json: every field has a title and a description', (f) => {
    expect(undocumented(`${f}.schema.json`)).toEqual([]);
  });

  test('docs/reference.md is up to date with the schemas (scripts/gen-reference.mjs --check)', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/gen-reference.mjs'), '--check'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const md = readFileSync(join(REPO, 'docs/reference.md'), 'utf8');
    expect(md).toContain('| `spec.access.hostKey` | string (pattern) | yes |');
    expect(md).toContain('`owner-secret`');
    expect(readFileSync(join(REPO, 'README.md'), 'utf8')).toContain('docs/reference.md');
  });

  test('the generated types are up to date (scripts/gen-types.mjs --check)', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/gen-types.mjs'), '--check'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
