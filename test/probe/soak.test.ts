import { describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Soak {
  total: number;
  gc: boolean;
  counts: { up: number; down: number; kinds: Record<string, number> };
  before: { heap: number; tcp: number; timers: number; fds: number };
  after: { heap: number; tcp: number; timers: number; fds: number };
}

const script = fileURLToPath(new URL('./soak-run.ts', import.meta.url));

describe('100,000 probes leave nothing behind', () => {
  test('heap, sockets, timers and file descriptors back to where they were (up, protocol and refused paths)', async () => {
    // Its own process: --expose-gc for an honest heap figure, and handle counts nobody else shares.
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--expose-gc', '--import', 'tsx', script, '100000', '128', '210'], { timeout: 240_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`soak failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const soak = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Soak;
    expect(soak.gc).toBe(true);
    // 2,000 warm-up probes and 100,000 measured, a quarter on each path.
    expect(soak.counts).toEqual({ up: 25_500, down: 76_500, kinds: { 'protocol/dialog': 25_500, 'protocol/response': 25_500, 'refused/connect': 25_500 } });
    expect(soak.after.tcp).toBe(soak.before.tcp);
    expect(soak.after.timers).toBe(soak.before.timers);
    expect(soak.after.fds).toBe(soak.before.fds);
    // Generous: a leak of one small object per probe would be several MB over 100,000 probes.
    expect(soak.after.heap - soak.before.heap).toBeLessThan(4 * 1024 * 1024);
  }, 300_000);
});
