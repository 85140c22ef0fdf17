/**
 * The outbox delivering through a real SMTP server (smtp-server on 127.0.0.1), the messages
 * parsed back with mailparser: headers, threading, both languages, no planted secret.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { Outbox } from '../../src/notify/outbox.ts';
import { makeScrubber } from '../../src/notify/scrub.ts';
import type { Notification } from '../../src/notify/types.ts';
import { example } from './examples.ts';
import { captureLogger, manualClock, tempDir } from './helpers.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function setup(smtp: (sink: SmtpSink) => Record<string, unknown>, sinkOptions: Parameters<typeof startSmtpSink>[0] = {}, secrets: string[] = []) {
  const sink = await startSmtpSink(sinkOptions);
  cleanups.push(() => sink.close());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const clock = manualClock();
  const { logger, lines } = captureLogger();
  const outbox = await Outbox.open(
    { dir, from: 'mamori@provider.example', messageIdDomain: 'mamori.provider.example', smtp: smtp(sink) },
    { logger, now: clock.now, random: () => 0.5, scrub: makeScrubber(() => secrets) },
  );
  cleanups.push(() => outbox.stop());
  return { sink, dir, clock, outbox, lines };
}

function incidentMessages(locale: 'ja' | 'en'): Notification[] {
  const blocked = example('access-blocked', locale);
  const failed = example('could-not-recover', locale);
  const recovered = example('recovered', locale);
  return [blocked, failed, recovered];
}

describe('outbox over SMTP', () => {
  it('delivers with Message-ID, threading and Auto-Submitted, in Japanese', async () => {
    const { sink, outbox } = await setup((s) => ({ host: '127.0.0.1', port: s.port }));
    for (const n of incidentMessages('ja')) await outbox.notify(n);
    const pass = await outbox.runOnce();
    expect(pass).toMatchObject({ sent: 3, retried: 0, failed: 0 });
    await sink.waitFor(3);
    const [first, second, third] = sink.messages;
    expect(first?.messageId).toBe('<inc-20261126-0001=3Aaccess-blocked@mamori.provider.example>');
    expect(first?.inReplyTo).toBeUndefined();
    const root = first?.messageId;
    expect(second?.inReplyTo).toBe(root);
    expect(second?.references).toBe(root);
    expect(third?.inReplyTo).toBe(root);
    expect(third?.messageId).toBe('<inc-20261126-0001=3Arecovered@mamori.provider.example>');
    for (const m of sink.messages) {
      expect(m.headers.get('auto-submitted')).toBe('auto-generated');
      expect(m.from?.value[0]?.address).toBe('mamori@provider.example');
      expect(m.to && !Array.isArray(m.to) ? m.to.value[0]?.address : undefined).toBe('ops@acme.example');
      expect(m.html).toContain('<html lang="ja">');
    }
    expect(first?.subject).toBe('[mamori] acme/web01 http: 弊社監視ネットワークからの接続が遮断されています');
    expect(third?.subject).toBe('[mamori] acme/web01 http: 復旧しました');
    expect(third?.text).toContain('お客様にて対応していただく必要はございません。');
    // The subject travels RFC 2047-encoded: the raw header is ASCII.
    expect(sink.raw[2]).toMatch(/^Subject: =\?UTF-8\?/m);
  });

  it('delivers in English to an English contact', async () => {
    const { sink, outbox } = await setup((s) => ({ host: '127.0.0.1', port: s.port }));
    for (const n of incidentMessages('en')) await outbox.notify(n);
    await outbox.runOnce();
    await sink.waitFor(3);
    expect(sink.messages.map((m) => m.subject)).toEqual([
      '[mamori] acme/web01 http: blocked from our monitoring networks',
      '[mamori] acme/web01 http: could not recover (status report)',
      '[mamori] acme/web01 http: recovered',
    ]);
    expect(sink.messages[2]?.text).toContain('No action is needed on your side.');
    expect(sink.messages[2]?.inReplyTo).toBe(sink.messages[0]?.messageId);
  });

  it('lets no planted secret reach the relay, the outbox files or the log', async () => {
    const secret = 'pl4nted-SSL-passphrase-9f3a';
    const { sink, outbox, dir, lines } = await setup((s) => ({ host: '127.0.0.1', port: s.port }), {}, [secret]);
    const n = example('recovered', 'ja');
    if (n.kind !== 'recovered') throw new Error('example kind');
    // Where a careless executor would leak it: an echoed prompt in a transcript line, a URL.
    n.facts.steps.splice(1, 0, { type: 'answer-prompt', command: '/etc/init.d/httpd restart', outcome: 'ok', output: `Enter pass phrase:${secret}` });
    n.facts.failure.message = `GET https://admin:${secret}@203.0.113.10/`;
    await outbox.notify(n);
    await outbox.runOnce();
    await sink.waitFor(1);
    expect(sink.raw[0]).toBeDefined();
    const decoded = `${sink.messages[0]?.subject}${sink.messages[0]?.text}${sink.messages[0]?.html}`;
    expect(decoded).toContain('[redacted]');
    expect(decoded).not.toContain(secret);
    expect(sink.raw[0]).not.toContain(secret);
    for (const folder of ['pending', 'sent']) {
      for (const name of await readdir(path.join(dir, folder))) {
        expect(await readFile(path.join(dir, folder, name), 'utf8')).not.toContain(secret);
      }
    }
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it('speaks STARTTLS with a required TLS and AUTH to a relay with its own CA', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }] });
    const auth = { user: 'mamori', pass: `relay-${Math.random().toString(36).slice(2)}` };
    const { sink, outbox } = await setup(
      (s) => ({ host: '127.0.0.1', port: s.port, requireTLS: true, auth, ca: pems.cert }),
      { tls: { key: pems.private, cert: pems.cert }, auth },
    );
    await outbox.notify(example('not-ready', 'en'));
    expect(await outbox.runOnce()).toMatchObject({ sent: 1 });
    await sink.waitFor(1);
    expect(sink.sessions[0]).toEqual({ secure: true, user: 'mamori' });
    expect(sink.messages[0]?.subject).toBe('[mamori] acme/web01: not ready for recovery (please check)');
  });

  it('sends an id once, however often it is notified', async () => {
    const { sink, outbox } = await setup((s) => ({ host: '127.0.0.1', port: s.port }));
    const n = example('recovered', 'ja');
    expect(await outbox.enqueue(n)).toBe('queued');
    expect(await outbox.enqueue(n)).toBe('duplicate');
    await outbox.runOnce();
    expect(await outbox.enqueue(n)).toBe('duplicate');
    await outbox.runOnce();
    await sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.messages).toHaveLength(1);
  });

  it('sends a copy to the contact cc addresses', async () => {
    const { sink, outbox } = await setup((s) => ({ host: '127.0.0.1', port: s.port }));
    const n = example('recovered', 'en');
    n.to.cc = ['boss@acme.example'];
    await outbox.notify(n);
    await outbox.runOnce();
    await sink.waitFor(1);
    expect(sink.rcpt[0]?.sort()).toEqual(['boss@acme.example', 'ops@acme.example']);
  });
});
