/**
 * The durable outbox: a notification is on disk (fsync'd) before anything is sent, delivered by a
 * sender loop with bounded, jittered exponential backoff, and still there after a restart.
 *
 * On disk (one JSON file per message, written atomically, folder fsync'd after every rename):
 *   pending/<id>.json   queued: state pending | sending | folded
 *   sent/<id>.json      delivered (and sent/<id>.eml with the file transport)
 *   folded/<id>.json    folded into a digest (the digest is its own pending/sent record)
 *   failed/<id>.json    given up (permanent refusal, or older than retry.maxAgeMs)
 *   corrupt/            unreadable files, set aside
 *   threads/, windows/  threading and rate state
 * Done records, .eml files and thread state are forgotten after retentionMs (30 days) at start-up;
 * within that time a re-notified id is recognised.
 *
 * Delivery is AT LEAST ONCE. Before a send the record is marked `sending`; after the relay accepts,
 * sent/<id>.json is written and pending/<id>.json removed. A crash between the relay's "250" and
 * that record leaves the message in pending/ (marked `sending`, which is logged as a probable
 * duplicate): on restart every message in pending/ is sent again — with the same
 * Message-ID, Date and body, so the copy is recognisable (and many mail stores drop it). We chose
 * a rare duplicate over a lost "your server is down" message. Enqueueing an id that is pending,
 * sent, folded or failed is a no-op: that is what makes "journal first, act second" safe upstream.
 *
 * Storm control: per recipient and server, at most rate.maxPerWindow messages per window go out
 * one by one; further ones (except urgent kinds) are folded and sent as one digest at the window's
 * end. Messages of one incident share a thread, and a new incident of the same server and service
 * within threadJoinMs joins the open thread — a flapping service is one conversation.
 *
 * One Outbox per folder (the daemon's state lock guarantees it); inside the process every change of
 * state goes through one queue, and the relay is never awaited while holding it.
 *
 * With replicas (a `ledger`, src/cluster/send-ledger.ts): a notification is recorded in the shared
 * ledger before it is queued here (one that another replica recorded first is not queued), the
 * ledger is asked right before the relay (one that another replica sent or holds is moved to sent/
 * as `elsewhere`, not sent), and settled after the relay's answer. Without one, nothing changes.
 */
import { serverLabel } from './format.ts';
import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { MamoriError } from '../errors.ts';
import { backoffDelay } from './backoff.ts';
import type { Logger } from '../log.ts';
import { NOTIFY_LOG } from './log-messages.ts';
import { Spool, WakeLoop } from './spool.ts';
import { encodeIdPart, messageIdFor } from './message-id.ts';
import { resolveNotifyOptions, type ResolvedNotifyOptions } from './options.ts';
import { render } from './render.ts';
import { scrubDeep, type Scrubber } from './scrub.ts';
import { createMailTransport, fsyncDir, isPermanentSendError, isRelayError, type MailTransport } from './transport.ts';
import type { DigestItem, Notification, NotificationOf, Notifier } from './types.ts';
import type { LedgerKey, SendLedger, SendTicket } from './send-ledger.ts';

export interface OutboxDeps {
  logger: Logger;
  /** Milliseconds since the epoch; injectable so tests can run an hour in a moment. */
  now?: () => number;
  /** [0, 1): the backoff jitter. */
  random?: () => number;
  /** Applied to every string of a notification before it is written or rendered. */
  scrub?: Scrubber;
  /** A transport of the caller's (tests); by default from options.smtp. */
  transport?: MailTransport;
  /** Replicas: the shared idempotency record (see the header). */
  ledger?: SendLedger;
}

export type EnqueueResult = 'queued' | 'folded' | 'duplicate';

export interface PassResult {
  sent: number;
  retried: number;
  failed: number;
  digests: number;
}

type RecordState = 'pending' | 'sending' | 'folded';

interface OutboxRecord {
  v: 1;
  notification: Notification;
  messageId: string;
  threadRoot?: string;
  seq: number;
  enqueuedAt: number;
  state: RecordState;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
  /** For a folded record: the rate window it waits in. */
  window?: { key: string; start: number };
}

interface SentRecord extends Omit<OutboxRecord, 'state'> {
  /** `elsewhere`: the replicas' ledger says it was settled already (replicas only). */
  state: 'sent' | 'failed' | 'folded' | 'elsewhere';
  doneAt: number;
  response?: string;
  digestId?: string;
}

