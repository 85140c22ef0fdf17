/**
 * The report as e-mail: one `monthly-report` notification per contact (a contact with several
 * servers gets one message), in the contact's language. Its id names customer, month and contact,
 * so the outbox sends it once however often the command runs. Pure.
 */
import type { MonthlyReportFacts, Notification } from '../notify/types.ts';
import type { MonthlyReport, ReportServer } from './types.ts';

export interface ReportMail {
  to: string;
  servers: string[];
  notification: Notification;
}

export function reportNotifications(r: MonthlyReport): { mails: ReportMail[]; withoutContact: string[] } {
  const byContact = new Map<string, ReportServer[]>();
  const withoutContact: string[] = [];
  for (const s of r.servers) {
    if (s.contact === undefined) {
      withoutContact.push(s.name);
      continue;
    }
    const list = byContact.get(s.contact.email) ?? [];
    list.push(s);
    byContact.set(s.contact.email, list);
  }
  const mails: ReportMail[] = [];
  for (const [email, servers] of byContact) {
    const contact = servers[0]?.contact;
    const facts: MonthlyReportFacts = {
      month: r.month,
      customer: r.customer,
      periodStart: r.period.start,
      periodEnd: r.period.end,
      partial: r.period.partial,
      servers: servers.map((s) => ({
        name: s.name,
        services: s.services.map((v) => ({ service: v.service, availability: v.availability, upSeconds: Math.round(v.upMs / 1000), downSeconds: Math.round(v.downMs / 1000), disputedSeconds: Math.round(v.disputedMs / 1000), unknownSeconds: Math.round(v.unknownMs / 1000) })),
        incidents: s.incidents.map((i) => ({
          id: i.id,
          target: i.target,
          openedAt: i.openedAt,
          ...(i.closedAt !== undefined ? { closedAt: i.closedAt } : {}),
          ...(i.closeReason !== undefined ? { closeReason: i.closeReason } : {}),
          ...(i.timeToRecoveryMs !== undefined ? { timeToRecoverySeconds: Math.round(i.timeToRecoveryMs / 1000) } : {}),
          verdicts: i.attempts.map((a) => a.verdict ?? 'running'),
          powerActions: i.attempts.reduce((n, a) => n + a.powerActions, 0),
        })),
      })),
    };
    mails.push({
      to: email,
      servers: servers.map((s) => s.name),
      notification: {
        id: `report:${r.customer}:${r.month}${r.period.partial ? `:partial-${r.period.end.slice(0, 10)}` : ''}:${email}`.slice(0, 128),
        kind: 'monthly-report',
        to: { email, ...(contact?.locale !== undefined ? { locale: contact.locale } : {}), ...(contact?.name !== undefined ? { name: contact.name } : {}), ...(contact?.displayName !== undefined ? { organization: contact.displayName } : {}), ...(contact?.cc !== undefined ? { cc: contact.cc } : {}) },
        occurredAt: r.generatedAt,
        facts,
      },
    });
  }
  return { mails, withoutContact };
}
