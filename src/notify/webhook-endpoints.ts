/**
 * The configured webhook endpoints (config alerting.webhooks[]) with their secrets resolved: the
 * signing key, and the URL when it comes from a secret. A secret that does not resolve, or a URL
 * from a secret that is not an http(s) URL, stops the start with the field named — never the value.
 */
import { MamoriError } from '../errors.ts';
import type { WebhookEndpointConfig } from '../config/types.ts';
import type { DeepReadonly } from '../config/types.ts';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhook-event.ts';
import type { WebhookEndpoint } from './webhook-outbox.ts';
import { signingKey } from './webhook-signature.ts';

/** The secret, or the resolver's own error (its code kept) with the config field in front. */
async function resolveAt(resolve: (ref: { secretRef: string }) => Promise<string>, ref: { secretRef: string }, field: string, configFile: string | undefined): Promise<string> {
  try {
    return await resolve(ref);
  } catch (err) {
    if (err instanceof MamoriError) throw new MamoriError(err.code, `${configFile ?? 'config'}: ${field}: ${err.message}`, { cause: err, details: { ...err.details, field, file: configFile } });
    throw err;
  }
}

export async function webhookEndpointsOf(
  configured: readonly DeepReadonly<WebhookEndpointConfig>[],
  resolve: (ref: { secretRef: string }) => Promise<string>,
  configFile?: string,
): Promise<WebhookEndpoint[]> {
  const out: WebhookEndpoint[] = [];
  for (const [i, w] of configured.entries()) {
    const field = `alerting.webhooks[${i}]`;
    const key = signingKey(await resolveAt(resolve, w.secret, `${field}.secret`, configFile));
    if (key.length < 16) {
      throw new MamoriError('MAMORI_CONFIG_INVALID', `${configFile ?? 'config'}: ${field}.secret: the signing secret ${w.secret.secretRef} is shorter than 16 bytes; use at least 32 random bytes`, { details: { field: `${field}.secret`, file: configFile } });
    }
    let url = w.url;
    if (url === undefined && w.urlSecret !== undefined) {
      url = (await resolveAt(resolve, w.urlSecret, `${field}.urlSecret`, configFile)).trim();
      let ok = false;
      try {
        const u = new URL(url);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
      } catch {
        ok = false;
      }
      if (!ok) throw new MamoriError('MAMORI_CONFIG_INVALID', `${configFile ?? 'config'}: ${field}.urlSecret: the secret ${w.urlSecret.secretRef} does not hold an http(s) URL without user:password@`, { details: { field: `${field}.urlSecret`, file: configFile } });
    }
    if (url === undefined) throw new MamoriError('MAMORI_CONFIG_INVALID', `${configFile ?? 'config'}: ${field}: no url`, { details: { field } });
    out.push({
      name: w.name,
      url,
      key,
      events: w.events.filter((e): e is WebhookEventType => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(e)),
      timeoutMs: Math.round(w.timeoutSeconds * 1000),
      retry: { baseDelayMs: Math.round(w.retry.initialSeconds * 1000), maxDelayMs: Math.round(w.retry.maxSeconds * 1000), maxAgeMs: Math.round(w.retry.giveUpHours * 3_600_000) },
    });
  }
  return out;
}
