/** What every template gets besides the notification: formatting bound to the recipient's zone. */
import type { EmailDocument } from './layout.ts';
import type { NotificationKind, NotificationOf } from './types.ts';

export interface TemplateContext {
  /** Formats an ISO time in the recipient's zone and language. */
  dt(iso: string): string;
  /** Time of day only. */
  time(iso: string): string;
  /** The provider's name as it signs (e.g. `mamori 障害復旧サービス`). */
  providerName: string;
}

/** A template gives the subject (without the prefix) and the blocks of the body. */
export type Template<K extends NotificationKind> = (n: NotificationOf<K>, ctx: TemplateContext) => Omit<EmailDocument, 'locale'>;

export type TemplateSet = { [K in NotificationKind]: Template<K> };

/** IPv4 CIDR to the `net/mask` form TCP wrappers read; other forms are returned as given. */
export function hostsAllowForm(cidr: string): string {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  if (!m || m[1] === undefined || m[2] === undefined) return cidr.includes(':') ? `[${cidr.split('/')[0]}]/${cidr.split('/')[1] ?? '128'}` : cidr;
  const bits = Number(m[2]);
  if (bits > 32) return cidr;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const octets = [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff);
  return `${m[1]}/${octets.join('.')}`;
}

/** A long list keeps its head and its tail (the latest state); the middle becomes one line. */
export function elide(items: string[], max: number, middle: (omitted: number) => string): string[] {
  if (items.length <= max) return items;
  const head = Math.floor(max / 2);
  const tail = max - head;
  return [...items.slice(0, head), middle(items.length - max), ...items.slice(items.length - tail)];
}

/**
 * The Japanese greeting: the company on its own line above the person (株式会社アクメ / 山田 太郎 様),
 * 〜 ご担当者様 when no person is named; the customer's id only when there is no display name.
 */
export function greetingJa(to: { name?: string; organization?: string }, customer: string | undefined): string {
  if (to.organization) return `${to.organization}\n${to.name ? `${to.name} 様` : 'ご担当者様'}`;
  if (to.name) return `${to.name} 様`;
  return customer ? `${customer} ご担当者様` : 'ご担当者様';
}

/** The English greeting: `Dear Taro Yamada (Acme Corporation),`, `Dear Acme Corporation team,`. */
export function greetingEn(to: { name?: string; organization?: string }, customer: string | undefined): string {
  const org = to.organization ?? customer;
  if (to.name) return to.organization ? `Dear ${to.name} (${to.organization}),` : `Dear ${to.name},`;
  return org ? `Dear ${org} team,` : 'Dear customer,';
}
