/** The notifier's log messages: constant strings, data in fields (notification, kind, messageId, …). */
export const NOTIFY_LOG = {
  queued: 'notification queued',
  duplicate: 'notification already queued or sent; ignored',
  folded: 'notification folded into the next digest (rate exceeded)',
  digestQueued: 'digest queued',
  sent: 'notification sent',
  retry: 'notification not sent; will retry',
  gaveUp: 'notification could not be delivered; moved to failed/',
  relayDown: 'mail relay unavailable; holding the outbox',
  resend: 'notification was being sent when mamori stopped; sending it again',
  corrupt: 'outbox file unreadable; moved to corrupt/',
  loopError: 'outbox pass failed',
  elsewhere: 'notification settled already by the replicas (sent, refused or folded); not sent here',
  ledgerWait: 'notification waits for the replicas\' ledger (etcd unreachable, fenced, or an earlier send in doubt)',
} as const;