interface ThreadState {
  key: string;
  root: string;
  lastAt: number;
}

interface WindowState {
  key: string;
  start: number;
  count: number;
}

const FOLDERS = ['pending', 'sent', 'folded', 'failed', 'corrupt', 'threads', 'windows'] as const;
type Folder = (typeof FOLDERS)[number];

/** A file name for any id: readable where the id is, bounded in length, one-to-one. */
export function fileIdFor(id: string): string {
  const encoded = encodeIdPart(id);
  if (encoded.length <= 180) return encoded;
  return `${encoded.slice(0, 120)}~${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

/** The ledger's key of a notification: its id, namespaced by the customer and server it is about. */
export function ledgerKeyOf(n: Notification): LedgerKey {
  return { id: n.id, ...(n.server !== undefined ? { customer: n.server.customer, server: n.server.name } : {}) };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

export class Outbox implements Notifier {
  readonly options: ResolvedNotifyOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly scrub: Scrubber;
  private readonly transport: MailTransport;
  private readonly ledger: SendLedger | undefined;
  private readonly pending = new Map<string, OutboxRecord>();
  private readonly threads = new Map<string, ThreadState>();
  private readonly windows = new Map<string, WindowState>();
  private seq = 0;
  /** The folders on disk; every disk change of the outbox runs through its queue, one at a time. */
  private readonly spool: Spool<Folder>;
  private readonly loop: WakeLoop<PassResult>;
  private relayBlockedUntil = 0;
  /** Delivered and given up since the start (for the metrics). */
  private sentCount = 0;
  private failedCount = 0;

  private constructor(options: ResolvedNotifyOptions, deps: OutboxDeps) {
    this.options = options;
    this.log = deps.logger.child({ component: 'outbox' });
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.scrub = deps.scrub ?? ((t) => t);
    this.transport = deps.transport ?? createMailTransport(options);
    this.ledger = deps.ledger;
    this.spool = new Spool(options.dir, FOLDERS);
    this.loop = new WakeLoop(
      () => this.pass(),
      () => this.nextWakeAt(),
      this.now,
      (err) => this.log.error({ err: errorText(err) }, NOTIFY_LOG.loopError),
    );
  }

  /** Validates the options, creates the folders and reads what a previous run left queued. */
  static async open(options: unknown, deps: OutboxDeps): Promise<Outbox> {
    const outbox = new Outbox(resolveNotifyOptions(options), deps);
    await outbox.load();
    return outbox;
  }

  private file(folder: Folder, fileId: string): string {
    return this.spool.file(folder, fileId);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    return this.spool.serial(task);
  }

  /**
   * `durable`: fsync'd, folder too — a queued message and its sent record. `atomic`: replaced whole
   * but not fsync'd — hints whose loss in a power cut costs at most a new thread, one message past
   * the rate or a duplicate, never a message (threads, windows, the `sending` mark, folded records).
   */
  private async write(folder: Folder, fileId: string, data: unknown, how: 'durable' | 'atomic' = 'durable'): Promise<void> {
    await this.spool.write(folder, fileId, data, how === 'durable' && folder !== 'threads' && folder !== 'windows');
  }

  private readonly corrupt = (file: string, cause?: unknown): void => {
    const err = new MamoriError('MAMORI_NOTIFY_OUTBOX_CORRUPT', undefined, { ...(cause === undefined ? {} : { cause }), details: { file } });
    this.log.error({ err, code: err.code, file }, NOTIFY_LOG.corrupt);
  };

  private async load(): Promise<void> {
    await this.spool.open();
    for (const { fileId, data } of await this.spool.readAll('pending', 'corrupt', isOutboxRecord, this.corrupt)) {
      if (data.state === 'sending') {
        // The crash window: the relay may or may not have the message. Send again (same Message-ID).
        this.log.warn({ notification: data.notification.id, messageId: data.messageId }, NOTIFY_LOG.resend);
        data.state = 'pending';
        data.nextAttemptAt = this.now();
      }
      this.pending.set(fileId, data);
      this.seq = Math.max(this.seq, data.seq);
    }
    // Forgets what is older than retentionMs (by file time): done records, threads, windows.
    await this.spool.prune(['sent', 'folded', 'failed', 'threads', 'windows'], this.now() - this.options.retentionMs);
    for (const { data } of await this.spool.readAll('threads', 'corrupt', hasKey<ThreadState>, this.corrupt)) this.threads.set(data.key, data);
    for (const { data } of await this.spool.readAll('windows', 'corrupt', hasKey<WindowState>, this.corrupt)) this.windows.set(data.key, data);
  }

  /** Notifier: resolves once the message is durably queued (or was already). */
  async notify(n: Notification): Promise<void> {
    await this.enqueue(n);
  }

  async enqueue(input: Notification): Promise<EnqueueResult> {
    // Render once now: a notification that cannot be rendered fails here, at the caller, not later.
    render(input, { messageIdDomain: this.options.messageIdDomain });
    const n = scrubDeep(input, this.scrub);
    if (this.ledger !== undefined && !(await this.knows(fileIdFor(n.id)))) {
      // Recorded for every replica first: another replica that told it first sends it, not this one.
      if ((await this.ledger.record(ledgerKeyOf(n), { notification: n })) === 'known') return 'duplicate';
    }
    return this.serial(() => this.enqueueLocked(n, false));
  }

  /**
   * Replicas: a notification of a replica that is gone, taken over through the ledger (already
   * scrubbed, its holder taken). `settled` when this outbox had sent or given it up already.
   */
  async adopt(n: Notification): Promise<'queued' | 'settled'> {
    if (await this.spool.existsIn(['sent', 'folded', 'failed'], fileIdFor(n.id))) return 'settled';
    await this.serial(() => this.enqueueLocked(n, false));
    return 'queued';
  }

  private async knows(fileId: string): Promise<boolean> {
    return this.pending.has(fileId) || (await this.spool.existsIn(['sent', 'folded', 'failed'], fileId));
  }

  private async enqueueLocked(n: Notification, internal: boolean, threadRoot?: string): Promise<EnqueueResult> {
    const fileId = fileIdFor(n.id);
    const fields = { notification: n.id, kind: n.kind, server: n.server !== undefined ? serverLabel(n.server) : undefined, service: n.service };
    if (this.pending.has(fileId) || (await this.spool.existsIn(['sent', 'folded', 'failed'], fileId))) {
      this.log.debug(fields, NOTIFY_LOG.duplicate);
      return 'duplicate';
    }
    const now = this.now();
    const messageId = messageIdFor(n.id, this.options.messageIdDomain);
    const root = threadRoot ?? (await this.thread(n, messageId, now));
    let state: RecordState = 'pending';
    let window: OutboxRecord['window'];
    if (!internal && n.server) {
      const key = `${n.to.email}|${serverLabel(n.server)}`;
      let w = this.windows.get(key);
      if (w === undefined || now >= w.start + this.options.rate.windowMs) w = { key, start: now, count: 0 };
      w.count += 1;
      this.windows.set(key, w);
      await this.write('windows', fileIdFor(key), w);
      if (w.count > this.options.rate.maxPerWindow && !this.options.rate.urgentKinds.includes(n.kind)) {
        state = 'folded';
        window = { key, start: w.start };
      }
    }
    this.seq += 1;
    const record: OutboxRecord = { v: 1, notification: n, messageId, seq: this.seq, enqueuedAt: now, state, attempts: 0, nextAttemptAt: now };
    if (root !== undefined && root !== messageId) record.threadRoot = root;
    if (window) record.window = window;
    await this.write('pending', fileId, record);
    this.pending.set(fileId, record);
    this.log.info({ ...fields, messageId }, state === 'folded' ? NOTIFY_LOG.folded : NOTIFY_LOG.queued);
    this.kick();
    return state === 'folded' ? 'folded' : 'queued';
  }

  /** The thread this message belongs to: its incident's, or the open one of its server and service. */
  private async thread(n: Notification, messageId: string, now: number): Promise<string | undefined> {
    const keys: string[] = [];
    if (n.incident) keys.push(`incident:${n.incident.id}`);
    if (n.server && n.service) keys.push(`service:${n.to.email}|${serverLabel(n.server)}|${n.service}`);
    if (keys.length === 0) return undefined;
    let root: string | undefined;
    const byIncident = n.incident ? this.threads.get(`incident:${n.incident.id}`) : undefined;
    if (byIncident) root = byIncident.root;
    const byService = keys.length > 0 && n.server && n.service ? this.threads.get(`service:${n.to.email}|${serverLabel(n.server)}|${n.service}`) : undefined;
    if (root === undefined && byService && now - byService.lastAt <= this.options.threadJoinMs) root = byService.root;
    root ??= messageId;
    for (const key of keys) {
      const state = { key, root, lastAt: now };
      // A service thread moves on when an unrelated incident starts a new one after a quiet spell.
      this.threads.set(key, state);
      await this.write('threads', fileIdFor(key), state);
    }
    return root;
  }

  /** Runs one pass: digests whose window closed, then every message due. Never runs twice at once. */
  runOnce(): Promise<PassResult> {
    return this.loop.runOnce();
  }

  private async pass(): Promise<PassResult> {
    const result: PassResult = { sent: 0, retried: 0, failed: 0, digests: 0 };
    const digests = await this.serial(() => this.makeDigests());
    result.digests = digests.length;
    for (const d of digests) await this.ledger?.folded(d.items, d.digestId);
    const due = [...this.pending.entries()]
      .filter(([, r]) => r.state === 'pending' && r.nextAttemptAt <= this.now())
      .sort(([, a], [, b]) => a.seq - b.seq);
    for (const [fileId] of due) {
      if (this.now() < this.relayBlockedUntil) break;
      const outcome = await this.deliver(fileId);
      if (outcome === 'ledger-wait') break;
      if (outcome === 'sent') result.sent += 1;
      else if (outcome === 'retry') result.retried += 1;
      else if (outcome === 'failed') result.failed += 1;
    }
    return result;
  }

  private async makeDigests(): Promise<Array<{ digestId: string; items: LedgerKey[] }>> {
    const groups = new Map<string, Array<[string, OutboxRecord]>>();
    for (const entry of this.pending.entries()) {
      const w = entry[1].window;
      if (entry[1].state !== 'folded' || w === undefined || this.now() < w.start + this.options.rate.windowMs) continue;
      const group = `${w.key}\n${w.start}`;
      groups.set(group, [...(groups.get(group) ?? []), entry]);
    }
    const made: Array<{ digestId: string; items: LedgerKey[] }> = [];
    for (const members of groups.values()) {
      members.sort(([, a], [, b]) => a.seq - b.seq);
      const first = members[0]?.[1];
      if (!first?.window) continue;
      const start = first.window.start;
      const end = start + this.options.rate.windowMs;
      const items: DigestItem[] = members.map(([, r]) => {
        const item: DigestItem = { id: r.notification.id, kind: r.notification.kind, occurredAt: r.notification.occurredAt };
        if (r.notification.service) item.service = r.notification.service;
        if (r.notification.incident) item.incidentId = r.notification.incident.id;
        return item;
      });
      const services = new Set(members.map(([, r]) => r.notification.service));
      const digestId = `digest:${createHash('sha256').update(first.window.key).digest('hex').slice(0, 16)}:${start}`;
      const digest: NotificationOf<'digest'> = {
        id: digestId,
        kind: 'digest',
        to: first.notification.to,
        occurredAt: new Date(end).toISOString(),
        facts: { windowStart: new Date(start).toISOString(), windowEnd: new Date(end).toISOString(), items },
      };
      if (first.notification.server) digest.server = first.notification.server;
      const onlyService = services.size === 1 ? first.notification.service : undefined;
      if (onlyService) digest.service = onlyService;
      if (first.notification.incident) digest.incident = first.notification.incident;
      // The digest is written before the folded records move: a crash in between re-finds them, and
      // the second enqueue of the same digest id is a no-op.
      await this.enqueueLocked(digest, true, first.threadRoot ?? first.messageId);
      // All folded records first (one folder sync), then the pending ones go: a crash in between
      // leaves both, and the next pass moves them again without a second digest. A folded record
      // only answers "already notified?", for which an empty file after a power cut still does.
      for (const [fileId, r] of members) {
        const done: SentRecord = { ...r, state: 'folded', doneAt: this.now(), digestId };
        await this.write('folded', fileId, done, 'atomic');
      }
      await fsyncDir(this.spool.dir('folded'));
      for (const [fileId] of members) {
        await unlink(this.file('pending', fileId));
        this.pending.delete(fileId);
      }
      await fsyncDir(this.spool.dir('pending'));
      this.log.info({ notification: digestId, items: items.length, server: digest.server !== undefined ? serverLabel(digest.server) : undefined }, NOTIFY_LOG.digestQueued);
      made.push({ digestId, items: members.map(([, r]) => ledgerKeyOf(r.notification)) });
    }
    return made;
  }

  private async deliver(fileId: string): Promise<'sent' | 'retry' | 'failed' | 'skipped' | 'ledger-wait'> {
    const record = await this.serial(async () => {
      const r = this.pending.get(fileId);
      if (r === undefined || r.state !== 'pending') return undefined;
      r.state = 'sending';
      try {
        // Only a hint for the log after a crash: a `pending` record found at start is sent as well.
        await this.write('pending', fileId, r, 'atomic');
      } catch (err) {
        // Not marked on disk, so not sent: leave it pending for the next pass.
        r.state = 'pending';
        throw err;
      }
      return r;
    });
    if (record === undefined) return 'skipped';
    const n = record.notification;
    const fields = { notification: n.id, kind: n.kind, messageId: record.messageId, server: n.server !== undefined ? serverLabel(n.server) : undefined, attempt: record.attempts + 1 };
    let ticket: SendTicket | undefined;
    if (this.ledger !== undefined) {
      const gate = await this.ledger.begin(ledgerKeyOf(n), () => ({ notification: n })).catch((err: unknown) => {
        record.state = 'pending';
        record.nextAttemptAt = this.now() + this.backoff(1);
        throw err;
      });
      if (!gate.go) return this.serial(() => this.notHere(fileId, record, fields, gate));
      ticket = gate.ticket;
    }
    let error: unknown;
    let response = '';
    try {
      const rendered = render(n, {
        messageIdDomain: this.options.messageIdDomain,
        ...(record.threadRoot === undefined ? {} : { threadRoot: record.threadRoot }),
        timeZone: this.options.timeZone,
        subjectPrefix: this.options.subjectPrefix,
        providerName: this.options.providerName,
        scrub: this.scrub,
      });
      const mail = { fileId, rendered, to: n.to.email, date: new Date(record.enqueuedAt), ...(n.to.cc ? { cc: n.to.cc } : {}) };
      response = (await this.transport.send(mail)).response;
    } catch (err) {
      error = err;
    }
    if (this.ledger !== undefined && ticket !== undefined) {
      // Settled for every replica before it is settled here: a crash in between leaves it pending
      // here, and the ledger then says it went (never sent twice by this path).
      if (error === undefined) await this.ledger.end(ledgerKeyOf(n), ticket, 'sent');
      else if (this.isFinalFailure(record, error)) await this.ledger.end(ledgerKeyOf(n), ticket, 'failed');
      else await this.ledger.release(ledgerKeyOf(n), ticket);
    }
    return this.serial(() => this.record(fileId, record, fields, error, response)).catch((err: unknown) => {
      // The outcome could not be written (disk full?): keep the message queued in memory so this
      // process tries again; on disk it is `sending`, which a restart re-sends (at least once).
      record.state = 'pending';
      record.nextAttemptAt = this.now() + this.backoff(record.attempts + 1);
      throw err;
    });
  }

  /** Writes the outcome of one attempt: sent/, failed/, or back to pending with its next time. */
  private async record(
    fileId: string,
    record: OutboxRecord,
    fields: Record<string, unknown>,
    error: unknown,
    response: string,
  ): Promise<'sent' | 'retry' | 'failed'> {
    const now = this.now();
    if (error === undefined) {
      const done: SentRecord = { ...record, state: 'sent', attempts: record.attempts + 1, doneAt: now, response };
      delete done.lastError;
      await this.spool.settle('pending', 'sent', fileId, done);
      this.pending.delete(fileId);
      this.sentCount += 1;
      this.log.info({ ...fields, response }, NOTIFY_LOG.sent);
      return 'sent';
    }
    record.attempts += 1;
    record.lastError = errorText(error);
    if (this.isFinalFailure(record, error)) {
      const done: SentRecord = { ...record, state: 'failed', doneAt: now };
      await this.spool.settle('pending', 'failed', fileId, done);
      this.pending.delete(fileId);
      this.failedCount += 1;
      this.log.error({ ...fields, err: record.lastError }, NOTIFY_LOG.gaveUp);
      return 'failed';
    }
    const delay = this.backoff(record.attempts);
    record.state = 'pending';
    record.nextAttemptAt = now + delay;
    await this.write('pending', fileId, record);
    if (isRelayError(error)) {
      // The relay is down, not this message: hold the others back too rather than hammering it.
      this.relayBlockedUntil = record.nextAttemptAt;
      this.log.warn({ ...fields, err: record.lastError, delayMs: delay }, NOTIFY_LOG.relayDown);
    } else {
      this.log.warn({ ...fields, err: record.lastError, delayMs: delay }, NOTIFY_LOG.retry);
    }
    return 'retry';
  }

  /** A refusal that will not heal, a template bug, or a message past its age: given up. */
  private isFinalFailure(record: OutboxRecord, error: unknown): boolean {
    return isPermanentSendError(error) || isMamoriErrorLike(error) || this.now() - record.enqueuedAt >= this.options.retry.maxAgeMs;
  }

  /**
   * The ledger said not here (settled: moved to sent/ as `elsewhere`) or not now (held by another
   * live replica, in doubt, unreachable: back to pending until then — kept, so that this replica can
   * still send it if the holder dies).
   */
  private async notHere(
    fileId: string,
    record: OutboxRecord,
    fields: Record<string, unknown>,
    gate: Exclude<Awaited<ReturnType<SendLedger['begin']>>, { go: true }>,
  ): Promise<'skipped' | 'ledger-wait'> {
    if (gate.why === 'done') {
      const done: SentRecord = { ...record, state: 'elsewhere', doneAt: this.now(), response: `${gate.state} by replica ${gate.by}` };
      await this.spool.settle('pending', 'sent', fileId, done);
      this.pending.delete(fileId);
      this.log.info({ ...fields, by: gate.by, why: gate.why }, NOTIFY_LOG.elsewhere);
      return 'skipped';
    }
    record.state = 'pending';
    record.nextAttemptAt = Math.max(gate.retryAt, this.now() + 100);
    this.log.debug({ ...fields, why: gate.why, retryAt: new Date(record.nextAttemptAt).toISOString() }, NOTIFY_LOG.ledgerWait);
    return gate.why === 'unavailable' ? 'ledger-wait' : 'skipped';
  }

  /** Exponential, capped, with "equal jitter" (half fixed, half random) so retries do not align. */
  private backoff(attempts: number): number {
    return backoffDelay(attempts, this.options.retry, this.random);
  }

  /** When the next pass has work: the earliest due message or closing window. */
  nextWakeAt(): number | undefined {
    let next: number | undefined;
    for (const r of this.pending.values()) {
      const at = r.state === 'folded' && r.window ? r.window.start + this.options.rate.windowMs : r.state === 'pending' ? Math.max(r.nextAttemptAt, this.relayBlockedUntil) : undefined;
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** What is queued, for status and tests. */
  stats(): { pending: number; folded: number } {
    let folded = 0;
    for (const r of this.pending.values()) if (r.state === 'folded') folded += 1;
    return { pending: this.pending.size - folded, folded };
  }

  /** For the metrics: messages not yet delivered (folded ones too) and the oldest one's time; delivered and given up since the start. */
  deliveryStats(): { queued: number; oldestEnqueuedAt?: number; sent: number; failed: number } {
    let oldest: number | undefined;
    for (const r of this.pending.values()) if (oldest === undefined || r.enqueuedAt < oldest) oldest = r.enqueuedAt;
    return { queued: this.pending.size, ...(oldest === undefined ? {} : { oldestEnqueuedAt: oldest }), sent: this.sentCount, failed: this.failedCount };
  }

  /** Starts the sender loop on real timers (the daemon). Tests may drive runOnce() themselves. */
  start(): void {
    this.loop.start();
  }

  private kick(): void {
    this.loop.kick();
  }

  /** Stops the loop, waits for a send in flight, closes the transport. Queued messages stay on disk. */
  async stop(): Promise<void> {
    await this.loop.stop();
    await this.spool.idle();
    this.transport.close();
  }
}

function isOutboxRecord(data: unknown): data is OutboxRecord {
  const r = data as Partial<OutboxRecord> | null;
  return r?.v === 1 && typeof r.notification?.id === 'string';
}

function hasKey<T extends { key: string }>(data: unknown): data is T {
  return typeof (data as Partial<T> | null)?.key === 'string';
}

/** A render failure at send time (a template bug) will not heal by retrying. */
function isMamoriErrorLike(err: unknown): boolean {
  return err instanceof MamoriError;
}
