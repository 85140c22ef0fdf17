/**
 * The journal records that say when mamori was watching what. The reconciler's records say what
 * happened to a service; these say when nothing could have been seen: the daemon starting and
 * stopping, a heartbeat while it runs, and the set of servers and services in the manifests.
 * Without them the report could not tell "up all month" from "mamori was down for two hours".
 */

export const MONITOR_STARTED = 'monitor-started';
export const MONITOR_HEARTBEAT = 'monitor-heartbeat';
export const MONITOR_DESIRED = 'monitor-desired';
export const MONITOR_STOPPED = 'monitor-stopped';
/** Replicas: the servers this replica watches (its shard), whenever that changes. */
export const MONITOR_SHARD = 'monitor-shard';

/** Every 5 minutes: 288 small records a day, and a gap is known to within 10 minutes. */
export const DEFAULT_HEARTBEAT_MS = 5 * 60 * 1000;

/** A silence longer than this many heartbeats is a gap (the daemon was down or stalled). */
export const SILENCE_HEARTBEATS = 2;

export interface MonitoredServer {
  name: string;
  customer?: string;
  services: string[];
}

export interface MonitorStartedRecord {
  type: typeof MONITOR_STARTED;
  heartbeatMs: number;
  pid?: number;
  /**
   * Replicas: this replica's name. Its journal then watches only the servers of its
   * `monitor-shard` records (none until the first); without it, every server in the manifests.
   */
  replica?: string;
}

export interface MonitorShardRecord {
  type: typeof MONITOR_SHARD;
  replica: string;
  /** The live replicas it saw (the report names those whose journal it was not given). */
  members: string[];
  /** The server ids (customer/name) it watches from now on. */
  servers: string[];
}

export interface MonitorDesiredRecord {
  type: typeof MONITOR_DESIRED;
  revision?: string;
  servers: MonitoredServer[];
}
