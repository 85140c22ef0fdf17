/**
 * secretRef resolution: a file in the secrets folder, else MAMORI_SECRET_<NAME>;
 * a folder or file other users can read is refused; errors never carry the value.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSecret, secretEnvName } from '../../src/secrets/resolve-secret.ts';
import { MamoriError } from '../../src/errors.ts';

let dir: string;
let secretsDir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-secrets-'));
  secretsDir = join(dir, 'secrets');
  mkdirSync(secretsDir, { mode: 0o700 });
  chmodSync(secretsDir, 0o700);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function put(name: string, value: string, mode = 0o600): void {
  writeFileSync(join(secretsDir, name), value, { mode });
  chmodSync(join(secretsDir, name), mode);
}

async function failure(p: Promise<unknown>): Promise<MamoriError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MamoriError) return e;
    throw e;
  }
  throw new Error('expected a MamoriError');
}

describe('resolveSecret', () => {
  test('a file in the secrets folder, one trailing newline dropped', async () => {
    put('acme-web01', 'pass phrase\n');
    expect(await resolveSecret({ secretRef: 'acme-web01' }, { secretsDir }, { env: {} })).toBe('pass phrase');
  });

  test('else the environment: MAMORI_SECRET_<NAME>, hyphens as underscores', async () => {
    expect(secretEnvName('acme-web01-ssl')).toBe('MAMORI_SECRET_ACME_WEB01_SSL');
    expect(await resolveSecret('acme-web01-ssl', { secretsDir }, { env: { MAMORI_SECRET_ACME_WEB01_SSL: 'from-env' } })).toBe('from-env');
    // No secrets folder at all: the environment alone.
    expect(await resolveSecret('acme-x', { secretsDir: join(dir, 'none') }, { env: { MAMORI_SECRET_ACME_X: 'v' } })).toBe('v');
  });

  test('the file wins over the environment', async () => {
    put('acme-web01', 'file');
    expect(await resolveSecret('acme-web01', { secretsDir }, { env: { MAMORI_SECRET_ACME_WEB01: 'env' } })).toBe('file');
  });

  test('a secrets folder readable by group or others is refused (MAMORI_SECRET_UNSAFE)', async () => {
    put('acme-web01', 'hunter2');
    chmodSync(secretsDir, 0o750);
    const e = await failure(resolveSecret('acme-web01', { secretsDir }, { env: {} }));
    expect(e.code).toBe('MAMORI_SECRET_UNSAFE');
    expect(e.message).toContain('chmod 700');
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain('hunter2');
  });

  test('a secret file readable by others is refused', async () => {
    put('acme-web01', 'hunter2', 0o644);
    const e = await failure(resolveSecret('acme-web01', { secretsDir }, { env: {} }));
    expect(e.code).toBe('MAMORI_SECRET_UNSAFE');
    expect(e.message).not.toContain('hunter2');
  });

  test('missing everywhere: MAMORI_SECRET_MISSING naming where it looked', async () => {
    const e = await failure(resolveSecret('acme-none', { secretsDir }, { env: {} }));
    expect(e.code).toBe('MAMORI_SECRET_MISSING');
    expect(e.message).toContain('MAMORI_SECRET_ACME_NONE');
    expect(e.message).toContain(secretsDir);
  });

  test('a name with path syntax is refused before any file is opened', async () => {
    writeFileSync(join(dir, 'outside'), 'hunter2');
    const e = await failure(resolveSecret('../outside', { secretsDir }, { env: {} }));
    expect(e.code).toBe('MAMORI_SECRET_MISSING');
    expect(e.message).not.toContain('hunter2');
  });
});
