/**
 * Webhook endpoints in the daemon config (alerting.webhooks): defaults filled in, and every mistake
 * refused with the file, line and field — never repeating a secret or a credential in a URL.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkConfigText, loadConfig } from '../../src/config/load-config.ts';
import { webhookEndpointsOf } from '../../src/notify/webhook-endpoints.ts';
import { resolveSecret } from '../../src/secrets/resolve-secret.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-webhook-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hook = (extra = '') => `    - name: noc\n      url: https://hooks.example.net/mamori\n      secret: { secretRef: noc-hook }\n${extra}`;

describe('alerting.webhooks', () => {
  test('defaults: every event, 10 s timeout, 5 s … 900 s backoff, given up after 72 h', async () => {
    const p = join(dir, 'ok.yaml');
    writeFileSync(p, `alerting:\n  webhooks:\n${hook()}    - name: chat\n      urlSecret: { secretRef: chat-url }\n      secret: { secretRef: chat-hook }\n      events: [incident.escalated]\n      retry: { initialSeconds: 1, maxSeconds: 60 }\n`);
    const c = await loadConfig(p);
    expect(c.alerting.webhooks).toEqual([
      {
        name: 'noc',
        url: 'https://hooks.example.net/mamori',
        secret: { secretRef: 'noc-hook' },
        events: ['incident.opened', 'incident.escalated', 'incident.recovered', 'mass-failure.paused', 'revision.refused', 'revision.held'],
        timeoutSeconds: 10,
        retry: { initialSeconds: 5, maxSeconds: 900, giveUpHours: 72 },
      },
      { name: 'chat', urlSecret: { secretRef: 'chat-url' }, secret: { secretRef: 'chat-hook' }, events: ['incident.escalated'], timeoutSeconds: 10, retry: { initialSeconds: 1, maxSeconds: 60, giveUpHours: 72 } },
    ]);
    expect((await loadConfig(undefined, { cwd: dir })).alerting.webhooks).toEqual([]);
  });

  test.each([
    ['a name used twice', `alerting:\n  webhooks:\n${hook()}${hook()}`, 6, 'alerting.webhooks[1].name', 'webhook', 'named twice'],
    ['no url', `alerting:\n  webhooks:\n    - name: noc\n      secret: { secretRef: noc-hook }\n`, 3, 'alerting.webhooks[0]', 'webhook', 'one of the two'],
    ['url and urlSecret', `alerting:\n  webhooks:\n${hook('      urlSecret: { secretRef: x }\n')}`, 3, 'alerting.webhooks[0]', 'webhook', 'one of the two'],
    ['a password in the url', `alerting:\n  webhooks:\n    - name: noc\n      url: https://bot:hunter2-secret@hooks.example.net/x\n      secret: { secretRef: noc-hook }\n`, 4, 'alerting.webhooks[0].url', 'webhook', 'urlSecret'],
    ['a secret typed in', `alerting:\n  webhooks:\n    - name: noc\n      url: https://hooks.example.net/x\n      secret: "typed-in-signing-secret-123"\n`, 5, 'alerting.webhooks[0].secret', 'secret-inline', 'secretRef'],
    ['an unknown event', `alerting:\n  webhooks:\n${hook('      events: [incident.opened, incident.exploded]\n')}`, 6, 'alerting.webhooks[0].events[1]', 'schema', ''],
    ['a name in capitals', `alerting:\n  webhooks:\n    - name: NOC\n      url: https://hooks.example.net/x\n      secret: { secretRef: noc-hook }\n`, 3, 'alerting.webhooks[0].name', 'schema', ''],
    ['a url that is not http', `alerting:\n  webhooks:\n    - name: noc\n      url: ftp://hooks.example.net/x\n      secret: { secretRef: noc-hook }\n`, 4, 'alerting.webhooks[0].url', 'schema', ''],
    ['delays the wrong way round', `alerting:\n  webhooks:\n${hook('      retry: { initialSeconds: 60, maxSeconds: 5 }\n')}`, 6, 'alerting.webhooks[0].retry.maxSeconds', 'webhook', 'shorter than the first'],
  ])('refuses %s', (_what, text, line, field, rule, message) => {
    const { findings, doc } = checkConfigText(text, 'mamori.yaml');
    expect(doc).toBeUndefined();
    const f = findings.find((x) => x.field === field);
    expect(f, JSON.stringify(findings)).toMatchObject({ file: 'mamori.yaml', line, severity: 'error', rule });
    expect(f?.message).toContain(message);
    const all = JSON.stringify(findings);
    expect(all).not.toContain('hunter2');
    expect(all).not.toContain('typed-in-signing-secret');
  });

  test('secrets resolve at start; a missing, short or non-URL secret stops it naming the field, never the value', async () => {
    const secretsDir = join(dir, 'secrets');
    mkdirSync(secretsDir, { mode: 0o700 });
    writeFileSync(join(secretsDir, 'noc-hook'), 'a-signing-secret-of-32-bytes-abc\n', { mode: 0o600 });
    writeFileSync(join(secretsDir, 'short'), 'tiny', { mode: 0o600 });
    writeFileSync(join(secretsDir, 'chat-url'), 'not a url with private-token-xyz', { mode: 0o600 });
    writeFileSync(join(secretsDir, 'std'), `whsec_${Buffer.alloc(24, 7).toString('base64')}`, { mode: 0o600 });
    const resolve = (ref: { secretRef: string }) => resolveSecret(ref, { secretsDir }, { env: {} });
    const base = { name: 'noc', url: 'https://hooks.example.net/x', events: ['incident.opened'], timeoutSeconds: 10, retry: { initialSeconds: 5, maxSeconds: 900, giveUpHours: 72 } };
    const [ok] = await webhookEndpointsOf([{ ...base, secret: { secretRef: 'noc-hook' } }], resolve, 'mamori.yaml');
    expect(ok).toMatchObject({ name: 'noc', url: 'https://hooks.example.net/x', timeoutMs: 10_000, retry: { baseDelayMs: 5000, maxDelayMs: 900_000, maxAgeMs: 72 * 3_600_000 } });
    expect(ok!.key.toString('utf8')).toBe('a-signing-secret-of-32-bytes-abc');
    const [std] = await webhookEndpointsOf([{ ...base, secret: { secretRef: 'std' } }], resolve);
    expect(std!.key).toEqual(Buffer.alloc(24, 7));
    await expect(webhookEndpointsOf([{ ...base, secret: { secretRef: 'absent' } }], resolve, 'mamori.yaml')).rejects.toMatchObject({
      code: 'MAMORI_SECRET_MISSING',
      message: expect.stringContaining('mamori.yaml: alerting.webhooks[0].secret:'),
    });
    await expect(webhookEndpointsOf([{ ...base, secret: { secretRef: 'short' } }], resolve, 'mamori.yaml')).rejects.toMatchObject({ code: 'MAMORI_CONFIG_INVALID', message: expect.stringContaining('shorter than 16 bytes') });
    const err = (await webhookEndpointsOf([{ ...base, url: undefined, urlSecret: { secretRef: 'chat-url' }, secret: { secretRef: 'noc-hook' } }], resolve, 'mamori.yaml').catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'MAMORI_CONFIG_INVALID', message: expect.stringContaining('alerting.webhooks[0].urlSecret') });
    expect(err.message).not.toContain('private-token-xyz');
  });
});
