/**
 * The Alertmanager client against a loopback HTTP server that records every post: an incident that
 * began and ended between two rounds (a repair faster than the rounds) still reaches Alertmanager,
 * firing once and then resolved, instead of falling between two samples of the state.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertmanagerClient, type AlertState } from '../../src/notify/alertmanager.ts';
import { createLogger } from '../../src/log.ts';

interface Posted {
  labels: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

let server: Server | undefined;
let client: AlertmanagerClient | undefined;

afterEach(async () => {
  await client?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  client = undefined;
  server = undefined;
});

async function recorder(): Promise<{ url: string; posts: Array<{ at: number; alerts: Posted[] }> }> {
  const posts: Array<{ at: number; alerts: Posted[] }> = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ at: Date.now(), alerts: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Posted[] });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return { url: `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`, posts };
}

const down: AlertState = {
  labels: { alertname: 'MamoriServiceDown', server: 'acme/web1', service: 'http', customer: 'acme', reason: 'Down', severity: 'warning' },
  startsAt: '2026-12-07T03:56:00.216Z',
};

describe('AlertmanagerClient', () => {
  it('an alert that held only between two rounds is posted firing, then resolved by the next round', async () => {
    const { url, posts } = await recorder();
    // Nothing holds whenever a round reads the state: the incident lies wholly between rounds.
    client = new AlertmanagerClient({ urls: [url], resendMs: 60_000, timeoutMs: 5000, collect: () => [], logger: createLogger({ level: 'silent' }) });
    client.start();
    client.nudge([down]);
    await expect.poll(() => posts.length, { timeout: 20_000, interval: 50 }).toBe(2);
    const [firing, resolved] = posts as [{ at: number; alerts: Posted[] }, { at: number; alerts: Posted[] }];
    expect(firing.alerts).toHaveLength(1);
    expect(firing.alerts[0]?.labels).toEqual(down.labels);
    expect(firing.alerts[0]?.startsAt).toBe(down.startsAt);
    expect(Date.parse(firing.alerts[0]?.endsAt ?? '')).toBeGreaterThan(firing.at);
    expect(resolved.alerts).toHaveLength(1);
    expect(resolved.alerts[0]?.labels).toEqual(down.labels);
    expect(Date.parse(resolved.alerts[0]?.endsAt ?? '')).toBeLessThanOrEqual(resolved.at);
    // Resolved soon after (one minimum gap), not a whole resend interval later.
    expect(resolved.at - firing.at).toBeLessThan(30_000);
    // And nothing more: once resolved and delivered, it is not posted again.
    await client.sendNow();
    expect(posts).toHaveLength(2);
  });

  it('an alert that still holds at the round is posted once as firing, not twice', async () => {
    const { url, posts } = await recorder();
    let holding: AlertState[] = [down];
    client = new AlertmanagerClient({ urls: [url], resendMs: 60_000, timeoutMs: 5000, collect: () => holding, logger: createLogger({ level: 'silent' }) });
    client.nudge([down]); // before start: nothing is kept
    client.start();
    await expect.poll(() => posts.length, { timeout: 20_000, interval: 50 }).toBe(1);
    client.nudge([down]); // already posted: the next round's collect decides
    holding = [];
    await expect.poll(() => posts.length, { timeout: 20_000, interval: 50 }).toBe(2);
    expect(posts.map((p) => p.alerts.length)).toEqual([1, 1]);
    expect(Date.parse(posts[1]?.alerts[0]?.endsAt ?? '')).toBeLessThanOrEqual(posts[1]?.at ?? 0);
  });
});
