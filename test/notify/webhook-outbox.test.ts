/**
 * Webhooks through the durable outbox, against a real HTTP receiver (node:http) that verifies each
 * signature with the README's recipe: delivery, retries with backoff while the endpoint fails,
 * refusal without retry, a receiver that is down across a restart, duplicates only with the same
 * key, one endpoint never holding back another, and events chosen per endpoint.
 */
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventOfNotification, incidentOpenedEvent } from '../../src/notify/webhook-event.ts';
import { TeeNotifier, WebhookOutbox, type WebhookEndpoint } from '../../src/notify/webhook-outbox.ts';
import { signingKey, verifySignature } from '../../src/notify/webhook-signature.ts';
import type { Notification } from '../../src/notify/types.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { example } from './examples.ts';
import { captureLogger, manualClock, tempDir } from './helpers.ts';

const SECRET = 'a-signing-secret-of-32-bytes-abc';
let dir: string;
let cleanup: () => Promise<void>;
let clock: ReturnType<typeof manualClock>;
let receiver: WebhookReceiver;
const outboxes: WebhookOutbox[] = [];

function endpoint(over: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    name: 'noc',
    url: receiver.url,
    key: signingKey(SECRET),
    events: ['incident.opened', 'incident.escalated', 'incident.recovered', 'mass-failure.paused', 'revision.refused', 'revision.held'],
    timeoutMs: 5000,
    retry: { baseDelayMs: 1000, maxDelayMs: 8000, maxAgeMs: 3_600_000 },
    ...over,
  };
}

async function open(endpoints: WebhookEndpoint[], logger = captureLogger().logger): Promise<WebhookOutbox> {
  const o = await WebhookOutbox.open({ dir: path.join(dir, 'outbox', 'webhooks'), endpoints }, { logger, now: clock.now, random: () => 0.5 });
  outboxes.push(o);
  return o;
}

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  clock = manualClock();
  receiver = new WebhookReceiver(SECRET, () => clock.now());
  await receiver.start(0);
});

afterEach(async () => {
  for (const o of outboxes.splice(0)) await o.stop();
  await receiver.stop();
  await cleanup();
});

