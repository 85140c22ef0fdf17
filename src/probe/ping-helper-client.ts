import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.ts';
import { buildInfo, packagePath } from '../package-info.ts';
import { subscribeAbort, unsubscribeAbort, type AbortWaiter } from './abort-fanout.ts';
import type { IcmpObservation, ProbeFailure } from './types.ts';

/**
 * The daemon's side of the ping helper (ping-helper.ts): one small long-lived process, started at
 * the first ping, that runs fping for every batch, so that the daemon — ~900 MB at 10,000 servers,
 * where a fork cost ~27 ms and copy-on-write faults afterwards — never forks while probing.
 *
 * If the helper dies it is started again at the next batch after a backoff (1 s, doubling to 60 s;
 * back to 1 s once a helper has lived a minute), each exit logged with the count of restarts. The
 * batches it was running, and every batch while it is down, are pinged from the daemon itself as
 * before (a fork each): no ping goes unanswered because the helper is gone.
 */
export interface PingHelperOptions {
  logger?: Logger;
  /** The helper's entry; by default dist/ping-helper.js in the bundle, ping-helper.mjs (tsx) in the sources. */
  entry?: string;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A helper that starts this long without saying `ready` is stopped and counted as a failure. */
  startupMs?: number;
}

/** What a batch is asked (PingOptions without the signal, which stays in the daemon). */
export interface HelperBatch {
  timeoutMs: number;
  sourceAddress?: string;
  count?: number;
  periodMs?: number;
  fping?: string | null;
  ping?: string;
  signal?: AbortSignal;
}

export interface HelperOutcome {
  icmp: IcmpObservation;
  failure?: ProbeFailure;
}

export type InlinePing = (addresses: readonly string[], options: HelperBatch) => Promise<Map<string, HelperOutcome>>;

export interface PingHelperStats {
  /** Times the helper exited without being asked to (each one restarted after a backoff). */
  restarts: number;
  /** Batches pinged from the daemon itself because the helper was down. */
  inlineBatches: number;
  /** Batches answered by the helper. */
  helperBatches: number;
  pid: number | undefined;
}

const DEFAULT_BACKOFF_MIN_MS = 1000;
const DEFAULT_BACKOFF_MAX_MS = 60_000;
/** A helper that lived this long resets the backoff. */
const HEALTHY_AFTER_MS = 60_000;
const DEFAULT_STARTUP_MS = 30_000;
/** Past the batch's own deadline, how long the helper may take to answer before it is judged hung. */
const ANSWER_GRACE_MS = 5000;
/** The helper's heap: it holds a few batches' output, nothing more. */
const HELPER_HEAP_MB = 128;

function defaultEntry(): string {
  return buildInfo().flavour === 'dist' ? packagePath('dist/ping-helper.js') : fileURLToPath(new URL('./ping-helper.mjs', import.meta.url));
}

interface Pending extends AbortWaiter {
  addresses: readonly string[];
  batch: HelperBatch;
  resolve: (outcomes: Map<string, HelperOutcome>) => void;
  timer: NodeJS.Timeout | undefined;
}

interface Running {
  child: ChildProcess;
  startedAt: number;
  ready: boolean;
  buffer: string;
  stderr: string;
  startTimer: NodeJS.Timeout | undefined;
}

function isOutcome(v: unknown): v is HelperOutcome {
  if (typeof v !== 'object' || v === null) return false;
  const icmp = (v as { icmp?: unknown }).icmp as Record<string, unknown> | undefined;
  return typeof icmp === 'object' && icmp !== null && typeof icmp.sent === 'number' && typeof icmp.received === 'number' && typeof icmp.lossPct === 'number';
}

export class PingHelper {
  private running: Running | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  private readonly counts = { restarts: 0, inlineBatches: 0, helperBatches: 0 };

  constructor(
    private readonly inline: InlinePing,
    private readonly options: PingHelperOptions = {},
  ) {}

  stats(): PingHelperStats {
    return { ...this.counts, pid: this.running?.child.pid };
  }

