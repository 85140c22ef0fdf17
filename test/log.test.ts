import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';

describe('log lines', () => {
  it('carry ISO 8601 UTC time (as the journal shows it), a constant message and fields', async () => {
    const out = new PassThrough();
    const logger = createLogger({ level: 'info', destination: out });
    logger.info({ server: 'acme-web1' }, 'probe failed');
    const line = JSON.parse(await new Promise<string>((resolve) => out.once('data', (d: Buffer) => resolve(d.toString())))) as Record<string, unknown>;
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(String(line.time)) - Date.now())).toBeLessThan(60_000);
    expect(line).toMatchObject({ level: 30, msg: 'probe failed', server: 'acme-web1', name: 'mamori' });
  });

  it('an empty MAMORI_LOG_LEVEL is the default level (mamori agent died on it: "default level: must be included in custom levels")', () => {
    const before = process.env.MAMORI_LOG_LEVEL;
    process.env.MAMORI_LOG_LEVEL = '';
    try {
      expect(createLogger({ destination: new PassThrough() }).level).toBe('info');
      process.env.MAMORI_LOG_LEVEL = 'debug';
      expect(createLogger({ destination: new PassThrough() }).level).toBe('debug');
    } finally {
      if (before === undefined) delete process.env.MAMORI_LOG_LEVEL;
      else process.env.MAMORI_LOG_LEVEL = before;
    }
  });
});
