import { describe, expect, it } from 'vitest';
import { isMamoriError } from '../../src/errors.ts';
import { resolveNotifyOptions } from '../../src/notify/options.ts';

describe('notifier options', () => {
  it('fills in defaults and freezes the result', () => {
    const o = resolveNotifyOptions({ dir: 'state/outbox', from: 'mamori@provider.example', smtp: { host: 'relay.provider.example' } });
    expect(o.messageIdDomain).toBe('provider.example');
    expect(o.smtp).toMatchObject({ port: 587, secure: false, requireTLS: false, rejectUnauthorized: true });
    expect(o.rate).toEqual({ maxPerWindow: 4, windowMs: 3_600_000, urgentKinds: ['could-not-recover', 'provider-fault', 'provider-working'] });
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.rate.urgentKinds)).toBe(true);
  });

  it.each([
    [{ from: 'a@b.example' }, "notifier options: / must have required property 'dir'"],
    [{ dir: 'x', from: 'a@b.example', smpt: {} }, 'notifier options: / must NOT have additional properties'],
    [{ dir: 'x', from: 'a@b.example\r\nBcc: x@y.example' }, 'notifier options: /from is not a plain e-mail address'],
    [{ dir: 'x', from: 'a@b.example', smtp: { host: 'h', port: 70000 } }, 'notifier options: /smtp/port must be <= 65535'],
    [{ dir: 'x', from: 'a@b.example', subjectPrefix: '[x]\nBcc: y' }, 'notifier options: /subjectPrefix must match pattern "^[^\\r\\n]*$"'],
    [{ dir: 'x', from: 'a@b.example', timeZone: 'Mars/Olympus' }, 'notifier options: /timeZone "Mars/Olympus" is not a time zone'],
    [{ dir: 'x', from: 'a@b.example', retry: { baseDelayMs: 10, maxDelayMs: 5 } }, 'notifier options: /retry/maxDelayMs is shorter than baseDelayMs'],
    [{ dir: 'x', from: 'a@b.example', rate: { urgentKinds: ['everything'] } }, 'notifier options: /rate/urgentKinds/0 must be equal to one of the allowed values'],
  ])('refuses %j: %s', (input, message) => {
    let caught: unknown;
    try {
      resolveNotifyOptions(input);
    } catch (err) {
      caught = err;
    }
    expect(isMamoriError(caught, 'MAMORI_NOTIFY_OPTIONS_INVALID')).toBe(true);
    expect((caught as Error).message).toBe(message);
  });
});
