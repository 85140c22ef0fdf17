/**
 * Durability: SMTP down during an incident, mamori restarted (a new Outbox on the same folder),
 * SMTP up → the message arrives exactly once. And the crash window between the relay's "250"
 * and the sent record: the message is sent again with the same Message-ID (at least once).
 */
import { readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/notify/outbox.ts';
import { NOTIFY_LOG } from '../../src/notify/log-messages.ts';
import { example } from './examples.ts';
import { captureLogger, manualClock, tempDir } from './helpers.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function freePort(): Promise<number> {
  const probe = await startSmtpSink();
  await probe.close();
  return probe.port;
}

async function sinkOn(port: number, options: Parameters<typeof startSmtpSink>[0] = {}): Promise<SmtpSink> {
  const sink = await startSmtpSink({ ...options, port });
  cleanups.push(() => sink.close());
  return sink;
}

async function folder() {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return dir;
}

function opts(dir: string, port: number, extra: Record<string, unknown> = {}) {
  return { dir, from: 'mamori@provider.example', smtp: { host: '127.0.0.1', port, timeoutMs: 2000 }, ...extra };
}

describe('outbox durability', () => {
  it('SMTP down, mamori restarted, SMTP up: the message arrives exactly once', async () => {
    const port = await freePort();
    const dir = await folder();
    const clock = manualClock();
    const first = captureLogger();
    const a = await Outbox.open(opts(dir, port), { logger: first.logger, now: clock.now, random: () => 0.5 });
    await a.notify(example('could-not-recover', 'ja'));
    // notify() resolved: the record is on disk before any attempt.
    expect(await readdir(path.join(dir, 'pending'))).toEqual(['inc-20261126-0001=3Acould-not-recover.json']);
    expect(await a.runOnce()).toMatchObject({ sent: 0, retried: 1 });
    expect(first.lines.some((l) => l.msg === NOTIFY_LOG.relayDown)).toBe(true);
    await a.runOnce(); // not due yet: the relay is held back, nothing is tried
    // "mamori restarted": the old instance is gone without a goodbye, a new one reads the folder.
    const second = captureLogger();
    clock.advance(60_000);
    const b = await Outbox.open(opts(dir, port), { logger: second.logger, now: clock.now, random: () => 0.5 });
    cleanups.push(() => b.stop());
    expect(b.stats()).toEqual({ pending: 1, folded: 0 });
    const sink = await sinkOn(port);
    expect(await b.runOnce()).toMatchObject({ sent: 1 });
    clock.advance(3_600_000);
    expect(await b.runOnce()).toMatchObject({ sent: 0, retried: 0 });
    // A third start finds nothing to send, and the same notification again is a no-op.
    const c = await Outbox.open(opts(dir, port), { logger: second.logger, now: clock.now });
    cleanups.push(() => c.stop());
    expect(await c.enqueue(example('could-not-recover', 'ja'))).toBe('duplicate');
    expect(await c.runOnce()).toMatchObject({ sent: 0 });
    await sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]?.messageId).toBe('<inc-20261126-0001=3Acould-not-recover@provider.example>');
    const sent = JSON.parse(await readFile(path.join(dir, 'sent', 'inc-20261126-0001=3Acould-not-recover.json'), 'utf8')) as { attempts: number; state: string };
    expect(sent).toMatchObject({ state: 'sent', attempts: 2 });
    await a.stop();
  });

  it('a relay that answers 421 and closes is retried, then delivers once', async () => {
    const refusing = await startSmtpSink({ refuseConnections: true });
    cleanups.push(() => refusing.close());
    const port = refusing.port;
    const dir = await folder();
    const clock = manualClock();
    const { logger, lines } = captureLogger();
    const outbox = await Outbox.open(opts(dir, port), { logger, now: clock.now, random: () => 0.5 });
    cleanups.push(() => outbox.stop());
    await outbox.notify(example('recovered', 'ja'));
    expect(await outbox.runOnce()).toMatchObject({ retried: 1, sent: 0, failed: 0 });
    expect(JSON.stringify(lines.filter((l) => l.level === 40))).toMatch(/421/);
    await refusing.close();
    const sink = await sinkOn(port);
    clock.advance(60_000);
    expect(await outbox.runOnce()).toMatchObject({ sent: 1 });
    await sink.waitFor(1);
    expect(sink.messages).toHaveLength(1);
  });

  it('the sender loop on real timers delivers by itself once the relay comes up', async () => {
    const port = await freePort();
    const dir = await folder();
    const { logger } = captureLogger();
    const outbox = await Outbox.open(opts(dir, port, { retry: { baseDelayMs: 50, maxDelayMs: 200 } }), { logger });
    cleanups.push(() => outbox.stop());
    outbox.start();
    await outbox.notify(example('recovered', 'en'));
    await new Promise((r) => setTimeout(r, 150));
    const sink = await sinkOn(port);
    await sink.waitFor(1, 10_000);
    await new Promise((r) => setTimeout(r, 400));
    expect(sink.messages).toHaveLength(1);
    expect(outbox.stats()).toEqual({ pending: 0, folded: 0 });
  });

  it('a crash between the relay accepting and the record re-sends the same message (at least once)', async () => {
    const sink = await sinkOn(0);
    const dir = await folder();
    const clock = manualClock();
    const { logger } = captureLogger();
    const a = await Outbox.open(opts(dir, sink.port), { logger, now: clock.now });
    await a.notify(example('recovered', 'ja'));
    await a.runOnce();
    await a.stop();
    await sink.waitFor(1);
    // Recreate what a crash right after the relay's 250 leaves behind: the record still `sending`.
    const id = 'inc-20261126-0001=3Arecovered';
    const record = JSON.parse(await readFile(path.join(dir, 'sent', `${id}.json`), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(dir, 'pending', `${id}.json`), JSON.stringify({ ...record, state: 'sending', attempts: 0 }));
    await rename(path.join(dir, 'sent', `${id}.json`), path.join(dir, 'crash-lost.json'));
    clock.advance(30_000);
    const restarted = captureLogger();
    const b = await Outbox.open(opts(dir, sink.port), { logger: restarted.logger, now: clock.now });
    cleanups.push(() => b.stop());
    expect(restarted.lines.find((l) => l.msg === NOTIFY_LOG.resend)).toMatchObject({ level: 40, messageId: `<${id}@provider.example>` });
    expect(await b.runOnce()).toMatchObject({ sent: 1 });
    await sink.waitFor(2);
    const [one, two] = sink.messages;
    // The duplicate is the same message: same Message-ID, same Date, same body.
    expect(two?.messageId).toBe(one?.messageId);
    expect(two?.date?.toISOString()).toBe(one?.date?.toISOString());
    expect(two?.text).toBe(one?.text);
  });

  it('backs off exponentially, with jitter, up to a bound', async () => {
    const port = await freePort();
    const dir = await folder();
    const clock = manualClock();
    const { logger } = captureLogger();
    const outbox = await Outbox.open(opts(dir, port, { retry: { baseDelayMs: 1000, maxDelayMs: 8000 } }), { logger, now: clock.now, random: () => 0.5 });
    cleanups.push(() => outbox.stop());
    await outbox.notify(example('recovered', 'en'));
    const delays: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const before = clock.now();
      expect(await outbox.runOnce()).toMatchObject({ retried: 1 });
      const next = outbox.nextWakeAt();
      if (next === undefined) throw new Error('nothing scheduled');
      delays.push(next - before);
      clock.set(next);
    }
    // Equal jitter at random() = 0.5: three quarters of min(max, base * 2^(n-1)).
    expect(delays).toEqual([750, 1500, 3000, 6000, 6000, 6000]);
  });

  it('gives up on a permanent refusal, and on a message older than maxAge', async () => {
    const sink = await sinkOn(0, { rejectRcpt: ['gone@acme.example'] });
    const dir = await folder();
    const clock = manualClock();
    const { logger, lines } = captureLogger();
    const outbox = await Outbox.open(opts(dir, sink.port, { retry: { maxAgeMs: 3_600_000 } }), { logger, now: clock.now });
    cleanups.push(() => outbox.stop());
    const n = example('recovered', 'en');
    n.to.email = 'gone@acme.example';
    await outbox.notify(n);
    expect(await outbox.runOnce()).toMatchObject({ failed: 1 });
    expect(lines.find((l) => l.msg === NOTIFY_LOG.gaveUp)?.err).toMatch(/550/);
    expect(await readdir(path.join(dir, 'failed'))).toEqual(['inc-20261126-0001=3Arecovered.json']);
    await sink.close();
    await outbox.notify(example('access-blocked', 'en'));
    expect(await outbox.runOnce()).toMatchObject({ retried: 1 });
    clock.advance(3_600_000);
    expect(await outbox.runOnce()).toMatchObject({ failed: 1 });
    expect(outbox.stats()).toEqual({ pending: 0, folded: 0 });
  });

  it('sets an unreadable pending file aside and keeps going', async () => {
    const dir = await folder();
    const { logger, lines } = captureLogger();
    const first = await Outbox.open({ dir, from: 'mamori@provider.example' }, { logger });
    await first.stop();
    await writeFile(path.join(dir, 'pending', 'torn.json'), '{"v":1,"notif');
    const outbox = await Outbox.open({ dir, from: 'mamori@provider.example' }, { logger });
    cleanups.push(() => outbox.stop());
    expect(lines.find((l) => l.msg === NOTIFY_LOG.corrupt)).toMatchObject({ code: 'MAMORI_NOTIFY_OUTBOX_CORRUPT' });
    expect(await readdir(path.join(dir, 'corrupt'))).toEqual(['pending-torn.json']);
    expect(outbox.stats()).toEqual({ pending: 0, folded: 0 });
  });

  it('forgets done records after the retention time, and only then', async () => {
    const dir = await folder();
    const { logger } = captureLogger();
    const a = await Outbox.open({ dir, from: 'mamori@localhost' }, { logger });
    await a.notify(example('recovered', 'en'));
    await a.runOnce();
    await a.stop();
    const b = await Outbox.open({ dir, from: 'mamori@localhost' }, { logger });
    expect(await b.enqueue(example('recovered', 'en'))).toBe('duplicate');
    await b.stop();
    const old = new Date(Date.now() - 31 * 24 * 3_600_000);
    for (const name of await readdir(path.join(dir, 'sent'))) await utimes(path.join(dir, 'sent', name), old, old);
    const c = await Outbox.open({ dir, from: 'mamori@localhost' }, { logger });
    cleanups.push(() => c.stop());
    expect(await readdir(path.join(dir, 'sent'))).toEqual([]);
    expect(await c.enqueue(example('recovered', 'en'))).toBe('queued');
  });
});
