/**
 * Mail in the provider's own name: a config with mail.providerName/fromName/replyTo/timeZone (read
 * by the real config loader), a server whose contact has a display name, through the outbox to a
 * real SMTP server, parsed back with mailparser. The From display name, the Reply-To, the greeting
 * to the customer's company and the provider's signature are compared with reviewed fixtures in
 * both languages (test/fixtures/email/branded/; UPDATE_FIXTURES=1 rewrites them).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { isMamoriError } from '../../src/errors.ts';
import { Outbox } from '../../src/notify/outbox.ts';
import { mailIdentityOf } from '../../src/notify/smtp-relay.ts';
import type { Locale, Notification } from '../../src/notify/types.ts';
import { recipientOf } from '../../src/reconcile/notifications.ts';
import type { ServerDocument } from '../../src/manifest/types.ts';
import { example } from './examples.ts';
import { captureLogger, manualClock, tempDir } from './helpers.ts';
import { startSmtpSink } from './smtp-sink.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/email/branded');
const UPDATE = process.env.UPDATE_FIXTURES === '1';

const CONFIG = `apiVersion: mamori/v1
kind: Config
mail:
  from: robot@hosting.example
  fromName: サンプルホスティング サポートセンター
  replyTo: support@hosting.example
  providerName: { ja: 株式会社サンプルホスティング サポートセンター, en: Sample Hosting Support Centre }
  timeZone: Asia/Tokyo
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** The contact as the server manifest gives it (spec.contact), turned into the recipient the reconciler mails. */
function contact(locale: Locale, withName: boolean): Notification['to'] {
  const doc = {
    metadata: { name: 'web01', customer: 'acme' },
    spec: { contact: { email: 'ops@acme.example', locale, displayName: locale === 'ja' ? '株式会社アクメ' : 'Acme Corporation', ...(withName ? { name: locale === 'ja' ? '山田 太郎' : 'Taro Yamada' } : {}) } },
  } as unknown as ServerDocument;
  return recipientOf(doc);
}

describe('mail in the provider’s own name', () => {
  it('reads fromName, replyTo, providerName and timeZone from the config, and refuses an unknown zone naming its line', () => {
    const config = parseConfig(CONFIG, 'mamori.yaml', '/tmp');
    expect(config.mail).toMatchObject({ fromName: 'サンプルホスティング サポートセンター', replyTo: 'support@hosting.example', timeZone: 'Asia/Tokyo' });
    expect(config.mail.providerName).toEqual({ ja: '株式会社サンプルホスティング サポートセンター', en: 'Sample Hosting Support Centre' });
    // One string names the provider in both languages.
    const one = parseConfig('apiVersion: mamori/v1\nkind: Config\nmail: { providerName: Example Hosting }\n', 'mamori.yaml', '/tmp');
    expect(one.mail.providerName).toEqual({ ja: 'Example Hosting', en: 'Example Hosting' });
    expect(one.mail.timeZone).toBe('Asia/Tokyo');
    let caught: unknown;
    try {
      parseConfig('apiVersion: mamori/v1\nkind: Config\nmail:\n  timeZone: Asia/Tokio\n', 'mamori.yaml', '/tmp');
    } catch (err) {
      caught = err;
    }
    expect(isMamoriError(caught) && caught.code).toBe('MAMORI_CONFIG_INVALID');
    expect((caught as Error).message).toContain('mamori.yaml:4');
    expect((caught as Error).message).toContain('Asia/Tokio is not a time zone');
    expect(() => parseConfig('apiVersion: mamori/v1\nkind: Config\nmail: { replyTo: "a@b.example\\r\\nBcc: x@evil.example" }\n', 'mamori.yaml', '/tmp')).toThrow(/replyTo/);
  });

  const cases = [
    ['recovered', 'ja', true],
    ['recovered', 'en', true],
    ['could-not-recover', 'ja', false],
    ['could-not-recover', 'en', false],
  ] as const;
  it.each(cases)('%s in %s: From name, Reply-To, the company in the greeting, the provider in the signature', async (kind, locale, withName) => {
    const config = parseConfig(CONFIG, 'mamori.yaml', '/tmp');
    const sink = await startSmtpSink();
    cleanups.push(() => sink.close());
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const outbox = await Outbox.open({ dir, ...mailIdentityOf(config.mail), smtp: { host: '127.0.0.1', port: sink.port } }, { logger: captureLogger().logger, now: manualClock().now, random: () => 0.5 });
    cleanups.push(() => outbox.stop());
    const n = example(kind, locale);
    n.to = contact(locale, withName);
    await outbox.notify(n);
    expect(await outbox.runOnce()).toMatchObject({ sent: 1 });
    await sink.waitFor(1);
    const m = sink.messages[0];
    const from = m?.from?.value[0];
    const replyTo = m?.replyTo?.value[0];
    expect(from).toEqual({ name: 'サンプルホスティング サポートセンター', address: 'robot@hosting.example' });
    expect(replyTo?.address).toBe('support@hosting.example');
    const text = `From: ${from?.name} <${from?.address}>\nReply-To: ${replyTo?.address}\nTo: ${m?.to && !Array.isArray(m.to) ? m.to.text : ''}\nSubject: ${m?.subject}\n\n${m?.text ?? ''}`;
    const file = path.join(FIXTURES, `${kind}.${locale}.txt`);
    if (UPDATE) {
      await mkdir(FIXTURES, { recursive: true });
      await writeFile(file, text);
    }
    expect(text).toBe(await readFile(file, 'utf8'));
    const provider = locale === 'ja' ? '株式会社サンプルホスティング サポートセンター' : 'Sample Hosting Support Centre';
    expect(m?.text).toContain(provider);
    expect(m?.text).not.toContain('mamori 障害復旧サービス');
    expect(m?.text).not.toContain('mamori fault recovery service');
    expect(m?.text).toContain(locale === 'ja' ? '株式会社アクメ' : 'Acme Corporation');
    // The HTML part carries the same names, escaped.
    expect(m?.html).toContain(provider);
  });
});
