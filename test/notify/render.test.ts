import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isMamoriError } from '../../src/errors.ts';
import { render } from '../../src/notify/render.ts';
import { makeScrubber, scrubSecrets } from '../../src/notify/scrub.ts';
import { LOCALES, NOTIFICATION_KINDS, type Notification } from '../../src/notify/types.ts';
import { example, FIXED_DOMAIN, FIXED_ROOT } from './examples.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/email');
const UPDATE = process.env.UPDATE_FIXTURES === '1';

function renderFixture(n: Notification) {
  return render(n, { messageIdDomain: FIXED_DOMAIN, threadRoot: n.incident ? FIXED_ROOT : undefined });
}

describe('rendered messages match the reviewed fixtures (UPDATE_FIXTURES=1 rewrites them)', () => {
  const cases = NOTIFICATION_KINDS.flatMap((kind) => LOCALES.map((locale) => [kind, locale] as const));
  it.each(cases)('%s in %s', async (kind, locale) => {
    const r = renderFixture(example(kind, locale));
    const text = `Subject: ${r.subject}\n${Object.entries(r.headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n')}\n\n${r.text}`;
    const base = path.join(FIXTURES, `${kind}.${locale}`);
    if (UPDATE) {
      await mkdir(FIXTURES, { recursive: true });
      await writeFile(`${base}.txt`, text);
      await writeFile(`${base}.html`, r.html);
    }
    expect(text).toBe(await readFile(`${base}.txt`, 'utf8'));
    expect(r.html).toBe(await readFile(`${base}.html`, 'utf8'));
  });
});

