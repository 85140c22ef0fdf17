/** What the status page shows, gathered by the daemon on each request (see status-page.ts). */
import type { MassFailureEpisode } from '../../reconcile/types.ts';
import type { Transcript } from '../../runbook/execution.ts';
import type { DesiredStatus } from '../../source/desired.ts';
import type { SyncerStatus } from '../../source/syncer.ts';
import type { ServerStatus } from '../../status/model.ts';
import type { LatencyPoint } from './live-state.ts';

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
}

export interface ViewOptions {
  /** Transcripts (commands and their output) only for a reader with the token (or on the loopback without one). */
  showTranscripts: boolean;
  customer?: string;
  /** A change counter: the client asks again only when it moved. */
  version: number;
}
