/**
 * The journal, read for the status page's uptime bars: at most once a minute, in the background
 * (a request never waits on the disk; it gets the last timeline read), one read at a time. Until
 * the first read the page shows no bars rather than guessed ones.
 */
import type { Logger } from '../../log.ts';
import { buildTimeline, type Timeline } from '../../report/timeline.ts';
import { uptimeHistory, type UptimeHistory } from '../../report/uptime.ts';
import { readJournal } from '../../status/journal.ts';

export interface UptimeSourceOptions {
  stateDir: string;
  timeZone: string;
  logger: Logger;
  /** How old a timeline may be before the next request starts a new read (60 s). */
  refreshMs?: number;
  now?: () => number;
}

export class UptimeSource {
  private timeline: { tl: Timeline; at: number } | undefined;
  private readonly histories = new Map<string, UptimeHistory>();
  private reading: Promise<void> | undefined;
  private failedAt = 0;

  constructor(private readonly options: UptimeSourceOptions) {}

  history(server: string, service: string): UptimeHistory | undefined {
    this.refreshIfStale();
    const t = this.timeline;
    if (t === undefined) return undefined;
    const key = `${server}|${service}`;
    let h = this.histories.get(key);
    if (h === undefined) {
      h = uptimeHistory(t.tl, server, service, t.at, this.options.timeZone);
      this.histories.set(key, h);
    }
    return h;
  }

  /** Reads the journal now (the daemon calls it once at start; tests wait on it). */
  refresh(): Promise<void> {
    this.reading ??= (async () => {
      const at = (this.options.now ?? Date.now)();
      try {
        const { records } = await readJournal(this.options.stateDir);
        this.timeline = { tl: buildTimeline(records, at), at };
        this.histories.clear();
      } catch (err) {
        this.failedAt = at;
        this.options.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'uptime history not read');
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private refreshIfStale(): void {
    const now = (this.options.now ?? Date.now)();
    const every = this.options.refreshMs ?? 60_000;
    if (this.reading !== undefined || now - this.failedAt < every) return;
    if (this.timeline === undefined || now - this.timeline.at >= every) void this.refresh();
  }
}
