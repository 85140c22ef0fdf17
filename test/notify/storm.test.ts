/**
 * Storm control on a simulated clock, delivered through a real SMTP server: a service flapping for
 * ten minutes makes one thread and a handful of messages, the rest folded into one digest.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/notify/outbox.ts';
import type { Notification } from '../../src/notify/types.ts';
import { example } from './examples.ts';
import { captureLogger, manualClock, tempDir } from './helpers.ts';
import { startSmtpSink } from './smtp-sink.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function setup() {
  const sink = await startSmtpSink();
  cleanups.push(() => sink.close());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const clock = manualClock('2026-11-25T18:00:00Z');
  const { logger } = captureLogger();
  const open = () =>
    Outbox.open(
      { dir, from: 'mamori@provider.example', smtp: { host: '127.0.0.1', port: sink.port }, rate: { maxPerWindow: 4, windowMs: 3_600_000 } },
      { logger, now: clock.now, random: () => 0.5 },
    );
  const outbox = await open();
  cleanups.push(() => outbox.stop());
  return { sink, clock, outbox, open };
}

/** A recovered message for the k-th flap (the reconciler opens a new incident each time). */
function flap(k: number, at: number): Notification {
  const n = example('recovered', 'ja');
  const id = `inc-flap-${String(k).padStart(3, '0')}`;
  const iso = new Date(at).toISOString();
  n.id = `${id}:recovered`;
  n.incident = { id, openedAt: new Date(at - 20_000).toISOString(), closedAt: iso };
  n.occurredAt = iso;
  if (n.kind === 'recovered') {
    n.facts.detectedAt = new Date(at - 20_000).toISOString();
    n.facts.recoveredAt = iso;
    n.facts.verification.externalProbe.at = iso;
  }
  return n;
}

describe('storm control', () => {
  it('ten minutes of flapping: one thread, four messages and one digest, not dozens', async () => {
    const { sink, clock, outbox } = await setup();
    const start = clock.now();
    // Down and up every 30 s for 10 minutes: 20 incidents, each with its recovered message.
    for (let k = 0; k < 20; k += 1) {
      clock.advance(30_000);
      await outbox.notify(flap(k, clock.now()));
      await outbox.runOnce();
    }
    expect(sink.messages).toHaveLength(4);
    expect(outbox.stats()).toEqual({ pending: 0, folded: 16 });
    // The window closes an hour after the first message; the digest goes then, and only then.
    clock.set(start + 30_000 + 3_600_000 - 1);
    expect(await outbox.runOnce()).toMatchObject({ digests: 0, sent: 0 });
    clock.set(start + 30_000 + 3_600_000);
    expect(await outbox.runOnce()).toMatchObject({ digests: 1, sent: 1 });
    await sink.waitFor(5);
    expect(sink.messages).toHaveLength(5);
    const root = sink.messages[0]?.messageId;
    for (const m of sink.messages.slice(1)) {
      expect(m.inReplyTo).toBe(root);
      expect(m.references).toBe(root);
    }
    const digest = sink.messages[4];
    expect(digest?.subject).toBe('[mamori] acme/web01 http: お知らせのまとめ（16 件）');
    expect(digest?.text).toContain('inc-flap-019');
    expect(digest?.headers.get('x-mamori-kind')).toBe('digest');
    expect(outbox.stats()).toEqual({ pending: 0, folded: 0 });
  });

  it('one incident flapping within itself stays one thread as well', async () => {
    const { sink, clock, outbox } = await setup();
    const kinds = ['access-blocked', 'recovered', 'could-not-recover'] as const;
    for (let k = 0; k < 3; k += 1) {
      clock.advance(60_000);
      await outbox.notify(example(kinds[k] ?? 'recovered', 'en'));
    }
    await outbox.runOnce();
    await sink.waitFor(3);
    const ids = new Set(sink.messages.map((m) => m.inReplyTo ?? m.messageId));
    expect(ids.size).toBe(1);
  });

  it('never folds an urgent message: could-not-recover goes out at once past the rate', async () => {
    const { sink, clock, outbox } = await setup();
    for (let k = 0; k < 6; k += 1) {
      clock.advance(10_000);
      await outbox.notify(flap(k, clock.now()));
    }
    const urgent = example('could-not-recover', 'ja');
    urgent.id = 'inc-flap-006:could-not-recover';
    urgent.incident = { id: 'inc-flap-006', openedAt: new Date(clock.now()).toISOString() };
    expect(await outbox.enqueue(urgent)).toBe('queued');
    await outbox.runOnce();
    await sink.waitFor(5);
    expect(sink.messages.map((m) => m.headers.get('x-mamori-kind'))).toEqual(['recovered', 'recovered', 'recovered', 'recovered', 'could-not-recover']);
    expect(outbox.stats().folded).toBe(2);
  });

  it('folded messages survive a restart and still make their digest', async () => {
    const { sink, clock, outbox, open } = await setup();
    for (let k = 0; k < 7; k += 1) {
      clock.advance(30_000);
      await outbox.notify(flap(k, clock.now()));
    }
    await outbox.runOnce();
    await outbox.stop();
    const again = await open();
    cleanups.push(() => again.stop());
    expect(again.stats()).toEqual({ pending: 0, folded: 3 });
    // The rate window survives the restart too: another flap is still folded.
    clock.advance(30_000);
    expect(await again.enqueue(flap(7, clock.now()))).toBe('folded');
    clock.advance(3_600_000);
    expect(await again.runOnce()).toMatchObject({ digests: 1, sent: 1 });
    await sink.waitFor(5);
    expect(sink.messages[4]?.subject).toContain('（4 件）');
  });

  it('a new incident after a quiet hour starts a new thread', async () => {
    const { sink, clock, outbox } = await setup();
    await outbox.notify(flap(1, clock.now()));
    clock.advance(2 * 3_600_000);
    await outbox.notify(flap(2, clock.now()));
    await outbox.runOnce();
    await sink.waitFor(2);
    expect(sink.messages[1]?.inReplyTo).toBeUndefined();
  });
});
