/**
 * The daemon's side of one send per notification across replicas: the two ledgers (mail,
 * webhooks) the outboxes are opened with, and the orphan scan that hands a gone replica's queued
 * notifications to the replica that owns their server now.
 */
import type { Logger } from 'pino';
import type { LedgerBeginResult, LedgerKey, LedgerPayload, SendLedger } from '../notify/send-ledger.ts';
import type { Cluster } from './cluster.ts';
import { EtcdSendLedger, OrphanAdopter } from './send-ledger.ts';

export interface NotifyLedgerOptions {
  /** The longest a mail send may run (the relay's connection + greeting + socket timeouts). */
  mailSendMs: number;
  /** The longest a webhook post may run (the endpoints' largest timeout). */
  webhookSendMs: number;
  retentionMs: number;
}

export interface NotifyLedgers {
  mail: SendLedger;
  webhook: SendLedger;
  /** Starts the orphan scan once the outboxes that adopt are open. */
  start(adopt: { mail: (payload: LedgerPayload) => Promise<'queued' | 'settled'>; webhook?: (payload: LedgerPayload) => Promise<'queued' | 'settled'> }): void;
  stop(): Promise<void>;
}

export function notifyLedgers(cluster: Cluster, o: NotifyLedgerOptions, logger: Logger): NotifyLedgers {
  const log = logger.child({ component: 'send-ledger' });
  const ttlMs = cluster.options.ttlSeconds * 1000;
  const mail = new EtcdSendLedger(cluster, { channel: 'mail', inDoubtMs: ttlMs + o.mailSendMs, retentionMs: o.retentionMs }, log);
  const webhook = new EtcdSendLedger(cluster, { channel: 'webhook', inDoubtMs: ttlMs + o.webhookSendMs, retentionMs: o.retentionMs }, log);
  let adopter: OrphanAdopter | undefined;
  const hold = process.env.MAMORI_TEST_HOLD_SEND;
  return {
    mail: hold ? holdForTest(mail, hold, log) : mail,
    webhook: hold ? holdForTest(webhook, hold, log) : webhook,
    start(adopt) {
      adopter = new OrphanAdopter(
        cluster,
        [
          { ledger: mail, adopt: adopt.mail },
          ...(adopt.webhook !== undefined ? [{ ledger: webhook, adopt: adopt.webhook }] : []),
        ],
        Math.max(2000, ttlMs),
        log,
      );
      adopter.start();
    },
    async stop() {
      await adopter?.stop();
    },
  };
}

/**
 * TEST HOOK, never set in production: `MAMORI_TEST_HOLD_SEND=recovered,incident.recovered` holds
 * each send of those kinds (mail) or types (webhook) for up to two minutes before the ledger is
 * asked — after the notification was decided, recorded and queued, before anything is sent — so
 * that a lab test can kill the replica in exactly that window.
 */
function holdForTest(ledger: SendLedger, kinds: string, log: Logger): SendLedger {
  const wanted = new Set(kinds.split(',').map((k) => k.trim()).filter((k) => k !== ''));
  return {
    record: (key, payload) => ledger.record(key, payload),
    async begin(key: LedgerKey, payload: () => LedgerPayload): Promise<LedgerBeginResult> {
      const p = payload();
      const kind = (p.notification as { kind?: unknown } | undefined)?.kind ?? p.type;
      if (typeof kind === 'string' && wanted.has(kind)) {
        log.warn({ notification: key.id, kind }, 'TEST HOOK MAMORI_TEST_HOLD_SEND: send held before the ledger');
        await new Promise((r) => setTimeout(r, 120_000).unref());
      }
      return ledger.begin(key, payload);
    },
    end: (key, ticket, state) => ledger.end(key, ticket, state),
    release: (key, ticket) => ledger.release(key, ticket),
    folded: (keys, digestId) => ledger.folded(keys, digestId),
  };
}
