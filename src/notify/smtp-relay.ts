/**
 * The config's SMTP relay (mail.smtp) as the outbox takes it. The auth secret is `user:password`;
 * it is resolved by the caller's resolver (the notifier never reads the secret store itself), so
 * the daemon, the in-process reconciler and `mamori report` log in to the relay the same way.
 */
import type { NotifyOptions, SmtpOptions } from './options.ts';

export interface SmtpRelayConfig {
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  auth?: { secretRef: string };
}

/** An SMTP auth secret is `user:password`; without a colon it is a user with no password. */
export function splitUserPass(secret: string): { user: string; pass: string } {
  const colon = secret.indexOf(':');
  return colon < 0 ? { user: secret, pass: '' } : { user: secret.slice(0, colon), pass: secret.slice(colon + 1) };
}

export async function smtpOptionsOf(relay: SmtpRelayConfig, resolveSecret: (ref: { secretRef: string }) => Promise<string>): Promise<SmtpOptions> {
  return {
    host: relay.host,
    port: relay.port,
    secure: relay.secure,
    requireTLS: relay.requireTLS,
    ...(relay.auth ? { auth: splitUserPass(await resolveSecret(relay.auth)) } : {}),
  };
}

/** The config's mail identity (mail.from, fromName, replyTo, providerName, timeZone) as the outbox takes it. */
export interface MailIdentityConfig {
  from: string;
  fromName: string;
  replyTo?: string;
  providerName: { ja?: string; en?: string };
  timeZone: string;
}

export function mailIdentityOf(mail: MailIdentityConfig): Pick<NotifyOptions, 'from' | 'fromName' | 'replyTo' | 'providerName' | 'timeZone'> {
  return {
    from: mail.from,
    fromName: mail.fromName,
    ...(mail.replyTo !== undefined ? { replyTo: mail.replyTo } : {}),
    providerName: { ...mail.providerName },
    timeZone: mail.timeZone,
  };
}
