/**
 * Writes the coverage records (see coverage-records.ts) to the daemon's journal: `monitor-started`
 * at boot, `monitor-desired` whenever the applied servers change, a heartbeat while running and
 * `monitor-stopped` on a clean stop. A crash writes no stop: the report then counts the time
 * after the last record as unknown, which is the honest reading.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { Logger } from '../log.ts';
import { serviceNames } from '../manifest/services.ts';
import type { ServerDocument } from '../manifest/types.ts';
import type { Journal } from '../status/journal.ts';
import type { DesiredReportServer } from './compute.ts';
import { DEFAULT_HEARTBEAT_MS, MONITOR_DESIRED, MONITOR_HEARTBEAT, MONITOR_SHARD, MONITOR_STARTED, MONITOR_STOPPED, type MonitoredServer, type MonitorDesiredRecord, type MonitorShardRecord, type MonitorStartedRecord } from './coverage-records.ts';

export interface CoverageRecorderOptions {
  journal: Journal;
  logger: Logger;
  heartbeatMs?: number;
  /** Replicas: this replica's name (its journal then says which servers it watches: `shard`). */
  replica?: string;
}

export class CoverageRecorder {
  private readonly o: CoverageRecorderOptions;
  private readonly heartbeatMs: number;
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private lastShard = '';
  private stopped = false;

  constructor(options: CoverageRecorderOptions) {
    this.o = options;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  async start(): Promise<void> {
    await this.append({ type: MONITOR_STARTED, heartbeatMs: this.heartbeatMs, pid: process.pid, ...(this.o.replica !== undefined ? { replica: this.o.replica } : {}) } satisfies MonitorStartedRecord);
    this.timer = setInterval(() => void this.append({ type: MONITOR_HEARTBEAT }), this.heartbeatMs);
    this.timer.unref();
  }

  /** The servers now applied; written only when they differ from the last ones written. */
  desired(revision: string | undefined, servers: readonly MonitoredServer[]): void {
    const list = [...servers].map((s) => ({ name: s.name, ...(s.customer !== undefined ? { customer: s.customer } : {}), services: [...s.services].sort() })).sort((a, b) => a.name.localeCompare(b.name));
    const key = JSON.stringify(list);
    if (key === this.last) return;
    this.last = key;
    void this.append({ type: MONITOR_DESIRED, ...(revision !== undefined ? { revision } : {}), servers: list } satisfies MonitorDesiredRecord);
  }

  /**
   * Replicas: the servers this replica watches now (its shard, server ids) and the members it sees;
   * written only when either changed. Another replica's servers are its journal's to account for.
   */
  shard(members: readonly string[], servers: readonly string[]): void {
    const replica = this.o.replica;
    if (replica === undefined) return;
    const record: MonitorShardRecord = { type: MONITOR_SHARD, replica, members: [...members].sort(), servers: [...servers].sort() };
    const key = JSON.stringify([record.members, record.servers]);
    if (key === this.lastShard) return;
    this.lastShard = key;
    void this.append({ ...record });
  }

  /** Before the journal closes. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.append({ type: MONITOR_STOPPED });
  }

  private async append(entry: { type: string; [k: string]: unknown }): Promise<void> {
    if (this.stopped && entry.type !== MONITOR_STOPPED) return;
    try {
      await this.o.journal.append(entry);
    } catch (err) {
      // A lost heartbeat shows as unknown time in the report, which is what it is.
      this.o.logger.warn({ err, type: entry.type }, 'coverage record not journaled');
    }
  }
}

/** A server manifest as the coverage records name it: customer and service names. */
export function monitoredServerOf(doc: ServerDocument): MonitoredServer {
  // The id (customer/name): the journal names servers by it, and the report joins the two.
  return { name: serverIdOf(doc), ...(doc.metadata.customer !== undefined ? { customer: doc.metadata.customer } : {}), services: serviceNames(doc) };
}

/** A server manifest as the report takes it: coverage names and the contact its report goes to. */
export function desiredReportServerOf(doc: ServerDocument): DesiredReportServer {
  const m = monitoredServerOf(doc);
  const c = doc.spec.contact;
  return {
    name: m.name,
    ...(m.customer !== undefined ? { customer: m.customer } : {}),
    services: m.services,
    contact: { email: c.email, ...(c.locale !== undefined ? { locale: c.locale } : {}), ...(c.name !== undefined ? { name: c.name } : {}), ...(c.displayName !== undefined ? { displayName: c.displayName } : {}), ...(c.cc !== undefined ? { cc: [...c.cc] } : {}) },
  };
}