  /** Ping a batch through the helper (or from here while it is down). Never rejects. */
  pingMany(addresses: readonly string[], batch: HelperBatch): Promise<Map<string, HelperOutcome>> {
    const running = this.closed ? undefined : this.ensure();
    if (running === undefined) return this.runInline(addresses, batch);
    return new Promise((resolve) => {
      const id = this.nextId++;
      const pending: Pending = {
        addresses,
        batch,
        resolve,
        timer: undefined,
        onAbort: () => this.send(running, { id, cancel: true }),
      };
      this.pending.set(id, pending);
      this.armAnswer(id, pending, running);
      if (batch.signal !== undefined) subscribeAbort(batch.signal, pending);
      this.refresh(running);
      const { signal: _signal, ...wire } = batch;
      this.send(running, { id, addresses, ...wire });
      if (batch.signal?.aborted === true) this.send(running, { id, cancel: true });
    });
  }

  /** Stop the helper (its in-flight batches are answered from here). */
  close(): void {
    this.closed = true;
    const running = this.running;
    if (running !== undefined) this.stop(running, 'closed');
  }

  private runInline(addresses: readonly string[], batch: HelperBatch): Promise<Map<string, HelperOutcome>> {
    this.counts.inlineBatches += 1;
    return this.inline(addresses, batch).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      return new Map(addresses.map((a) => [a, { icmp: { sent: 0, received: 0, lossPct: 100 }, failure: { kind: 'error', phase: 'echo', message } } as HelperOutcome]));
    });
  }

  private armAnswer(id: number, pending: Pending, running: Running): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    // A helper that is still starting gets its start-up time on top.
    const budget = pending.batch.timeoutMs + ANSWER_GRACE_MS + (running.ready ? 0 : (this.options.startupMs ?? DEFAULT_STARTUP_MS));
    pending.timer = setTimeout(() => {
      if (this.pending.get(id) !== pending) return;
      // No answer long past the batch's deadline: the helper is hung. It is stopped; its batches
      // (this one included) are pinged from here.
      this.options.logger?.warn({ pid: running.child.pid, waitedMs: budget }, 'ping helper did not answer a batch in time');
      this.stop(running, 'hung');
    }, budget);
  }

  private ensure(): Running | undefined {
    if (this.running !== undefined) return this.running;
    if (Date.now() < this.retryAt) return undefined;
    let child: ChildProcess;
    try {
      // A process group of its own: a signal to the daemon's group (Ctrl-C, `timeout`) stops the daemon,
      // and the helper follows when its stdin closes, instead of dying first and being counted a failure.
      child = spawn(process.execPath, [`--max-old-space-size=${HELPER_HEAP_MB}`, this.options.entry ?? defaultEntry()], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true });
    } catch (err) {
      this.failed(undefined, { error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
    const running: Running = { child, startedAt: Date.now(), ready: false, buffer: '', stderr: '', startTimer: undefined };
    this.running = running;
    running.startTimer = setTimeout(() => {
      if (!running.ready) {
        this.options.logger?.warn({ pid: child.pid, startupMs: this.options.startupMs ?? DEFAULT_STARTUP_MS }, 'ping helper did not start in time');
        this.stop(running, 'hung');
      }
    }, this.options.startupMs ?? DEFAULT_STARTUP_MS);
    running.startTimer.unref();
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.onData(running, chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      running.stderr = (running.stderr + chunk).slice(-2000);
    });
    // EPIPE when the helper died: its exit is handled once, below.
    child.stdin?.on('error', () => undefined);
    child.on('error', (err) => {
      running.stderr = `${running.stderr}\n${err.message}`.slice(-2000);
      if (child.pid === undefined) this.onExit(running, null, null);
    });
    child.on('exit', (code, signal) => this.onExit(running, code, signal));
    this.options.logger?.info({ pid: child.pid, restarts: this.counts.restarts }, 'ping helper started');
    return running;
  }

  private onData(running: Running, chunk: string): void {
    running.buffer += chunk;
    let nl = running.buffer.indexOf('\n');
    while (nl !== -1) {
      const line = running.buffer.slice(0, nl);
      running.buffer = running.buffer.slice(nl + 1);
      this.onLine(running, line);
      nl = running.buffer.indexOf('\n');
    }
  }

  private onLine(running: Running, line: string): void {
    let msg: { ready?: unknown; id?: unknown; outcomes?: unknown; failed?: unknown };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if (msg.ready === true) {
      running.ready = true;
      if (running.startTimer !== undefined) clearTimeout(running.startTimer);
      return;
    }
    if (typeof msg.id !== 'number') return;
    const pending = this.pending.get(msg.id);
    if (pending === undefined) return;
    this.settle(msg.id, pending);
    const outcomes = new Map<string, HelperOutcome>();
    if (Array.isArray(msg.outcomes)) {
      for (const entry of msg.outcomes as unknown[]) {
        if (!Array.isArray(entry)) continue;
        const [address, outcome] = entry as [unknown, unknown];
        if (typeof address === 'string' && pending.addresses.includes(address) && isOutcome(outcome)) outcomes.set(address, outcome);
      }
    }
    const failed = typeof msg.failed === 'string' ? msg.failed : 'the ping helper gave no outcome';
    for (const a of pending.addresses) {
      if (!outcomes.has(a)) outcomes.set(a, { icmp: { sent: 0, received: 0, lossPct: 100 }, failure: { kind: 'error', phase: 'echo', message: failed } });
    }
    this.counts.helperBatches += 1;
    pending.resolve(outcomes);
    this.refresh(running);
  }

  private settle(id: number, pending: Pending): void {
    this.pending.delete(id);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (pending.batch.signal !== undefined) unsubscribeAbort(pending.batch.signal, pending);
  }

  /** Keep the event loop alive only while batches wait for the helper (a one-shot CLI can exit). */
  private refresh(running: Running): void {
    const busy = this.pending.size > 0;
    for (const handle of [running.child, running.child.stdout, running.child.stderr, running.child.stdin] as Array<{ ref?: () => void; unref?: () => void } | null>) {
      if (busy) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  private send(running: Running, message: object): void {
    if (this.running !== running) return;
    running.child.stdin?.write(`${JSON.stringify(message)}\n`);
  }

  private stop(running: Running, why: 'hung' | 'closed'): void {
    if (why === 'hung') running.stderr = `${running.stderr}\n(stopped: hung)`.slice(-2000);
    try {
      running.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
    // Its exit event answers its batches; a child that never had a pid has none coming.
    if (running.child.pid === undefined) this.onExit(running, null, null);
  }

  private onExit(running: Running, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.running !== running) return;
    this.running = undefined;
    if (running.startTimer !== undefined) clearTimeout(running.startTimer);
    const orphans = [...this.pending.entries()];
    this.pending.clear();
    for (const [id, pending] of orphans) {
      this.settle(id, pending);
      // Pinged from here: the probe still gets a real answer (its latency grows by the retry).
      void this.runInline(pending.addresses, pending.batch).then(pending.resolve);
    }
    if (this.closed) return;
    this.failed(running, { code, signal, stderr: running.stderr.trim().slice(-500), batchesLost: orphans.length });
  }

  private failed(running: Running | undefined, fields: Record<string, unknown>): void {
    if (running !== undefined && Date.now() - running.startedAt >= HEALTHY_AFTER_MS) this.failures = 0;
    this.failures += 1;
    this.counts.restarts += 1;
    const min = this.options.backoffMinMs ?? DEFAULT_BACKOFF_MIN_MS;
    const max = this.options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
    const retryInMs = Math.min(max, min * 2 ** Math.min(20, this.failures - 1));
    this.retryAt = Date.now() + retryInMs;
    this.options.logger?.warn({ pid: running?.child.pid, ...fields, restarts: this.counts.restarts, retryInMs }, 'ping helper exited; pings run in the daemon until it is started again');
  }
}
