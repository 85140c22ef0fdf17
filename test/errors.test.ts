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