describe('render', () => {
  it('names server, service and state in the subject, in both languages', () => {
    expect(renderFixture(example('recovered', 'ja')).subject).toBe('[mamori] acme/web01 http: 復旧しました');
    expect(renderFixture(example('recovered', 'en')).subject).toBe('[mamori] acme/web01 http: recovered');
  });

  it('is Japanese when the contact gives no locale', () => {
    const n = example('recovered', 'en');
    delete n.to.locale;
    expect(render(n, { messageIdDomain: FIXED_DOMAIN }).subject).toContain('復旧しました');
  });

  it('derives the Message-ID from the notification id, and threads to the root', () => {
    const r = renderFixture(example('recovered', 'ja'));
    expect(r.headers['Message-ID']).toBe('<inc-20261126-0001=3Arecovered@mamori.example.net>');
    expect(r.headers['In-Reply-To']).toBe(FIXED_ROOT);
    expect(r.headers.References).toBe(FIXED_ROOT);
    expect(r.headers['Auto-Submitted']).toBe('auto-generated');
    const first = render(example('recovered', 'ja'), { messageIdDomain: FIXED_DOMAIN });
    expect(first.headers['In-Reply-To']).toBeUndefined();
  });

  it('lets nothing from a manifest break a header line', () => {
    const n = example('recovered', 'ja');
    n.server = { name: 'web01\r\nBcc: victim@evil.example', customer: 'acme\nX-Evil: 1', address: '203.0.113.10\u2028' };
    n.to.name = 'Taro\r\nBcc: x@evil.example';
    const r = render(n, { messageIdDomain: FIXED_DOMAIN });
    expect(r.subject).not.toMatch(/[\r\n]/);
    expect(r.subject).toBe('[mamori] acme X-Evil: 1/web01 Bcc: victim@evil.example http: 復旧しました');
    for (const value of Object.values(r.headers)) expect(value).not.toMatch(/[\r\n]/);
    expect(r.text).not.toContain('Taro\r\n');
  });

  it.each([
    ['to.email', (n: Notification) => (n.to.email = 'ops@acme.example\r\nBcc: x@evil.example')],
    ['to.email', (n: Notification) => (n.to.email = 'Ops <ops@acme.example>')],
    ['to.cc[0]', (n: Notification) => (n.to.cc = ['a@b.example,c@d.example'])],
    ['id', (n: Notification) => (n.id = 'inc 1')],
    ['id', (n: Notification) => (n.id = '<x>')],
    ['occurredAt', (n: Notification) => (n.occurredAt = 'yesterday')],
  ])('refuses a bad %s with MAMORI_NOTIFY_INVALID naming the field', (field, spoil) => {
    const n = example('recovered', 'ja');
    spoil(n);
    let caught: unknown;
    try {
      render(n, { messageIdDomain: FIXED_DOMAIN });
    } catch (err) {
      caught = err;
    }
    expect(isMamoriError(caught, 'MAMORI_NOTIFY_INVALID')).toBe(true);
    expect((caught as Error).message).toContain(field);
  });

  it('refuses facts that do not fit the kind with MAMORI_NOTIFY_INVALID, not a TypeError', () => {
    const n = { ...example('recovered', 'ja'), facts: { detectedAt: '2026-11-25T18:12:05Z' } } as unknown as Notification;
    expect(() => render(n, { messageIdDomain: FIXED_DOMAIN })).toThrow(/facts do not fit kind recovered/);
  });

  it('scrubs a secret the caller knows from every part of the message', () => {
    const secret = 'S3cret-Pass-Phrase!';
    const n = example('recovered', 'en');
    if (n.kind !== 'recovered') throw new Error('example kind');
    n.facts.steps[1]!.output = `Enter pass phrase: ${secret}\nStarting httpd: [ OK ]`;
    n.facts.failure.message = `https://admin:${secret}@203.0.113.10/`;
    const careless = render(n, { messageIdDomain: FIXED_DOMAIN });
    expect(careless.text).toContain(secret); // what the hook is for
    const r = render(n, { messageIdDomain: FIXED_DOMAIN, scrub: makeScrubber(() => [secret]) });
    expect(`${r.subject}${r.text}${r.html}`).not.toContain(secret);
    expect(r.text).toContain('Enter pass phrase: [redacted]');
  });

  it('lists a long digest by its head and tail', () => {
    const n = example('digest', 'ja');
    if (n.kind !== 'digest') throw new Error('example kind');
    const item = n.facts.items[0]!;
    n.facts.items = Array.from({ length: 300 }, (_, i) => ({ ...item, id: `i${i}`, incidentId: `inc-${i}` }));
    const r = render(n, { messageIdDomain: FIXED_DOMAIN });
    expect(r.subject).toContain('（300 件）');
    expect(r.text).toContain('（inc-0）');
    expect(r.text).toContain('（inc-299）');
    expect(r.text).not.toContain('（inc-150）');
    expect(r.text).toContain('途中の 260 件は省略しました');
  });

  it('scrubs the longest secret first', () => {
    expect(scrubSecrets('a=abc b=abcdef', ['abc', 'abcdef'])).toBe('a=[redacted] b=[redacted]');
    expect(scrubSecrets('x', [''])).toBe('x');
  });
});

describe('access-blocked after the vantage points disagreed', () => {
  it.each(['en', 'ja'] as const)('names the missing management network, each vantage\'s verdict, and no login (%s)', (locale) => {
    const base = example('access-blocked', locale) as Extract<Notification, { kind: 'access-blocked' }>;
    const n: Notification = {
      ...base,
      facts: {
        detectedAt: base.facts.detectedAt,
        external: base.facts.external,
        local: {},
        managementNetworks: ['210.224.172.0/24', '210.188.224.0/24'],
        missingNetworks: ['210.224.172.0/24'],
        vantages: [
          { vantage: 'tokyo-a', network: '210.224.172.0/24', up: false, at: '2026-11-25T18:12:05Z' },
          { vantage: 'tokyo-b', network: '210.188.224.0/24', up: true, at: '2026-11-25T18:12:06Z' },
        ],
      },
    };
    const r = renderFixture(n);
    expect(r.text).toContain('210.224.172.0/24');
    expect(r.text).toContain('tokyo-b');
    // The filter examples allow the missing network only; the one already allowed is not asked for.
    expect(r.text).toContain('iptables -I INPUT -s 210.224.172.0/24 -j ACCEPT');
    expect(r.text).not.toContain('iptables -I INPUT -s 210.188.224.0/24');
    // No runbook ran: no login is claimed.
    expect(r.text).not.toMatch(/logged in|ログインして/);
  });
});
