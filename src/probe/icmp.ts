import { execFile, spawn } from 'node:child_process';
import { isIP } from 'node:net';
import type { Logger } from '../log.ts';
import { subscribeAbort, unsubscribeAbort } from './abort-fanout.ts';
import { PingHelper, type PingHelperOptions } from './ping-helper-client.ts';
import { failureFromError, makeResult } from './result.ts';
import type { IcmpObservation, ProbeFailure, Prober, ProbeResult, ProbeTarget } from './types.ts';

/**
 * ICMP echo through the system's `fping` (one process pings a whole batch of targets: thousands of
 * servers cost a handful of processes, not one each), or `ping` one address at a time where fping
 * is missing. Raw ICMP sockets need privileges these tools already have.
 */
export interface PingOptions {
  /** Budget for the whole batch, from the first packet to the verdict. */
  timeoutMs: number;
  /** Echo requests per target; any reply means up (the seed: "no answer to ping = fault"). */
  count?: number;
  /** Time between two requests to the same target. */
  periodMs?: number;
  sourceAddress?: string;
  /** The fping binary; `null` forces the per-address `ping` fallback. */
  fping?: string | null;
  ping?: string;
  signal?: AbortSignal;
}

export interface PingOutcome {
  icmp: IcmpObservation;
  failure?: ProbeFailure;
}

export const DEFAULT_PING_COUNT = 3;
export const DEFAULT_PING_PERIOD_MS = 200;
/** fping's gap between two packets to any targets; 1 ms is its floor. */
const FPING_INTERVAL_MS = 1;
const SUMMARY = /^(\S+)\s+:\s+xmt\/rcv\/%loss = (\d+)\/(\d+)\/(\d+)%(?:, min\/avg\/max = [\d.]+\/([\d.]+)\/[\d.]+)?/;
const UNREACHABLE = /(?:Unreachable|Prohibited).*? sent to (\S+)/i;

interface Timing {
  count: number;
  periodMs: number;
  replyTimeoutMs: number;
}

/** Fit count × period and the wait for the last reply inside the budget. */
function timing(options: PingOptions, targets: number): Timing {
  const count = Math.max(1, Math.trunc(options.count ?? DEFAULT_PING_COUNT));
  const budget = Math.max(100, options.timeoutMs);
  const spread = targets * count * FPING_INTERVAL_MS;
  const periodMs = Math.max(20, Math.min(options.periodMs ?? DEFAULT_PING_PERIOD_MS, Math.floor(budget / (count + 1))));
  const replyTimeoutMs = Math.max(50, budget - (count - 1) * periodMs - spread - 100);
  return { count, periodMs, replyTimeoutMs };
}

function outcomeFrom(sent: number, received: number, rttMs: number | undefined, unreachable: boolean): PingOutcome {
  const lossPct = sent === 0 ? 100 : Math.round(((sent - received) / sent) * 100);
  const icmp: IcmpObservation = { sent, received, lossPct };
  if (rttMs !== undefined) icmp.rttMs = rttMs;
  if (received > 0) return { icmp };
  return {
    icmp,
    failure: unreachable
      ? { kind: 'unreachable', phase: 'echo', message: 'ICMP destination unreachable' }
      : { kind: 'timeout', phase: 'echo', message: `no echo reply to ${sent} request(s)` },
  };
}

function errorOutcome(failure: ProbeFailure): PingOutcome {
  return { icmp: { sent: 0, received: 0, lossPct: 100 }, failure };
}

/** Parse fping's `-q -c` summary (stderr): one line per target, plus ICMP error lines. */
export function parseFpingOutput(text: string): Map<string, PingOutcome> {
  const unreachable = new Set<string>();
  for (const line of text.split('\n')) {
    const m = UNREACHABLE.exec(line);
    if (m?.[1] !== undefined) unreachable.add(m[1]);
  }
  const outcomes = new Map<string, PingOutcome>();
  for (const line of text.split('\n')) {
    const m = SUMMARY.exec(line);
    if (m === null) continue;
    const [, address, sent, received, , avg] = m;
    if (address === undefined) continue;
    outcomes.set(address, outcomeFrom(Number(sent), Number(received), avg === undefined ? undefined : Number(avg), unreachable.has(address)));
  }
  return outcomes;
}

