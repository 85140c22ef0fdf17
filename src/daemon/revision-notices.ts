/**
 * The mails and webhook events about revisions: what DesiredState reports as data (a revision
 * refused or held, files refused for their signer) turned into notifications for the outbox.
 * Here, on the daemon's side, so that src/source builds no notification and imports nothing of
 * src/notify. The operator hears of refused and held revisions when mail.operator is set, or —
 * addressed to '' — when webhooks take operator events (mail skips those); refused changes also
 * go to the customers whose files they are.
 */
import type { Logger } from '../log.ts';
import type { Notification } from '../notify/types.ts';
import type { RevisionProblem } from '../source/desired.ts';
import { refusalNotices } from './refusal-notices.ts';

export interface RevisionNoticeOptions {
  operatorEmail?: string | undefined;
  /** Operator messages are told even without operatorEmail (addressed to ''): webhooks take them, mail skips them. */
  operatorEventsWithoutEmail?: boolean;
  /** The source's description (repository and branch, or folder), named in the mails. */
  source?: string | undefined;
}

/** Revision ids are digests or commit ids; the notification id keeps their letters and digits. */
const idPart = (revision: string): string => revision.replace(/[^A-Za-z0-9]/g, '');

export function revisionNotifications(problem: RevisionProblem, o: RevisionNoticeOptions): Notification[] {
  if (problem.kind === 'changes-refused') {
    return refusalNotices({ revision: problem.revision, refusals: problem.refusals, servers: problem.servers, operatorEmail: o.operatorEmail, source: o.source, at: problem.at });
  }
  if (!o.operatorEmail && o.operatorEventsWithoutEmail !== true) return [];
  const to = { email: o.operatorEmail ?? '' };
  if (problem.kind === 'revision-refused') {
    const { revision, findings, message } = problem;
    return [
      {
        id: `revision-refused-${idPart(revision)}`,
        kind: 'revision-refused',
        to,
        occurredAt: problem.at,
        facts: {
          revision,
          source: o.source,
          errors: findings.length > 0 ? findings.slice(0, 50).map((f) => ({ file: f.file, line: f.line, field: f.field, message: f.message })) : [{ file: '', message }],
          keptRevision: problem.keptRevision,
        },
      },
    ];
  }
  const { revision, reason, message, affected } = problem;
  return [
    {
      id: `revision-held-${idPart(revision)}`,
      kind: 'revision-held',
      to,
      occurredAt: problem.since,
      facts: { revision, reason, message, affected: affected.slice(0, 50), keptRevision: problem.keptRevision, releaseCommand: `mamori confirm ${revision}` },
    },
  ];
}

/** Queues each notification of a problem; one that cannot be queued is logged and does not stop the others. */
export async function tellRevisionProblem(problem: RevisionProblem, o: RevisionNoticeOptions, notify: (n: Notification) => Promise<void>, logger: Logger): Promise<void> {
  for (const n of revisionNotifications(problem, o)) {
    try {
      await notify(n);
    } catch (err) {
      logger.warn({ err, kind: n.kind }, problem.kind === 'changes-refused' ? 'refused-change notification could not be queued' : 'operator notification could not be queued');
    }
  }
}
