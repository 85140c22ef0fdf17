/**
 * Customers' commands are parsed in a worker thread, one document at a time, under a time
 * budget per document: a document whose commands are not parsed in time has its worker
 * ended (whatever it was doing) and is refused as `policy-timeout`; the next document
 * gets a new worker. The main thread — `/healthz`, the probes, the reconciler — never
 * waits on a customer's text. Outcomes are kept by text, so a revision that changes one
 * runbook parses only that runbook's new commands.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import type { ParseOutcome, ParsedShell } from './shell-command.ts';
import { buildInfo, packagePath } from '../package-info.ts';
import { pathToFileURL } from 'node:url';

export interface ParseDocument {
  /** The document (its file), for the log. */
  key: string;
  texts: readonly string[];
}

export interface ShellParserPoolOptions {
  /** Time for one document's commands, in milliseconds. */
  budgetMs: number;
  /** Time for a new worker to load the grammar, not counted in any document's budget. */
  startupMs?: number;
  /** Outcomes kept by text. */
  cacheEntries?: number;
  logger?: Logger;
}

export const DEFAULT_PARSE_BUDGET_MS = 2000;
const DEFAULT_STARTUP_MS = 60_000;
const DEFAULT_CACHE_ENTRIES = 20_000;
/** A hostile text may ask the parser for memory; the worker's heap is bounded. */
const WORKER_HEAP_MB = 256;

type Reply = { id: number; parsed: ParsedShell } | { id: number; failed: string };

interface Running {
  worker: Worker;
  ready: Promise<void>;
  pending?: { id: number; resolve: (r: Reply | { died: string }) => void };
}

/** The worker's entry: bundled beside dist/mamori.js in the built package, the .mjs shim (tsx) from the sources. */
function workerEntry(): URL {
  return buildInfo().flavour === 'dist' ? pathToFileURL(packagePath('dist/shell-parse-worker.js')) : new URL('./shell-parse-worker.mjs', import.meta.url);
}

export class ShellParserPool {
  private running: Running | undefined;
  private nextId = 1;
  private readonly cache = new Map<string, ParseOutcome>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: ShellParserPoolOptions) {}

  get budgetMs(): number {
    return this.options.budgetMs;
  }

  /** Outcomes for every text of every document (one document at a time, in order). */
  parse(documents: readonly ParseDocument[]): Promise<Map<string, ParseOutcome>> {
    const run = this.queue.then(() => this.parseNow(documents));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async parseNow(documents: readonly ParseDocument[]): Promise<Map<string, ParseOutcome>> {
    const out = new Map<string, ParseOutcome>();
    for (const doc of documents) {
      let deadline: number | undefined;
      for (const text of doc.texts) {
        const known = this.cache.get(text) ?? out.get(text);
        if (known !== undefined) {
          out.set(text, known);
          continue;
        }
        if (this.closed) {
          out.set(text, { failed: 'the parser is closed' });
          continue;
        }
        let running: Running;
        try {
          running = await this.start();
        } catch (err) {
          out.set(text, { failed: `the command parser did not start: ${err instanceof Error ? err.message : String(err)}` });
          continue;
        }
        deadline ??= performance.now() + this.options.budgetMs;
        const outcome = await this.request(running, text, deadline - performance.now());
        out.set(text, outcome);
        this.remember(text, outcome);
        if ('timeout' in outcome) {
          this.options.logger?.warn({ document: doc.key, budgetMs: this.options.budgetMs }, 'policy parse over its time budget');
          break;
        }
      }
    }
    return out;
  }

  private remember(text: string, outcome: ParseOutcome): void {
    if ('failed' in outcome && outcome.failed.startsWith('the command parser did not start')) return;
    this.cache.set(text, outcome);
    const limit = this.options.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
    while (this.cache.size > limit) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  private start(): Promise<Running> {
    if (this.running !== undefined) return this.running.ready.then(() => this.running as Running);
    const worker = new Worker(workerEntry(), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    worker.unref();
    const running: Running = { worker, ready: Promise.resolve() };
    running.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`no answer within ${this.options.startupMs ?? DEFAULT_STARTUP_MS} ms`));
      }, this.options.startupMs ?? DEFAULT_STARTUP_MS);
      const onMessage = (m: unknown): void => {
        if (m !== null && typeof m === 'object' && 'ready' in m) {
          clearTimeout(timer);
          worker.off('message', onMessage);
          resolve();
        }
      };
      worker.on('message', onMessage);
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the worker exited (${code})`));
      });
    });
    worker.on('message', (m: Reply | { ready: true }) => {
      if ('ready' in m) return;
      if (running.pending?.id === m.id) running.pending.resolve(m);
    });
    worker.on('error', (err) => running.pending?.resolve({ died: err.message }));
    worker.on('exit', (code) => {
      running.pending?.resolve({ died: `the worker exited (${code})` });
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    running.ready.catch(() => {
      if (this.running === running) this.running = undefined;
    });
    return running.ready.then(() => running);
  }

  private async request(running: Running, text: string, remainingMs: number): Promise<ParseOutcome> {
    if (remainingMs <= 0) return { timeout: this.options.budgetMs };
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    const reply = await new Promise<Reply | { died: string } | { late: true }>((resolve) => {
      running.pending = { id, resolve };
      timer = setTimeout(() => resolve({ late: true }), remainingMs);
      running.worker.postMessage({ id, text });
    });
    clearTimeout(timer);
    running.pending = undefined;
    if ('late' in reply) {
      // The only way to stop a parse in progress: end the thread.
      if (this.running === running) this.running = undefined;
      await running.worker.terminate();
      return { timeout: this.options.budgetMs };
    }
    if ('died' in reply) {
      if (this.running === running) this.running = undefined;
      return { failed: `the parser stopped: ${reply.died}` };
    }
    return 'parsed' in reply ? { parsed: reply.parsed } : { failed: reply.failed };
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = this.running;
    this.running = undefined;
    if (running !== undefined) await running.worker.terminate();
  }
}