/** Parse iputils `ping -q` output for one address. */
export function parsePingOutput(text: string): PingOutcome | undefined {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(text);
  if (counts === null) return undefined;
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(text);
  const unreachable = /Unreachable|Prohibited/i.test(text);
  return outcomeFrom(Number(counts[1]), Number(counts[2]), rtt?.[1] === undefined ? undefined : Number(rtt[1]), unreachable);
}

interface Run {
  stdout: string;
  stderr: string;
  error: (Error & { code?: unknown }) | null;
}

function run(file: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, signal, windowsHide: true }, (error, stdout, stderr) => {
      resolve({ stdout: String(stdout), stderr: String(stderr), error });
    });
  });
}

/**
 * fping (quiet: only its summary, printed at its end), stopped at `timeoutMs` or on abort. The
 * process group is signalled, so that a wrapper script and its fping both stop.
 */
function runFping(file: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<Run> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let error: Run['error'] = null;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    } catch (err) {
      resolve({ stdout, stderr, error: err as Error & { code?: unknown } });
      return;
    }
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      error = Object.assign(new Error(`fping ran past ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      signalGroup('SIGKILL');
    }, timeoutMs);
    const waiter = { onAbort: (): void => signalGroup('SIGKILL') };
    if (signal !== undefined) subscribeAbort(signal, waiter);
    const LIMIT = 16 * 1024 * 1024;
    child.stdout?.on('data', (chunk: Buffer) => {
      if (stdout.length < LIMIT) stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < LIMIT) stderr += chunk.toString();
    });
    child.on('error', (err) => {
      error = err as Error & { code?: unknown };
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (signal !== undefined) unsubscribeAbort(signal, waiter);
      // 1: some address did not answer (its summary says so).
      if (error === null && code !== 0 && code !== 1) error = Object.assign(new Error(`fping exited ${String(code)}`), { code });
      resolve({ stdout, stderr, error });
    });
  });
}

/** Spawn failures (no such binary) say nothing about the target. */
function spawnFailed(error: Run['error']): boolean {
  return error !== null && (error.code === 'ENOENT' || error.code === 'EACCES');
}

/**
 * Ping many addresses in one fping call. Every address gets an outcome, never an exception;
 * an address that is not an IP literal fails alone, without spoiling the batch.
 */
export async function pingMany(addresses: readonly string[], options: PingOptions): Promise<Map<string, PingOutcome>> {
  const outcomes = new Map<string, PingOutcome>();
  const valid: string[] = [];
  for (const address of new Set(addresses)) {
    if (isIP(address) === 0) outcomes.set(address, errorOutcome({ kind: 'error', phase: 'echo', message: 'not an IP address' }));
    else valid.push(address);
  }
  if (valid.length === 0) return outcomes;
  const fping = options.fping === undefined ? 'fping' : options.fping;
  if (fping !== null) {
    const t = timing(options, valid.length);
    const t0 = performance.now();
    const common = ['-i', String(FPING_INTERVAL_MS)];
    if (options.sourceAddress !== undefined) common.push('-S', options.sourceAddress);
    // First echo, quiet (one summary at the end, not a line a reply: the helper read 170 lines one
    // by one for a batch of 170): fping -c 1 ends as soon as every address has answered (any reply
    // means up), so a live host costs its round trip.
    const firstWaitMs = t.count > 1 ? t.periodMs : t.replyTimeoutMs;
    const first = await runFping(fping, ['-q', '-c', '1', '-t', String(firstWaitMs), ...common, ...valid], options.timeoutMs + 2000, options.signal);
    if (!spawnFailed(first.error)) {
      const firstParsed = parseFpingOutput(first.stderr + '\n' + first.stdout);
      const silent = valid.filter((a) => (firstParsed.get(a)?.icmp.received ?? 0) === 0);
      let second: { run: Run; parsed: Map<string, PingOutcome> } | undefined;
      if (t.count > 1 && silent.length > 0 && options.signal?.aborted !== true && first.error === null) {
        // The addresses that did not answer within a period get the other echoes, a period apart,
        // and the reply timeout of what is left of the budget, as one fping gave them before. Not
        // quiet: fping reports ICMP unreachable messages only then.
        const left = Math.max(100, options.timeoutMs - (performance.now() - t0));
        const more = timing({ ...options, timeoutMs: left, count: t.count - 1 }, silent.length);
        const run2 = await runFping(fping, ['-c', String(t.count - 1), '-p', String(more.periodMs), '-t', String(more.replyTimeoutMs), ...common, ...silent], left + 2000, options.signal);
        second = { run: run2, parsed: parseFpingOutput(run2.stderr + '\n' + run2.stdout) };
      }
      for (const address of valid) {
        const one = firstParsed.get(address);
        const two = second?.parsed.get(address);
        let outcome: PingOutcome | undefined;
        if (one !== undefined && (one.icmp.received > 0 || second === undefined)) outcome = one;
        else if (two !== undefined) {
          // Both runs' echoes count; the first run's went unanswered.
          const unreachable = one?.failure?.kind === 'unreachable' || two.failure?.kind === 'unreachable';
          outcome = outcomeFrom((one?.icmp.sent ?? 0) + two.icmp.sent, two.icmp.received, two.icmp.rttMs, unreachable);
        }
        const failed = second?.run.error ?? first.error;
        outcomes.set(
          address,
          outcome ?? errorOutcome({ kind: 'error', phase: 'echo', message: failed !== null ? `fping failed: ${(second?.run.stderr ?? first.stderr).trim() || failed.message}` : 'fping gave no result' }),
        );
      }
      return outcomes;
    }
  }
  await Promise.all(valid.map(async (address) => outcomes.set(address, await pingOne(address, options))));
  return outcomes;
}

async function pingOne(address: string, options: PingOptions): Promise<PingOutcome> {
  const t = timing(options, 1);
  const args = ['-n', '-q', '-c', String(t.count), '-i', String(t.periodMs / 1000), '-w', String(Math.max(1, Math.ceil(options.timeoutMs / 1000)))];
  if (options.sourceAddress !== undefined) args.push('-I', options.sourceAddress);
  args.push(address);
  const r = await run(options.ping ?? 'ping', args, options.timeoutMs + 2000, options.signal);
  if (spawnFailed(r.error)) return errorOutcome(failureFromError(r.error, 'echo'));
  return parsePingOutput(r.stdout + '\n' + r.stderr) ?? errorOutcome({ kind: 'error', phase: 'echo', message: `ping failed: ${(r.stderr || r.stdout).trim()}` });
}

export const DEFAULT_PING_MIN_GAP_MS = 500;

export interface PingProberOptions {
  /**
   * Requests arriving within this window go out in one fping call. A scheduler spreading 10,000
   * servers over 30 s asks ~333 pings a second: 50 ms gathers them ~17 to a process (a cost in
   * every probe round: the echo itself ends at the first reply).
   */
  windowMs?: number;
  /**
   * At least this long between two flushes (a batch of fping calls). Starting a process costs the
   * daemon several ms of CPU (measured 6–8 ms at load for a small process, ~27 ms for the daemon at
   * 10,000 servers and 900 MB: fork copies its page tables, and every page it writes afterwards
   * takes a copy-on-write fault): at 50 ms a fleet of 1,000 servers (33 pings a second) started ~20
   * fpings a second, each with one or two addresses. 500 ms bounds it to 2 a second whatever the
   * fleet (10,000 servers: ~170 addresses each); a lone ping after a quiet spell still waits only
   * `windowMs`.
   */
  minGapMs?: number;
  /** fping processes running at once; further batches wait their turn. */
  maxProcesses?: number;
  /** At most this many addresses per fping call (its run time grows with the batch). */
  maxBatch?: number;
  count?: number;
  fping?: string | null;
  ping?: string;
  /**
   * fping runs in a small helper process started once (ping-helper.ts), so that the daemon never
   * forks while probing (default); `false` starts fping from this process, as a one-shot command may.
   */
  helper?: boolean | PingHelperOptions;
  /** The helper's starts and exits are logged here. */
  logger?: Logger;
}

interface Waiting {
  target: ProbeTarget;
  startedAt: number;
  t0: number;
  resolve: (result: ProbeResult) => void;
}

/**
 * The ping prober coalesces: requests that arrive close together (a scheduler tick firing many
 * servers at once) share one fping call per batch of equal timeout and source address.
 */
export function createPingProber(options: PingProberOptions = {}): Prober {
  const windowMs = options.windowMs ?? 50;
  const minGapMs = options.minGapMs ?? DEFAULT_PING_MIN_GAP_MS;
  let lastFlushAt = -Infinity;
  const maxBatch = options.maxBatch ?? 256;
  const maxProcesses = options.maxProcesses ?? 16;
  let running = 0;
  const queued: Waiting[][] = [];
  const pending = new Map<string, Waiting[]>();
  let timer: NodeJS.Timeout | undefined;
  const helperOptions = options.helper === false ? undefined : { ...(options.logger !== undefined ? { logger: options.logger } : {}), ...(typeof options.helper === 'object' ? options.helper : {}) };
  const helper = helperOptions === undefined ? undefined : new PingHelper(pingMany, helperOptions);

  const flush = (): void => {
    timer = undefined;
    lastFlushAt = performance.now();
    const groups = [...pending.values()];
    pending.clear();
    for (const group of groups) {
      for (let i = 0; i < group.length; i += maxBatch) queued.push(group.slice(i, i + maxBatch));
    }
    pump();
  };

  const pump = (): void => {
    while (running < maxProcesses && queued.length > 0) {
      const batch = queued.shift() as Waiting[];
      running++;
      void send(batch).finally(() => {
        running--;
        pump();
      });
    }
  };

  const send = async (batch: Waiting[]): Promise<void> => {
    const first = batch[0];
    if (first === undefined) return;
    let outcomes: Map<string, PingOutcome>;
    try {
      const addresses = batch.map((w) => w.target.address);
      const ask: PingOptions = { timeoutMs: first.target.timeoutMs };
      if (first.target.sourceAddress !== undefined) ask.sourceAddress = first.target.sourceAddress;
      if (options.count !== undefined) ask.count = options.count;
      if (options.fping !== undefined) ask.fping = options.fping;
      if (options.ping !== undefined) ask.ping = options.ping;
      outcomes = await (helper !== undefined ? helper.pingMany(addresses, ask) : pingMany(addresses, ask));
    } catch (err) {
      // pingMany is built not to throw; if it ever does, every waiting probe still gets its answer.
      outcomes = new Map(batch.map((w) => [w.target.address, errorOutcome(failureFromError(err, 'echo'))]));
    }
    for (const w of batch) {
      const outcome = outcomes.get(w.target.address) ?? errorOutcome({ kind: 'error', phase: 'echo', message: 'no outcome' });
      const result = makeResult({
        service: 'ping',
        target: w.target.address,
        startedAt: w.startedAt,
        latencyMs: outcome.icmp.rttMs ?? performance.now() - w.t0,
        failure: outcome.failure,
      });
      result.icmp = outcome.icmp;
      w.resolve(result);
    }
  };

  return {
    service: 'ping',
    probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
      const startedAt = Date.now();
      const t0 = performance.now();
      if (signal?.aborted === true) {
        const result = makeResult({ service: 'ping', target: target.address, startedAt, latencyMs: 0, failure: { kind: 'error', phase: 'echo', message: 'probe aborted' } });
        return Promise.resolve(result);
      }
      return new Promise((resolve) => {
        const key = `${target.timeoutMs}|${target.sourceAddress ?? ''}`;
        const group = pending.get(key);
        const waiting: Waiting = { target, startedAt, t0, resolve };
        if (group === undefined) pending.set(key, [waiting]);
        else group.push(waiting);
        timer ??= setTimeout(flush, Math.max(windowMs, lastFlushAt + minGapMs - t0));
      });
    },
  };
}
