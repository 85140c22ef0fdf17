/**
 * Webhook deliveries through the durable outbox: the mail outbox's folder (`<outbox>/webhooks/`)
 * and its discipline — a delivery is on disk (fsync'd) before `notify()` resolves, a sender loop
 * posts it with bounded, jittered exponential backoff, and what was queued is still there after a
 * restart. What mail has and webhooks do not need (rendering, threads, rate folding into digests)
 * stays in `outbox.ts`; one record here is one event for one endpoint.
 *
 * On disk (one JSON file per delivery, written atomically, folder fsync'd after every rename):
 *   pending/<endpoint>|<event>.json   queued (state pending | sending)
 *   sent/…                            the endpoint answered 2xx
 *   failed/…                          given up: refused (4xx other than 408/425/429, a redirect)
 *                                     or older than retry.maxAgeMs
 *   corrupt/                          unreadable files, set aside
 * Done records are forgotten after retentionMs (30 days) at start; within it a re-told event
 * (the same id) is recognised and not queued again.
 *
 * Delivery is AT LEAST ONCE, and every copy of an event carries the same `webhook-id` (the event
 * id, the idempotency key) and the same body; the signature is made anew per attempt (a fresh
 * timestamp). A crash between the receiver's 2xx and the sent record re-posts on restart.
 * Per endpoint, deliveries go in the order they were queued, and an endpoint that is down (no
 * answer, 5xx, 429) holds its own queue back until its next attempt — never another endpoint's.
 *
 * With replicas (a `ledger`), each delivery (endpoint × event) is one idempotency record shared by
 * the replicas, as in outbox.ts: recorded before it is queued, taken right before the post, settled
 * after the endpoint's answer.
 */
import { MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { backoffDelay } from './backoff.ts';
import { fileIdFor } from './outbox.ts';
import { Spool, WakeLoop } from './spool.ts';
import type { LedgerKey, SendLedger, SendTicket } from './send-ledger.ts';
import type { Notification, Notifier } from './types.ts';
import { eventOfNotification, type WebhookEvent, type WebhookEventType } from './webhook-event.ts';
import { signedHeaders } from './webhook-signature.ts';

export interface WebhookEndpoint {
  /** The endpoint's name in the config: what logs, status and metrics say (never the URL: a chat hook's URL is often a credential). */
  name: string;
  url: string;
  /** The HMAC key (signingKey(secret)). */
  key: Buffer;
  /** The event types this endpoint is sent. */
  events: readonly WebhookEventType[];
  timeoutMs: number;
  retry: { baseDelayMs: number; maxDelayMs: number; maxAgeMs: number };
}

export interface WebhookOutboxOptions {
  /** `<stateDir>/outbox/webhooks`. */
  dir: string;
  endpoints: readonly WebhookEndpoint[];
  retentionMs?: number;
  userAgent?: string;
}

export interface WebhookOutboxDeps {
  logger: Logger;
  now?: () => number;
  random?: () => number;
  /** Replicas: the shared idempotency record (see the header). */
  ledger?: SendLedger;
}

export interface WebhookEndpointStats {
  name: string;
  pending: number;
  sent: number;
  failed: number;
  lastSuccessAt?: string;
  lastError?: string;
  /** While the endpoint is down: when its queue is tried again. */
  retryAt?: string;
}

interface DeliveryRecord {
  v: 1;
  endpoint: string;
  eventId: string;
  type: WebhookEventType;
  /** The exact bytes posted, every attempt. */
  body: string;
  seq: number;
  enqueuedAt: number;
  state: 'pending' | 'sending';
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
}

interface DoneRecord extends Omit<DeliveryRecord, 'state'> {
  /** `elsewhere`: the replicas' ledger says it was settled already (replicas only). */
  state: 'sent' | 'failed' | 'elsewhere';
  doneAt: number;
  status?: number;
}

type Outcome = { ok: true; status: number } | { ok: false; permanent: boolean; error: string; retryAfterMs?: number };

const FOLDERS = ['pending', 'sent', 'failed', 'corrupt'] as const;
type Folder = (typeof FOLDERS)[number];

export const WEBHOOK_LOG = {
  queued: 'webhook event queued',
  duplicate: 'webhook event already queued or delivered; ignored',
  sent: 'webhook event delivered',
  retry: 'webhook endpoint did not take the event; will retry',
  gaveUp: 'webhook event could not be delivered; moved to failed/',
  resend: 'webhook event was being posted when mamori stopped; posting it again',
  corrupt: 'webhook outbox file unreadable; moved to corrupt/',
  orphan: 'webhook events queued for an endpoint no longer configured; kept until it is',
  loopError: 'webhook outbox pass failed',
  elsewhere: 'webhook event settled already by the replicas; not posted here',
} as const;

/** The ledger's key of one delivery: the endpoint and the event id, namespaced by the event's customer and server. */
export function webhookLedgerKey(endpoint: string, event: Pick<WebhookEvent, 'id' | 'server'>): LedgerKey {
  return { id: `${endpoint}|${event.id}`, ...(event.server !== undefined ? { customer: event.server.customer, server: event.server.name } : {}) };
}

/** What a replica taking a delivery over needs: the exact body and its id. */
interface LedgerDelivery {
  endpoint: string;
  eventId: string;
  type: WebhookEventType;
  body: string;
  server?: { name: string; customer: string };
}

/** What a failed attempt says, without the URL (its path or query may be the hook's credential). */
function attemptError(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timeout';
  const cause = err instanceof Error ? (err as { cause?: unknown }).cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : 'error';
}

function retryAfterMs(value: string | null): number | undefined {
  if (value === null || !/^[0-9]{1,6}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

export class WebhookOutbox implements Notifier {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly ledger: SendLedger | undefined;
  private readonly endpoints: Map<string, WebhookEndpoint>;
  private readonly retentionMs: number;
  private readonly userAgent: string;
  private readonly pending = new Map<string, DeliveryRecord>();
  private readonly blockedUntil = new Map<string, number>();
  private readonly counters = new Map<string, { sent: number; failed: number; lastSuccessAt?: number; lastError?: string }>();
  private seq = 0;
  /** The folders on disk; every disk change runs through its queue, one at a time. */
  private readonly spool: Spool<Folder>;
  private readonly loop: WakeLoop<void>;

  private constructor(
    private readonly options: WebhookOutboxOptions,
    deps: WebhookOutboxDeps,
  ) {
    this.log = deps.logger.child({ component: 'webhooks' });
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.ledger = deps.ledger;
    this.endpoints = new Map(options.endpoints.map((e) => [e.name, e]));
    this.retentionMs = options.retentionMs ?? 30 * 24 * 3_600_000;
    this.userAgent = options.userAgent ?? 'mamori';
    for (const e of options.endpoints) this.counters.set(e.name, { sent: 0, failed: 0 });
    this.spool = new Spool(options.dir, FOLDERS);
    this.loop = new WakeLoop(
      () => this.pass(),
      () => this.nextWakeAt(),
      this.now,
      (err) => this.log.error({ err: err instanceof Error ? err.message : String(err) }, WEBHOOK_LOG.loopError),
    );
  }

  /** Creates the folders and reads what a previous run left queued. */
  static async open(options: WebhookOutboxOptions, deps: WebhookOutboxDeps): Promise<WebhookOutbox> {
    const outbox = new WebhookOutbox(options, deps);
    await outbox.load();
    return outbox;
  }

  get endpointNames(): string[] {
    return [...this.endpoints.keys()];
  }

  private file(folder: Folder, fileId: string): string {
    return this.spool.file(folder, fileId);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    return this.spool.serial(task);
  }

  private async write(folder: Folder, fileId: string, data: unknown, durable = true): Promise<void> {
    await this.spool.write(folder, fileId, data, durable);
  }

  private async load(): Promise<void> {
    await this.spool.open();
    await this.spool.prune(['sent', 'failed'], this.now() - this.retentionMs);
    const orphans = new Map<string, number>();
    const corrupt = (file: string): void => {
      const err = new MamoriError('MAMORI_NOTIFY_OUTBOX_CORRUPT', undefined, { details: { file: `webhooks/${file}` } });
      this.log.error({ code: err.code, file: `webhooks/${file}` }, WEBHOOK_LOG.corrupt);
    };
    for (const { fileId, data: record } of await this.spool.readAll('pending', 'corrupt', isDeliveryRecord, corrupt)) {
      if (record.state === 'sending') this.log.warn({ endpoint: record.endpoint, event: record.eventId, type: record.type }, WEBHOOK_LOG.resend);
      // A restart is a moment to try again: whatever made the endpoint fail may have been fixed.
      record.state = 'pending';
      record.nextAttemptAt = this.now();
      this.pending.set(fileId, record);
      this.seq = Math.max(this.seq, record.seq);
      if (!this.endpoints.has(record.endpoint)) orphans.set(record.endpoint, (orphans.get(record.endpoint) ?? 0) + 1);
    }
    for (const [endpoint, count] of orphans) this.log.warn({ endpoint, count }, WEBHOOK_LOG.orphan);
  }

  /** Notifier: the notification's webhook event (if it is one) is durably queued for every endpoint that wants it. */
  async notify(n: Notification): Promise<void> {
    const event = eventOfNotification(n);
    if (event !== undefined) await this.enqueue(event);
  }

  /** Queues the event for each endpoint that takes its type; resolves once on disk. Returns how many were queued anew. */
  async enqueue(event: WebhookEvent): Promise<number> {
    let targets = [...this.endpoints.values()].filter((e) => e.events.includes(event.type));
    if (targets.length === 0) return 0;
    const body = JSON.stringify(event);
    if (this.ledger !== undefined) {
      // Recorded for every replica first: a delivery another replica recorded first is its to post.
      const mine: WebhookEndpoint[] = [];
      for (const endpoint of targets) {
        const fileId = fileIdFor(`${endpoint.name}|${event.id}`);
        if (this.pending.has(fileId) || (await this.spool.existsIn(['sent', 'failed'], fileId))) continue;
        const payload: LedgerDelivery = { endpoint: endpoint.name, eventId: event.id, type: event.type, body, ...(event.server !== undefined ? { server: event.server } : {}) };
        if ((await this.ledger.record(webhookLedgerKey(endpoint.name, event), { ...payload })) !== 'known') mine.push(endpoint);
      }
      targets = mine;
    }
    return this.queue(targets, event.id, event.type, body);
  }

  /**
   * Replicas: a delivery of a replica that is gone, taken over through the ledger (its holder
   * taken). `settled` when this outbox had delivered or given it up already.
   */
  async adopt(payload: unknown): Promise<'queued' | 'settled'> {
    const d = payload as Partial<LedgerDelivery>;
    const endpoint = typeof d.endpoint === 'string' ? this.endpoints.get(d.endpoint) : undefined;
    if (endpoint === undefined || typeof d.eventId !== 'string' || typeof d.body !== 'string' || typeof d.type !== 'string') {
      throw new MamoriError('MAMORI_NOTIFY_INVALID', `webhook delivery taken over for an endpoint not configured here (${String(d.endpoint)})`, { details: { field: 'endpoint' } });
    }
    if (await this.spool.existsIn(['sent', 'failed'], fileIdFor(`${endpoint.name}|${d.eventId}`))) return 'settled';
    await this.queue([endpoint], d.eventId, d.type, d.body);
    return 'queued';
  }

  private queue(targets: readonly WebhookEndpoint[], eventId: string, type: WebhookEventType, body: string): Promise<number> {
    const event = { id: eventId, type };
    return this.serial(async () => {
      let queued = 0;
      for (const endpoint of targets) {
        const fileId = fileIdFor(`${endpoint.name}|${event.id}`);
        const fields = { endpoint: endpoint.name, event: event.id, type: event.type };
        if (this.pending.has(fileId) || (await this.spool.existsIn(['sent', 'failed'], fileId))) {
          this.log.debug(fields, WEBHOOK_LOG.duplicate);
          continue;
        }
        const now = this.now();
        this.seq += 1;
        const record: DeliveryRecord = { v: 1, endpoint: endpoint.name, eventId: event.id, type: event.type, body, seq: this.seq, enqueuedAt: now, state: 'pending', attempts: 0, nextAttemptAt: now };
        await this.write('pending', fileId, record);
        this.pending.set(fileId, record);
        this.log.info(fields, WEBHOOK_LOG.queued);
        queued += 1;
      }
      if (queued > 0) this.kick();
      return queued;
    });
  }

  /** One pass: every due delivery, endpoints side by side, each endpoint's in queue order. Never runs twice at once. */
  runOnce(): Promise<void> {
    return this.loop.runOnce();
  }

  private async pass(): Promise<void> {
    const byEndpoint = new Map<string, string[]>();
    const ordered = [...this.pending.entries()].sort(([, a], [, b]) => a.seq - b.seq);
    for (const [fileId, r] of ordered) {
      if (!this.endpoints.has(r.endpoint)) continue;
      byEndpoint.set(r.endpoint, [...(byEndpoint.get(r.endpoint) ?? []), fileId]);
    }
    await Promise.all(
      [...byEndpoint].map(async ([name, fileIds]) => {
        const endpoint = this.endpoints.get(name);
        if (endpoint === undefined) return;
        for (const fileId of fileIds) {
          if (this.now() < (this.blockedUntil.get(name) ?? 0)) return;
          const r = this.pending.get(fileId);
          if (r === undefined || r.state !== 'pending') continue;
          // In queue order: a later event does not overtake one that waits for its retry.
          if (r.nextAttemptAt > this.now()) return;
          // A retry ends this endpoint's turn: its block may already have expired by the time the
          // outcome is on disk (a slow fsync), and the next event must not overtake this one.
          if ((await this.deliver(endpoint, fileId, r)) === 'retry') return;
        }
      }),
    );
  }

  private async deliver(endpoint: WebhookEndpoint, fileId: string, record: DeliveryRecord): Promise<'sent' | 'failed' | 'retry'> {
    await this.serial(async () => {
      record.state = 'sending';
      // A hint for the log after a crash; a `pending` record found at start is posted as well.
      await this.write('pending', fileId, record, false);
    });
    let ticket: SendTicket | undefined;
    const key = (): LedgerKey => webhookLedgerKey(endpoint.name, { id: record.eventId, ...serverOfBody(record.body) });
    if (this.ledger !== undefined) {
      const gate = await this.ledger.begin(key(), () => ({ endpoint: record.endpoint, eventId: record.eventId, type: record.type, body: record.body })).catch((err: unknown) => {
        record.state = 'pending';
        record.nextAttemptAt = this.now() + backoffDelay(1, endpoint.retry, this.random);
        throw err;
      });
      if (!gate.go) {
        return this.serial(async () => {
          if (gate.why === 'done') {
            const { state: _s, ...rest } = record;
            const done: DoneRecord = { ...rest, state: 'elsewhere', doneAt: this.now() };
            await this.spool.settle('pending', 'sent', fileId, done);
            this.pending.delete(fileId);
            this.log.info({ endpoint: endpoint.name, event: record.eventId, type: record.type, by: gate.by, why: gate.why }, WEBHOOK_LOG.elsewhere);
            return 'sent' as const;
          }
          // Not now (held by another live replica, an earlier post in doubt, etcd unreachable or
          // fenced): kept, and this endpoint's turn ends, in order.
          record.state = 'pending';
          record.nextAttemptAt = Math.max(gate.retryAt, this.now() + 100);
          return 'retry' as const;
        });
      }
      ticket = gate.ticket;
    }
    const outcome = await this.post(endpoint, record);
    if (this.ledger !== undefined && ticket !== undefined) {
      if (outcome.ok) await this.ledger.end(key(), ticket, 'sent');
      else if (outcome.permanent || this.now() - record.enqueuedAt >= endpoint.retry.maxAgeMs) await this.ledger.end(key(), ticket, 'failed');
      else await this.ledger.release(key(), ticket);
    }
    return this.serial(() => this.record(endpoint, fileId, record, outcome)).catch((err: unknown) => {
      // The outcome could not be written (disk full?): keep it queued in memory; on disk it is
      // `sending`, which a restart posts again (at least once, same id).
      record.state = 'pending';
      record.nextAttemptAt = this.now() + backoffDelay(record.attempts + 1, endpoint.retry, this.random);
      throw err;
    });
  }

  private async post(endpoint: WebhookEndpoint, record: DeliveryRecord): Promise<Outcome> {
    try {
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.userAgent,
          'idempotency-key': record.eventId,
          'mamori-event': record.type,
          ...signedHeaders(endpoint.key, record.eventId, record.body, this.now()),
        },
        body: record.body,
        // A redirect could carry the event (and its signature) elsewhere: it is an error to fix in the config.
        redirect: 'manual',
        signal: AbortSignal.timeout(endpoint.timeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
      const retryable = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500;
      const after = retryAfterMs(res.headers.get('retry-after'));
      const error = res.status >= 300 && res.status < 400 ? `HTTP ${res.status} (redirects are not followed)` : `HTTP ${res.status}`;
      return { ok: false, permanent: !retryable, error, ...(after !== undefined ? { retryAfterMs: after } : {}) };
    } catch (err) {
      return { ok: false, permanent: false, error: attemptError(err) };
    }
  }

  private async record(endpoint: WebhookEndpoint, fileId: string, record: DeliveryRecord, outcome: Outcome): Promise<'sent' | 'failed' | 'retry'> {
    const now = this.now();
    const fields = { endpoint: endpoint.name, event: record.eventId, type: record.type, attempt: record.attempts + 1 };
    const counters = this.counters.get(endpoint.name) ?? { sent: 0, failed: 0 };
    this.counters.set(endpoint.name, counters);
    record.attempts += 1;
    const finish = async (state: 'sent' | 'failed', status?: number): Promise<void> => {
      const { state: _s, ...rest } = record;
      const done: DoneRecord = { ...rest, state, doneAt: now, ...(status !== undefined ? { status } : {}) };
      await this.spool.settle('pending', state, fileId, done);
      this.pending.delete(fileId);
    };
    if (outcome.ok) {
      delete record.lastError;
      await finish('sent', outcome.status);
      counters.sent += 1;
      counters.lastSuccessAt = now;
      delete counters.lastError;
      this.blockedUntil.delete(endpoint.name);
      this.log.info({ ...fields, status: outcome.status }, WEBHOOK_LOG.sent);
      return 'sent';
    }
    record.lastError = outcome.error;
    counters.lastError = outcome.error;
    if (outcome.permanent || now - record.enqueuedAt >= endpoint.retry.maxAgeMs) {
      await finish('failed');
      counters.failed += 1;
      this.log.error({ ...fields, err: outcome.error }, WEBHOOK_LOG.gaveUp);
      return 'failed';
    }
    const delay = Math.min(endpoint.retry.maxDelayMs, Math.max(backoffDelay(record.attempts, endpoint.retry, this.random), outcome.retryAfterMs ?? 0));
    record.state = 'pending';
    record.nextAttemptAt = now + delay;
    await this.write('pending', fileId, record);
    // The endpoint is down, not this event: its whole queue waits (in order) for the retry.
    this.blockedUntil.set(endpoint.name, record.nextAttemptAt);
    this.log.warn({ ...fields, err: outcome.error, delayMs: delay }, WEBHOOK_LOG.retry);
    return 'retry';
  }

  /** Per configured endpoint: what waits, what went, the last error (a status code or an error code, never the URL). */
  stats(): WebhookEndpointStats[] {
    return [...this.endpoints.keys()].map((name) => {
      const c = this.counters.get(name) ?? { sent: 0, failed: 0 };
      let pending = 0;
      for (const r of this.pending.values()) if (r.endpoint === name) pending += 1;
      const blocked = this.blockedUntil.get(name);
      const s: WebhookEndpointStats = { name, pending, sent: c.sent, failed: c.failed };
      if (c.lastSuccessAt !== undefined) s.lastSuccessAt = new Date(c.lastSuccessAt).toISOString();
      if (c.lastError !== undefined) s.lastError = c.lastError;
      if (blocked !== undefined && blocked > this.now() && pending > 0) s.retryAt = new Date(blocked).toISOString();
      return s;
    });
  }

  nextWakeAt(): number | undefined {
    let next: number | undefined;
    for (const r of this.pending.values()) {
      if (r.state !== 'pending' || !this.endpoints.has(r.endpoint)) continue;
      const at = Math.max(r.nextAttemptAt, this.blockedUntil.get(r.endpoint) ?? 0);
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  start(): void {
    this.loop.start();
  }

  private kick(): void {
    this.loop.kick();
  }

  /** Stops the loop and waits for a post in flight. Queued deliveries stay on disk. */
  async stop(): Promise<void> {
    await this.loop.stop();
    await this.spool.idle();
  }
}

/** The server an event's body names (the ledger's namespace), read back from the exact bytes queued. */
function serverOfBody(body: string): { server?: { name: string; customer: string } } {
  try {
    const s = (JSON.parse(body) as { server?: { name?: unknown; customer?: unknown } }).server;
    return typeof s?.name === 'string' && typeof s.customer === 'string' ? { server: { name: s.name, customer: s.customer } } : {};
  } catch {
    return {};
  }
}

function isDeliveryRecord(data: unknown): data is DeliveryRecord {
  const r = data as Partial<DeliveryRecord> | null;
  return r?.v === 1 && typeof r.endpoint === 'string' && typeof r.body === 'string' && typeof r.eventId === 'string';
}

/** Notifier fan-out: the mail outbox and the webhook outbox, each durable before this resolves. */
export class TeeNotifier implements Notifier {
  constructor(
    private readonly mail: Notifier,
    private readonly webhooks: Notifier | undefined,
  ) {}

  async notify(n: Notification): Promise<void> {
    // Webhooks first: an operator event without an operator's address (mail.operator unset) still goes to them.
    await this.webhooks?.notify(n);
    if (n.to.email !== '') await this.mail.notify(n);
  }
}
