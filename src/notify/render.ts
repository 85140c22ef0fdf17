/**
 * render(notification) → subject, plain text, HTML and threading headers. Pure: no clock, no disk,
 * no secrets; the same notification and options always give the same bytes (the fixtures rely on it).
 */
import { MamoriError } from '../errors.ts';
import { formatDateTime, formatTime } from './format.ts';
import { bodyText, headerText, isDomain } from './header-safe.ts';
import { layoutHtml, layoutText, type EmailDocument } from './layout.ts';
import { encodeIdPart, messageIdFor } from './message-id.ts';
import { scrubDeep, type Scrubber } from './scrub.ts';
import type { Template, TemplateContext, TemplateSet } from './template-context.ts';
import { EN } from './templates-en.ts';
import { JA } from './templates-ja.ts';
import type { Locale, Notification, NotificationKind, RenderedEmail } from './types.ts';
import { validateNotification } from './validate-notification.ts';

export interface RenderOptions {
  /** The right-hand side of every Message-ID (`mamori.example.net`). */
  messageIdDomain: string;
  /** Message-ID of the first message of this notification's thread; absent for the first one. */
  threadRoot?: string;
  /** The zone times are shown in (Asia/Tokyo). */
  timeZone?: string;
  /** `[mamori]` by default. */
  subjectPrefix?: string;
  /** How the provider signs, per language. */
  providerName?: Partial<Record<Locale, string>>;
  /** The caller's defence against a secret in a fact (see scrub.ts). */
  scrub?: Scrubber;
}

export const DEFAULT_PROVIDER_NAME: Readonly<Record<Locale, string>> = Object.freeze({
  ja: 'mamori 障害復旧サービス',
  en: 'mamori fault recovery service',
});

const TEMPLATES: Readonly<Record<Locale, TemplateSet>> = { ja: JA, en: EN };

const MSG_ID = /^<[\x21-\x3b\x3d\x3f-\x7e]{1,250}@[A-Za-z0-9.-]{1,253}>$/;

/** The single-line fields that reach subjects and greetings, flattened (no header injection). */
function flatten(n: Notification): Notification {
  const copy = structuredClone(n);
  copy.to.name = copy.to.name === undefined ? undefined : headerText(copy.to.name, 100);
  if (copy.to.name === undefined) delete copy.to.name;
  if (copy.to.organization !== undefined) copy.to.organization = headerText(copy.to.organization, 100);
  if (copy.server) {
    copy.server = { name: headerText(copy.server.name, 64), customer: headerText(copy.server.customer, 64), address: headerText(copy.server.address, 64) };
  }
  return copy;
}

function build<K extends NotificationKind>(set: TemplateSet, n: Notification & { kind: K }, ctx: TemplateContext) {
  const template = set[n.kind] as Template<K>;
  return template(n as Parameters<Template<K>>[0], ctx);
}

export function render(notification: Notification, options: RenderOptions): RenderedEmail {
  if (!isDomain(options.messageIdDomain)) {
    throw new MamoriError('MAMORI_NOTIFY_OPTIONS_INVALID', `messageIdDomain is not a domain name: ${JSON.stringify(options.messageIdDomain)}`);
  }
  if (options.threadRoot !== undefined && !MSG_ID.test(options.threadRoot)) {
    throw new MamoriError('MAMORI_NOTIFY_OPTIONS_INVALID', 'threadRoot is not a Message-ID');
  }
  const scrub: Scrubber = options.scrub ?? ((t) => t);
  const n = flatten(scrubDeep(validateNotification(notification), scrub));
  const locale: Locale = n.to.locale ?? 'ja';
  const timeZone = options.timeZone ?? 'Asia/Tokyo';
  const ctx: TemplateContext = {
    dt: (iso) => formatDateTime(iso, locale, timeZone),
    time: (iso) => formatTime(iso, timeZone),
    providerName: headerText(options.providerName?.[locale] ?? DEFAULT_PROVIDER_NAME[locale], 100),
  };
  let body: ReturnType<typeof build>;
  try {
    body = build(TEMPLATES[locale], n, ctx);
  } catch (cause) {
    // The types keep typed callers right; this is for data that reached us around them.
    throw new MamoriError('MAMORI_NOTIFY_INVALID', `notification ${n.id}: facts do not fit kind ${n.kind}`, { cause, details: { field: 'facts' } });
  }
  const prefix = headerText(options.subjectPrefix ?? '[mamori]', 40);
  const subject = scrub(headerText(`${prefix} ${body.subject}`, 200));
  const doc: EmailDocument = { locale, subject, blocks: body.blocks };

  const messageId = messageIdFor(n.id, options.messageIdDomain);
  const headers: Record<string, string> = {
    'Message-ID': messageId,
    'Auto-Submitted': 'auto-generated',
    // Keeps out-of-office replies from Exchange/Outlook off the relay.
    'X-Auto-Response-Suppress': 'All',
    'X-Mamori-Kind': n.kind,
    'X-Mamori-Notification': encodeIdPart(n.id),
  };
  if (n.incident) headers['X-Mamori-Incident'] = encodeIdPart(n.incident.id);
  if (options.threadRoot !== undefined && options.threadRoot !== messageId) {
    headers['In-Reply-To'] = options.threadRoot;
    headers.References = options.threadRoot;
  }
  return {
    subject,
    text: scrub(bodyText(layoutText(doc))),
    html: scrub(bodyText(layoutHtml(doc))),
    headers,
  };
}
