import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, MamoriError, isMamoriError } from '../src/errors.ts';

describe('error catalog', () => {
  it('names every code MAMORI_<AREA>_<DETAIL> with a sentence', () => {
    for (const [code, message] of Object.entries(ERROR_CATALOG)) {
      expect(code).toMatch(/^MAMORI_[A-Z]+_[A-Z_]+$/);
      expect(message.length).toBeGreaterThan(10);
    }
  });

  it('keeps the code and the cause', () => {
    const cause = new Error('disk full');
    const err = new MamoriError('MAMORI_STATE_LOCKED', undefined, { cause });
    expect(err.message).toBe(ERROR_CATALOG.MAMORI_STATE_LOCKED);
    expect(err.cause).toBe(cause);
    expect(isMamoriError(err, 'MAMORI_STATE_LOCKED')).toBe(true);
    expect(isMamoriError(err, 'MAMORI_CLI_USAGE')).toBe(false);
    expect(isMamoriError(new Error('x'))).toBe(false);
  });
});

describe('the catalog, the code and the README stay in step', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const sources = listTs(join(root, 'src')).filter((f) => !f.endsWith('/errors.ts'));
  const text = sources.map((f) => readFileSync(f, 'utf8')).join('\n');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');

  it.each(Object.keys(ERROR_CATALOG))('%s is raised somewhere in src/ and listed in the README', (code) => {
    expect(text).toContain(`'${code}'`);
    expect(readme).toContain(`| \`${code}\` | ${ERROR_CATALOG[code as keyof typeof ERROR_CATALOG]} |`);
  });
});

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTs(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}
