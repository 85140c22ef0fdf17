/**
 * What the mail outbox and the webhook outbox share: a spool of JSON records in folders on disk
 * (`pending/`, the done folders, `corrupt/`), changed one at a time through one queue, and a sender
 * loop on timers that wakes when the next record is due.
 *
 * The durability rules are the outboxes' own (see their headers); the spool only does what they
 * both do the same way: a durable write is fsync'd with its folder, a record leaves `pending/` by
 * being written to its done folder first, and an unreadable file is moved aside to `corrupt/`.
 */
import { mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { fsyncDir } from './transport.ts';

export class Spool<F extends string> {
  /** The state queue: every disk change runs through it, one at a time. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly root: string,
    private readonly folders: readonly F[],
  ) {}

  /** Creates the folders (and the root) if they are not there yet. */
  async open(): Promise<void> {
    for (const folder of this.folders) await mkdir(this.dir(folder), { recursive: true, mode: 0o750 });
  }

  dir(folder: F): string {
    return path.join(this.root, folder);
  }

  file(folder: F, fileId: string): string {
    return path.join(this.dir(folder), `${fileId}.json`);
  }

  /** Runs `task` after every task queued before it, whether they failed or not. */
  serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Waits for the tasks queued so far. */
  async idle(): Promise<void> {
    await this.chain;
  }

  /** Replaces the record whole; `durable` also fsyncs it and its folder. */
  async write(folder: F, fileId: string, data: unknown, durable: boolean): Promise<void> {
    await writeFileAtomic(this.file(folder, fileId), `${JSON.stringify(data, null, 2)}\n`, { mode: 0o640, fsync: durable });
    if (durable) await fsyncDir(this.dir(folder));
  }

  async exists(folder: F, fileId: string): Promise<boolean> {
    return stat(this.file(folder, fileId)).then(
      () => true,
      () => false,
    );
  }

  /** Whether the record is in any of these folders. */
  async existsIn(folders: readonly F[], fileId: string): Promise<boolean> {
    for (const folder of folders) if (await this.exists(folder, fileId)) return true;
    return false;
  }

  /**
   * Moves a record out of `from` durably: its done record is on disk (fsync'd) before the pending
   * file goes, so a crash in between leaves it in both (a duplicate the reader skips), never in none.
   */
  async settle(from: F, to: F, fileId: string, done: unknown): Promise<void> {
    await this.write(to, fileId, done, true);
    await unlink(this.file(from, fileId));
    await fsyncDir(this.dir(from));
  }

  /**
   * Every `*.json` record of the folder in name order, parsed and accepted by `valid`. A file that
   * does not parse or is refused is moved to `corrupt/<folder>-<name>` and reported to `onCorrupt`.
   * Other files (write-file-atomic's `x.json.123` temporaries) are leftovers of a crash mid-write.
   */
  async readAll<T>(folder: F, corrupt: F, valid: (data: unknown) => data is T, onCorrupt: (file: string, cause?: unknown) => void): Promise<Array<{ fileId: string; data: T }>> {
    const out: Array<{ fileId: string; data: T }> = [];
    for (const name of (await readdir(this.dir(folder))).sort()) {
      if (!name.endsWith('.json')) continue;
      let data: unknown;
      let cause: unknown;
      try {
        data = JSON.parse(await readFile(path.join(this.dir(folder), name), 'utf8'));
      } catch (err) {
        cause = err;
      }
      if (cause === undefined && valid(data)) {
        out.push({ fileId: name.slice(0, -'.json'.length), data });
        continue;
      }
      onCorrupt(path.join(folder, name), cause);
      await rename(path.join(this.dir(folder), name), path.join(this.dir(corrupt), `${folder}-${name}`));
    }
    return out;
  }

  /** Forgets the files of these folders last changed before `cutoff` (epoch ms). */
  async prune(folders: readonly F[], cutoff: number): Promise<void> {
    for (const folder of folders) {
      for (const name of await readdir(this.dir(folder))) {
        const file = path.join(this.dir(folder), name);
        const info = await stat(file).catch(() => undefined);
        if (info && info.mtimeMs < cutoff) await unlink(file).catch(() => undefined);
      }
    }
  }
}

/**
 * A sender loop: one pass at a time (`runOnce` while a pass runs returns that pass), woken at the
 * next due time, at least once a minute (so a clock step or a lost wake-up costs a minute at most).
 * Tests may drive `runOnce()` without starting the timers.
 */
export class WakeLoop<R> {
  private running: Promise<R> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    private readonly pass: () => Promise<R>,
    private readonly nextWakeAt: () => number | undefined,
    private readonly now: () => number,
    private readonly onError: (err: unknown) => void,
  ) {}

  runOnce(): Promise<R> {
    if (this.running) return this.running;
    const run = this.pass().finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** Starts the loop on real timers (the daemon). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /** Something became due now (a record queued): run a pass soon, if the loop runs. */
  kick(): void {
    if (this.started) this.schedule(0);
  }

  /** Stops the timers and waits for a pass in flight. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await this.running.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.max(0, Math.min(delayMs, 60_000)));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    try {
      await this.runOnce();
    } catch (err) {
      this.onError(err);
    }
    if (!this.started) return;
    const next = this.nextWakeAt();
    this.schedule(next === undefined ? 60_000 : next - this.now());
  }
}
