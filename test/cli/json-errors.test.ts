/** Under --json an error is JSON too, with its code from the catalog; without it, text as before. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BIN } from '../daemon/daemon-process.ts';

async function mamori(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('--json errors', () => {
  it('a command error: one JSON line with the code, nothing else', async () => {
    const r = await mamori(['--config', '/nonexistent/mamori.yaml', 'status', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toEqual({ error: { code: 'MAMORI_CONFIG_UNREADABLE', message: expect.stringContaining('/nonexistent/mamori.yaml cannot be read') } });
  });

  it('a usage error: MAMORI_CLI_USAGE, exit 2, without the help text', async () => {
    const r = await mamori(['probe', '127.0.0.1', '--json', '--timeout', 'abc']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr)).toEqual({ error: { code: 'MAMORI_CLI_USAGE', message: '--timeout must be 1-600000 ms, got "abc"' } });
    const text = await mamori(['probe', '127.0.0.1', '--timeout', 'abc']);
    expect(text.stderr).toMatch(/^error: --timeout must be 1-600000 ms[^\n]*\n\nUsage: mamori probe/);
  });
});
