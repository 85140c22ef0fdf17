/**
 * The notifier's costs: rendering, the durable enqueue (fsync), delivery through a local
 * smtp-server against bare nodemailer on the same relay (the price of the outbox), and the digest
 * pass with many folded messages. Every loop is bounded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { silentLogger } from '../src/log.ts';
import { Outbox } from '../src/notify/outbox.ts';
import { render } from '../src/notify/render.ts';
import { LOCALES, NOTIFICATION_KINDS, type Notification } from '../src/notify/types.ts';
import { example } from '../test/notify/examples.ts';
import { startSmtpSink } from '../test/notify/smtp-sink.ts';

const N_RENDER = 2000;
const N_ENQUEUE = 200;
const N_SEND = 100;
const N_FOLDED = 1000;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

function numbered(i: number, locale: 'ja' | 'en' = 'ja'): Notification {
  const n = example('recovered', locale);
  n.id = `bench-${i}:recovered`;
  n.incident = { id: `bench-${i}`, openedAt: n.occurredAt };
  return n;
}

export async function run(): Promise<void> {
  const all = NOTIFICATION_KINDS.flatMap((k) => LOCALES.map((l) => example(k, l)));
  let t = performance.now();
  for (let i = 0; i < N_RENDER; i += 1) render(all[i % all.length] as Notification, { messageIdDomain: 'bench.example' });
  const renderMs = (performance.now() - t) / N_RENDER;
  console.log(JSON.stringify({ figure: 'render', messages: N_RENDER, msPerMessage: +renderMs.toFixed(3) }));

  const dir = await mkdtemp(join(tmpdir(), 'mamori-bench-notify-'));
  const sink = await startSmtpSink();
  try {
    const outbox = await Outbox.open(
      { dir: join(dir, 'a'), from: 'mamori@bench.example', smtp: { host: '127.0.0.1', port: sink.port }, rate: { maxPerWindow: 100_000 } },
      { logger: silentLogger() },
    );
    const lat: number[] = [];
    for (let i = 0; i < N_ENQUEUE; i += 1) {
      const s = performance.now();
      await outbox.notify(numbered(i));
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    console.log(JSON.stringify({ figure: 'enqueue (fsync before resolve)', messages: N_ENQUEUE, p50Ms: +pct(lat, 50).toFixed(2), p99Ms: +pct(lat, 99).toFixed(2) }));

    t = performance.now();
    const pass = await outbox.runOnce();
    const outboxSec = (performance.now() - t) / 1000;
    await outbox.stop();
    console.log(JSON.stringify({ figure: 'deliver via outbox (pooled SMTP, records fsync\'d)', messages: pass.sent, perSecond: +(pass.sent / outboxSec).toFixed(1) }));

    const bare = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, pool: true, maxConnections: 1 });
    const msg = render(numbered(0), { messageIdDomain: 'bench.example' });
    t = performance.now();
    for (let i = 0; i < N_SEND; i += 1) await bare.sendMail({ from: 'mamori@bench.example', to: 'ops@acme.example', subject: msg.subject, text: msg.text, html: msg.html });
    const bareSec = (performance.now() - t) / 1000;
    bare.close();
    console.log(JSON.stringify({ figure: 'peer: bare nodemailer, same relay, no outbox', messages: N_SEND, perSecond: +(N_SEND / bareSec).toFixed(1) }));

    // A storm: one server, N_FOLDED messages past the rate, then the digest pass at the window's end.
    let now = Date.parse('2026-11-25T18:00:00Z');
    const storm = await Outbox.open(
      { dir: join(dir, 'b'), from: 'mamori@bench.example', smtp: { host: '127.0.0.1', port: sink.port }, rate: { maxPerWindow: 1, windowMs: 3_600_000 } },
      { logger: silentLogger(), now: () => now },
    );
    t = performance.now();
    for (let i = 0; i <= N_FOLDED; i += 1) await storm.notify(numbered(i));
    const foldMs = (performance.now() - t) / (N_FOLDED + 1);
    now += 3_600_000;
    t = performance.now();
    const digestPass = await storm.runOnce();
    const digestSec = (performance.now() - t) / 1000;
    await storm.stop();
    console.log(JSON.stringify({ figure: 'storm: fold per message, then digest pass', folded: N_FOLDED, foldMsPerMessage: +foldMs.toFixed(2), digestPassSeconds: +digestSec.toFixed(2), sent: digestPass.sent }));
  } finally {
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
