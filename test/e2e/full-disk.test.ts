/**
 * The state folder fills up while a service is down (lab 50, issue 14): `mamori run` with its state
 * folder on a small tmpfs, filled to the last byte while the lab host's httpd is killed. The server
 * keeps being probed, /readyz says not ready, and no runbook step runs (nothing can take its
 * `started` record). Space freed → the repair happens, is journaled, and its e-mail reaches the
 * real SMTP server.
 */
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordsOf, startE2eFleet, type E2eFleet } from '../support/e2e-fleet.ts';

const WEB = 'acme-web';
const HANG_GUARD = 60_000;
let fleet: E2eFleet;

beforeAll(async () => {
  fleet = await startE2eFleet({ labId: 50, stateTmpfs: '8m', hosts: [{ name: WEB, variant: 'standard', manifest: { services: ['ping', 'http', 'ssh'], locale: 'en' } }] });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
});

/** Fills the file system holding `file` to its last byte: big writes, then smaller, down to one byte. */
async function fill(file: string): Promise<number> {
  const fh = await open(file, 'w');
  let total = 0;
  try {
    for (let size = 1 << 20; size >= 1; size = size >> 1) {
      const chunk = Buffer.alloc(size, 0x78);
      for (;;) {
        try {
          const { bytesWritten } = await fh.write(chunk);
          total += bytesWritten;
          if (bytesWritten < size) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    await fh.close();
  }
  return total;
}

async function lastProbeAt(service: string): Promise<number> {
  const s = await fleet.apiServer(WEB);
  return Date.parse(s?.services[service]?.lastProbe?.at ?? '') || 0;
}

describe('a full state disk', () => {
  it('keeps probing, is not ready, starts no runbook; once space returns the repair happens, is journaled and mailed', async () => {
    await expect.poll(() => ['ping', 'http', 'ssh'].map((s) => fleet.service(WEB, s)?.state), { timeout: HANG_GUARD, interval: 200 }).toEqual(['Healthy', 'Healthy', 'Healthy']);
    expect((await fleet.daemon.get('/readyz')).status).toBe(200);

    const filler = join(fleet.stateDir, 'filler');
    const filled = await fill(filler);
    expect(filled).toBeGreaterThan(1 << 20);
    const fullAt = Date.now();
    // Noticed by the daemon's own check, before anything needs the space.
    await expect.poll(async () => (await fleet.daemon.get('/readyz')).status, { timeout: HANG_GUARD, interval: 200 }).toBe(503);
    await fleet.lab.breakService(WEB, 'httpd');

    // Not ready, said where an operator looks, while probing goes on.
    const ready = (await fleet.daemon.get('/readyz')).json as { checks: Record<string, boolean> };
    expect(ready.checks.stateWritable).toBe(false);
    const api = (await fleet.daemon.get('/api/status')).json as { state?: { condition?: { type: string; status: string; reason: string } } };
    expect(api.state?.condition).toMatchObject({ type: 'StateWritable', status: 'False', reason: 'WriteFailed' });
    expect((await fleet.daemon.get('/metrics')).text).toMatch(/^mamori_state_writable 0$/m);
    const probedAt = await lastProbeAt('http');
    await expect.poll(() => lastProbeAt('http'), { timeout: HANG_GUARD, interval: 200 }).toBeGreaterThan(probedAt);
    // Several passes while full: not one runbook started (nothing could journal its `started`).
    await new Promise((r) => setTimeout(r, 6000));
    expect(await lastProbeAt('http')).toBeGreaterThan(fullAt);
    const whileFull = recordsOf(await fleet.journal(), WEB).filter((r) => Date.parse(r.ts) >= fullAt);
    expect(whileFull.filter((r) => r.type === 'started' || r.type === 'finished')).toEqual([]);
    expect(fleet.mails('recovered', WEB)).toHaveLength(0);
    expect(fleet.daemon.logs.some((l) => l.msg === 'state folder not writable')).toBe(true);

    // Space returns: the repair runs, is journaled (started before finished), and mailed.
    const freedAt = Date.now();
    await rm(filler);
    await expect.poll(async () => (await fleet.daemon.get('/readyz')).status, { timeout: HANG_GUARD, interval: 200 }).toBe(200);
    await expect
      .poll(async () => recordsOf(await fleet.journal(), WEB, 'http').some((r) => r.type === 'transition' && r.to === 'Recovered' && Number(r.at) >= freedAt), { timeout: HANG_GUARD, interval: 200 })
      .toBe(true);
    const after = recordsOf(await fleet.journal(), WEB, 'http').filter((r) => Date.parse(r.ts) >= fullAt);
    const started = after.findIndex((r) => r.type === 'started');
    const finished = after.findIndex((r) => r.type === 'finished');
    expect(started).toBeGreaterThanOrEqual(0);
    expect(finished).toBeGreaterThan(started);
    expect(Date.parse(after[started]?.ts ?? '')).toBeGreaterThanOrEqual(freedAt);
    expect(after[finished]).toMatchObject({ verdict: 'Recovered' });
    await expect.poll(() => fleet.mails('recovered', WEB).length, { timeout: 30_000, interval: 200 }).toBe(1);
    expect((await fleet.daemon.get('/metrics')).text).toMatch(/^mamori_state_unwritten\{kind="status"\} 0$/m);
  }, 240_000);
});
