/**
 * The contract between the reconciler and the executor: what one runbook execution
 * needs, and the structured transcript it returns. A failed step or an unrecovered
 * service is a verdict in the transcript, never an exception.
 */
import type { Logger } from '../log.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { RenderedRunbook } from './types.ts';

/** How an execution ended. PascalCase, as status condition reasons are. */
export type Verdict =
  /** Verified: the process runs and the outside probe passes. */
  | 'Recovered'
  /** The service runs and answers on the server itself, but not from mamori: a firewall or TCP wrappers. Nothing restarted. */
  | 'RemoteAccessBlocked'
  /** The host is alive on its console but unreachable over the network. No power action. */
  | 'HostUnreachable'
  /** The server is not the OS the manifest says. Nothing ran. */
  | 'OSMismatch'
  /** The SSH host key is not the pinned one: possibly a man-in-the-middle. Nothing ran. */
  | 'HostKeyMismatch'
  /** Login or `sudo -n` refused. */
  | 'ManagementAccessDenied'
  /** A prompt appeared that no secret answers (e.g. an SSL pass phrase). Aborted at once. */
  | 'PassphraseRequired'
  /** A secretRef did not resolve. Nothing ran. */
  | 'SecretMissing'
  /** A step failed (non-zero exit where it mattered). */
  | 'StepFailed'
  /** The steps ran but verification did not pass within its time. */
  | 'VerifyFailed'
  /** A step or the whole runbook ran past its deadline; the remote command was killed. */
  | 'DeadlineExceeded'
  /** The console/power channel could not be used (no profile, BMC unreachable, refused). */
  | 'ConsoleUnavailable'
  /** The runbook (or a manual profile) asks people to look: escalated on purpose. */
  | 'Escalated'
  /** The execution was stopped from outside (daemon shutdown); journaled as interrupted. */
  | 'Interrupted';

export interface StepRecord {
  id: string;
  kind: string;
  /** What ran, as reviewers read it (commands as rendered; never a secret). */
  command?: string;
  startedAt: string;
  finishedAt: string;
  exitCode?: number | null;
  /** Captured output, bounded and scrubbed of every secret. */
  output?: string;
  outcome: 'ok' | 'failed' | 'skipped' | 'timeout';
  note?: string;
}

export interface Transcript {
  runbook: string;
  origin: 'custom' | 'standard';
  server: string;
  service: ServiceName;
  startedAt: string;
  finishedAt: string;
  verdict: Verdict;
  /** One sentence on why, for status messages and e-mail. */
  message: string;
  steps: StepRecord[];
  /** Facts gathered on the way (e.g. `{ processRunning: true, localConnect: true }`), for e-mail evidence. */
  evidence: Record<string, string | number | boolean>;
  /** Whether anything was changed on the server (a restart, a power action). */
  acted: boolean;
  /** Power actions taken, for the budgets. */
  powerActions: Array<'on' | 'off' | 'cycle'>;
}

/** Re-probe one service of the server from mamori's side (the outside view). */
export type OutsideProbe = (service: ServiceName) => Promise<{ up: boolean; message?: string }>;

export interface ExecutionRequest {
  server: ServerDocument;
  runbook: RenderedRunbook;
  probe: OutsideProbe;
  /** Aborted when the daemon stops: the executor kills the remote command and returns Interrupted. */
  signal?: AbortSignal;
  logger?: Logger;
  /** Told of each step as it ends (`mamori runbook run` prints it at once). */
  onStep?: (step: StepRecord) => void;
  /**
   * Asked right before a power action is sent (`mamori runbook run` on a terminal asks the
   * operator); false: nothing is sent and the run ends Interrupted. The daemon passes none.
   */
  confirmPower?: (action: 'on' | 'off' | 'cycle', server: string) => Promise<boolean>;
  /**
   * Asked right before each step past the opening checks: a reason stops the run there (Interrupted,
   * nothing more sent). A replica that lost its etcd lease, or is past its step's deadline, acts no
   * more; a step already in flight finishes. Alone (no cluster), the daemon passes none.
   */
  mayAct?: () => string | undefined;
}

export interface Executor {
  execute(request: ExecutionRequest): Promise<Transcript>;
}
