/**
 * With no SMTP configured, the outbox writes each message as an .eml file into sent/ — the same
 * RFC 822 bytes SMTP would carry, parsed back here with mailparser.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/notify/outbox.ts';
import { example } from './examples.ts';
import { captureLogger, tempDir } from './helpers.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('file transport (no SMTP configured)', () => {
  it('writes one .eml per message into sent/, threaded like SMTP mail', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const { logger } = captureLogger();
    const outbox = await Outbox.open({ dir, from: 'mamori@localhost' }, { logger });
    cleanups.push(() => outbox.stop());
    await outbox.notify(example('access-blocked', 'ja'));
    await outbox.notify(example('recovered', 'ja'));
    expect(await outbox.runOnce()).toMatchObject({ sent: 2 });
    const files = (await readdir(path.join(dir, 'sent'))).sort();
    expect(files).toEqual([
      'inc-20261126-0001=3Aaccess-blocked.eml',
      'inc-20261126-0001=3Aaccess-blocked.json',
      'inc-20261126-0001=3Arecovered.eml',
      'inc-20261126-0001=3Arecovered.json',
    ]);
    const raw = await readFile(path.join(dir, 'sent', 'inc-20261126-0001=3Arecovered.eml'), 'utf8');
    expect(raw).toContain('\r\n'); // RFC 822 line ends
    const mail = await simpleParser(raw);
    expect(mail.subject).toBe('[mamori] acme/web01 http: 復旧しました');
    expect(mail.messageId).toBe('<inc-20261126-0001=3Arecovered@localhost>');
    expect(mail.inReplyTo).toBe('<inc-20261126-0001=3Aaccess-blocked@localhost>');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(await readdir(path.join(dir, 'pending'))).toEqual([]);
  });
});
