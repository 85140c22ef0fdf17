/**
 * The config's SMTP relay as the outbox takes it: one definition for the daemon, the in-process
 * reconciler and `mamori report`. The auth secret is `user:password`, split at the first colon.
 */
import { describe, expect, test } from 'vitest';
import { smtpOptionsOf, splitUserPass } from '../../src/notify/smtp-relay.ts';

describe('splitUserPass', () => {
  test.each([
    ['mamori:s3cret', { user: 'mamori', pass: 's3cret' }],
    ['mamori:pa:ss:word', { user: 'mamori', pass: 'pa:ss:word' }],
    ['mamori', { user: 'mamori', pass: '' }],
    ['mamori:', { user: 'mamori', pass: '' }],
    [':only-pass', { user: '', pass: 'only-pass' }],
  ])('%j → %j', (secret, expected) => {
    expect(splitUserPass(secret)).toEqual(expected);
  });
});

describe('smtpOptionsOf', () => {
  const relay = { host: '127.0.0.1', port: 2525, secure: false, requireTLS: true };

  test('without auth: the relay as configured, and no secret is asked for', async () => {
    const asked: string[] = [];
    const options = await smtpOptionsOf(relay, async (ref) => {
      asked.push(ref.secretRef);
      return 'x';
    });
    expect(options).toEqual({ host: '127.0.0.1', port: 2525, secure: false, requireTLS: true });
    expect(asked).toEqual([]);
  });

  test('with auth: the named secret, resolved by the caller and split into user and pass', async () => {
    const options = await smtpOptionsOf({ ...relay, auth: { secretRef: 'smtp-relay' } }, async (ref) => (ref.secretRef === 'smtp-relay' ? 'mailer:p@ss:w0rd' : 'wrong'));
    expect(options).toEqual({ host: '127.0.0.1', port: 2525, secure: false, requireTLS: true, auth: { user: 'mailer', pass: 'p@ss:w0rd' } });
  });

  test('a secret that cannot be resolved fails the call (the outbox is not opened without it)', async () => {
    await expect(smtpOptionsOf({ ...relay, auth: { secretRef: 'missing' } }, () => Promise.reject(new Error('no such secret')))).rejects.toThrow('no such secret');
  });
});