describe('webhook outbox', () => {
  it('posts the event signed (Standard Webhooks headers), on disk before notify resolves, and once per id', async () => {
    const o = await open([endpoint()]);
    const n = example('recovered', 'en');
    await o.notify(n);
    // Durable before any delivery: the pending record holds the exact body.
    const pending = await readdir(path.join(dir, 'outbox', 'webhooks', 'pending'));
    expect(pending).toHaveLength(1);
    await o.runOnce();
    expect(receiver.deliveries).toHaveLength(1);
    const d = receiver.deliveries[0]!;
    expect(d).toMatchObject({ verified: true, id: `${n.id}`, idempotencyKey: n.id, eventHeader: 'incident.recovered', status: 200 });
    expect(d.event).toMatchObject({ version: 1, id: n.id, type: 'incident.recovered', server: { name: 'web01', customer: 'acme' }, service: 'http', incident: { id: 'inc-20261126-0001' } });
    // mamori's own check agrees, and a tampered body does not verify.
    const headers = { id: d.id, timestamp: String(d.timestamp), signature: d.signature };
    expect(d.signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(verifySignature(signingKey(SECRET), headers, d.body, clock.now())).toBe(true);
    expect(verifySignature(signingKey(SECRET), headers, d.body.replace('recovered', 'rec0vered'), clock.now())).toBe(false);
    expect(verifySignature(signingKey('another-secret-of-enough-length'), headers, d.body, clock.now())).toBe(false);
    // Too old a timestamp is refused (replay).
    expect(verifySignature(signingKey(SECRET), headers, d.body, clock.now() + 301_000)).toBe(false);
    // No address, no command output in a chat-bound event.
    expect(d.body).not.toContain('203.0.113.10');
    expect(d.body).not.toContain('Starting httpd');
    // Told again (a replay after a crash): nothing new.
    await o.notify(n);
    await o.runOnce();
    expect(receiver.deliveries).toHaveLength(1);
    expect(await readdir(path.join(dir, 'outbox', 'webhooks', 'sent'))).toHaveLength(1);
  });

  it('retries a failing endpoint with backoff: every copy has the same id and body and a valid fresh signature', async () => {
    const { logger, lines } = captureLogger();
    const o = await open([endpoint()], logger);
    receiver.answers.push(503, 500);
    await o.enqueue(incidentOpenedEvent({ server: 'web01', customer: 'acme', service: 'http', incidentId: 'web01-http-1', openedAt: '2026-11-25T18:00:00Z' }));
    await o.runOnce();
    expect(receiver.deliveries.map((d) => d.status)).toEqual([503]);
    // Not due yet: nothing posted.
    clock.advance(100);
    await o.runOnce();
    expect(receiver.deliveries).toHaveLength(1);
    // Backoff: 1 s (jitter 0.5 → 750 ms), then 2 s (→ 1500 ms).
    clock.advance(1000);
    await o.runOnce();
    expect(receiver.deliveries.map((d) => d.status)).toEqual([503, 500]);
    clock.advance(1000);
    await o.runOnce();
    expect(receiver.deliveries).toHaveLength(2);
    clock.advance(1000);
    await o.runOnce();
    expect(receiver.deliveries.map((d) => d.status)).toEqual([503, 500, 200]);
    expect(new Set(receiver.deliveries.map((d) => d.id))).toEqual(new Set(['web01-http-1:opened']));
    expect(new Set(receiver.deliveries.map((d) => d.body)).size).toBe(1);
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
    expect(new Set(receiver.deliveries.map((d) => d.timestamp)).size).toBe(3);
    const retries = lines.filter((l) => l.msg === 'webhook endpoint did not take the event; will retry');
    expect(retries.map((l) => [l.err, l.delayMs])).toEqual([
      ['HTTP 503', 750],
      ['HTTP 500', 1500],
    ]);
    // The log names the endpoint, never its URL.
    expect(JSON.stringify(lines)).not.toContain(receiver.url);
    expect(o.stats()).toEqual([{ name: 'noc', pending: 0, sent: 1, failed: 0, lastSuccessAt: new Date(clock.now()).toISOString() }]);
  });

  it('a refusal (4xx, a redirect) is not retried: failed/, logged as an error', async () => {
    const { logger, lines } = captureLogger();
    const o = await open([endpoint()], logger);
    receiver.answers.push(401, 302);
    await o.notify(example('revision-refused', 'en'));
    await o.notify(example('revision-held', 'en'));
    await o.runOnce();
    clock.advance(60_000);
    await o.runOnce();
    expect(receiver.deliveries.map((d) => [d.event.type, d.status])).toEqual([
      ['revision.refused', 401],
      ['revision.held', 302],
    ]);
    expect(await readdir(path.join(dir, 'outbox', 'webhooks', 'failed'))).toHaveLength(2);
    expect(lines.filter((l) => l.msg === 'webhook event could not be delivered; moved to failed/').map((l) => l.err)).toEqual(['HTTP 401', 'HTTP 302 (redirects are not followed)']);
    expect(o.stats()[0]).toMatchObject({ pending: 0, failed: 2 });
  });

  it('receiver down, mamori restarted: the events arrive once it is back, with the same keys, in order', async () => {
    const o = await open([endpoint()]);
    const port = receiver.port;
    await receiver.stop();
    const events = [
      incidentOpenedEvent({ server: 'web01', customer: 'acme', service: 'http', incidentId: 'web01-http-7', openedAt: '2026-11-25T18:00:00Z' }),
      eventOfNotification(example('could-not-recover', 'en'))!,
    ];
    for (const e of events) await o.enqueue(e);
    await o.runOnce();
    expect(o.stats()[0]).toMatchObject({ pending: 2, lastError: 'ECONNREFUSED' });
    // The second waits behind the first: the endpoint is down, not the event.
    await o.stop();
    outboxes.splice(outboxes.indexOf(o), 1);

    await receiver.start(port);
    const again = await open([endpoint()]);
    await again.runOnce();
    expect(receiver.deliveries.map((d) => [d.id, d.event.type, d.verified])).toEqual([
      ['web01-http-7:opened', 'incident.opened', true],
      ['inc-20261126-0001:could-not-recover', 'incident.escalated', true],
    ]);
    // The same events told again after the restart (replay): no second delivery.
    for (const e of events) expect(await again.enqueue(e)).toBe(0);
  });

  it('a retried event is never overtaken by the next one, even when its backoff is over before the outcome is on disk', async () => {
    // Real timers and a 1 ms backoff: the endpoint's block has expired by the time the retry is
    // written (fsync), which once let the second event go first.
    for (let round = 0; round < 5; round++) {
      receiver.deliveries.length = 0;
      const sub = path.join(dir, `round-${round}`);
      const ep = endpoint({ retry: { baseDelayMs: 1, maxDelayMs: 1, maxAgeMs: 3_600_000 } });
      const o = await WebhookOutbox.open({ dir: sub, endpoints: [ep] }, { logger: captureLogger().logger });
      outboxes.push(o);
      receiver.answers.push(503, 503);
      await o.enqueue(incidentOpenedEvent({ server: 'web01', customer: 'acme', service: 'http', incidentId: `a${round}`, openedAt: '2026-11-25T18:00:00Z' }));
      await o.enqueue(incidentOpenedEvent({ server: 'web01', customer: 'acme', service: 'http', incidentId: `b${round}`, openedAt: '2026-11-25T18:00:00Z' }));
      o.start();
      await expect.poll(() => receiver.deliveries.filter((d) => d.status === 200).length, { timeout: 10_000, interval: 5 }).toBe(2);
      expect(receiver.deliveries.map((d) => `${d.id} ${d.status}`)).toEqual([`a${round}:opened 503`, `a${round}:opened 503`, `a${round}:opened 200`, `b${round}:opened 200`]);
      await o.stop();
    }
  });

  it('a crash after the receiver said 2xx but before it was recorded: posted again on restart with the same key', async () => {
    const o = await open([endpoint()]);
    await o.notify(example('recovered', 'en'));
    await o.runOnce();
    await o.stop();
    outboxes.splice(outboxes.indexOf(o), 1);
    // Put the state back to "sending", as a crash in that window leaves it.
    const base = path.join(dir, 'outbox', 'webhooks');
    const [name] = await readdir(path.join(base, 'sent'));
    const record = JSON.parse(await readFile(path.join(base, 'sent', name!), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(base, 'pending', name!), JSON.stringify({ ...record, state: 'sending' }));
    await rename(path.join(base, 'sent', name!), path.join(dir, 'set-aside.json'));
    const again = await open([endpoint()]);
    await again.runOnce();
    expect(receiver.deliveries).toHaveLength(2);
    expect(receiver.deliveries[1]!.id).toBe(receiver.deliveries[0]!.id);
    expect(receiver.deliveries[1]!.body).toBe(receiver.deliveries[0]!.body);
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
  });

  it('one endpoint down never holds back another; each endpoint gets only its events', async () => {
    const o = await open([endpoint({ name: 'down', url: 'http://127.0.0.1:9/nothing' }), endpoint({ name: 'chat', events: ['incident.escalated'] })]);
    await o.notify(example('recovered', 'en'));
    await o.notify(example('could-not-recover', 'en'));
    await o.runOnce();
    expect(receiver.deliveries.map((d) => d.event.type)).toEqual(['incident.escalated']);
    expect(o.stats()).toEqual([
      expect.objectContaining({ name: 'down', pending: 2, sent: 0 }),
      expect.objectContaining({ name: 'chat', pending: 0, sent: 1 }),
    ]);
  });

  it('the tee: mail and webhooks both queued; an operator event without an address goes to webhooks only', async () => {
    const o = await open([endpoint()]);
    const mailed: Notification[] = [];
    const tee = new TeeNotifier({ notify: async (n) => void mailed.push(n) }, o);
    await tee.notify(example('recovered', 'en'));
    const held = example('revision-held', 'en');
    await tee.notify({ ...held, to: { email: '' } } as Notification);
    await o.runOnce();
    expect(mailed.map((n) => n.kind)).toEqual(['recovered']);
    expect(receiver.deliveries.map((d) => d.event.type)).toEqual(['incident.recovered', 'revision.held']);
    // Customer-only kinds are not webhook events.
    expect(eventOfNotification(example('certificate-expiring', 'en'))).toBeUndefined();
  });
});
