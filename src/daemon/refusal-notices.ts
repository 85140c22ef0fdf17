/**
 * The mails about refused changes (signed changes): one to the operator with every file refused in
 * the revision, and one to each customer whose files they are, at the contacts of that customer's
 * servers. Each lists the commit, the file and who signed it. Ids are a digest of the recipient, the
 * commits and the files, so a refusal carried into later revisions (or re-queued after a crash) is
 * not told twice.
 */
import { createHash } from 'node:crypto';
import type { ServerDocument } from '../manifest/types.ts';
import type { ChangeRefusedFacts, Notification, Recipient } from '../notify/types.ts';
import type { ChangeRefusal } from '../source/judge-changes.ts';

export interface RefusalNoticeInput {
  revision: string;
  refusals: readonly ChangeRefusal[];
  /** The servers applied with the revision: their contacts are the customers' addresses. */
  servers: readonly ServerDocument[];
  operatorEmail?: string | undefined;
  source?: string | undefined;
  at: string;
}

/** The customer a manifest path belongs to (`customers/<c>/…`), if any. */
export function customerOfPath(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'customers' && parts.length > 2 && parts[1] ? parts[1] : undefined;
}

function changesOf(refusals: readonly ChangeRefusal[]): ChangeRefusedFacts['changes'] {
  return refusals.flatMap((r) =>
    r.offenders.map((o) => ({
      file: r.path,
      commit: o.commit,
      signature: o.status,
      ...(o.signer !== undefined ? { signer: o.signer } : {}),
      ...(o.key !== undefined ? { key: o.key } : {}),
      allowed: [...r.allowed],
      kept: r.accepted !== null,
    })),
  );
}

function idOf(who: string, changes: ChangeRefusedFacts['changes']): string {
  // Paths are customer text (any bytes but NUL): the id, a file name in the outbox, is a digest.
  const digest = createHash('sha256').update(`${who}\0${changes.map((c) => `${c.commit}\0${c.file}`).join('\0')}`).digest('hex');
  return `change-refused-${digest.slice(0, 40)}`;
}

export function refusalNotices(input: RefusalNoticeInput): Notification[] {
  if (input.refusals.length === 0) return [];
  const out: Notification[] = [];
  const base = { revision: input.revision, ...(input.source !== undefined ? { source: input.source } : {}) };
  if (input.operatorEmail) {
    const changes = changesOf(input.refusals);
    out.push({ id: idOf('operator', changes), kind: 'change-refused', to: { email: input.operatorEmail, locale: 'en' }, occurredAt: input.at, facts: { ...base, changes } });
  }
  const byCustomer = new Map<string, ChangeRefusal[]>();
  for (const r of input.refusals) {
    const c = customerOfPath(r.path);
    if (c !== undefined) byCustomer.set(c, [...(byCustomer.get(c) ?? []), r]);
  }
  for (const [customer, refusals] of byCustomer) {
    const recipients = new Map<string, Recipient>();
    for (const doc of input.servers) {
      if (doc.metadata.customer !== customer) continue;
      const c = doc.spec.contact;
      if (recipients.has(c.email)) continue;
      const to: Recipient = { email: c.email, locale: c.locale ?? 'ja' };
      if (c.name !== undefined) to.name = c.name;
      if (c.displayName !== undefined) to.organization = c.displayName;
      recipients.set(c.email, to);
    }
    const changes = changesOf(refusals);
    for (const to of recipients.values()) {
      out.push({ id: idOf(`${customer}:${to.email}`, changes), kind: 'change-refused', to, occurredAt: input.at, facts: { ...base, customer, changes } });
    }
  }
  return out;
}
