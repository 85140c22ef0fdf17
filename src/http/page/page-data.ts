/** What the status page shows, gathered by the daemon on each request (see status-page.ts). */
import type { MassFailureEpisode } from '../../reconcile/types.ts';
import type { Transcript } from '../../runbook/execution.ts';
import type { DesiredStatus } from '../../source/desired.ts';
import type { SyncerStatus } from '../../source/syncer.ts';
import type { ServerStatus } from '../../status/model.ts';
import type { UptimeHistory } from '../../report/uptime.ts';
import type { LatencyPoint } from './live-state.ts';
import type { PageLang } from './messages.ts';
import type { StateFilter } from '../fleet-query.ts';

export interface PageData {
  now: number;
  /** The revision the reconciler runs on. */
  revision?: string;
  servers: readonly ServerStatus[];
  /** Servers nobody probes (removed, outside the target networks, no valid manifest), and why. */
  unmonitored?: ReadonlyArray<{ name: string; customer?: string; reason: string; message: string; since: number }>;
  massFailure: readonly MassFailureEpisode[];
  desired?: DesiredStatus;
  source?: SyncerStatus;
  latencies(server: string, service: string): readonly LatencyPoint[];
  transcripts(server: string, service: string): readonly Transcript[];
  /** 24 h and 30 d of the service's states from the journal; undefined while none is loaded. */
  uptime?(server: string, service: string): UptimeHistory | undefined;
}

export interface ViewOptions {
  /** Transcripts (commands and their output) only for a reader with the token (or on the loopback without one). */
  showTranscripts: boolean;
  customer?: string;
  /** A change counter: the client asks again only when it moved. */
  version: number;
  /** The reader's language (English when not given). */
  lang?: PageLang;
  /** The zone every absolute time is shown in, named (config mail.timeZone; UTC when not given). */
  timeZone?: string;
  /** The fleet grid's search, state filter and page (the page's ?q=, ?state=, ?page=). */
  fleetQuery?: { search?: string; state?: StateFilter; page?: number };
  /** This page in each language (the switch's links). */
  langHref?: Partial<Record<PageLang, string>>;
}
