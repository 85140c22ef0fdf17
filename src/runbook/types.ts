/**
 * A runbook rendered for one server and one service: the exact steps and commands
 * the executor runs, with manifest values already quoted in. Plain data, so that
 * `mamori runbook show`, `mamori plan` and the executor all see the same thing.
 */
import type { ServiceName } from '../manifest/types.ts';

export interface RenderedLook {
  /** A process that must be running, by its ps name. */
  process?: string;
  /** With process: its pid file (the process there must carry that name). */
  pidFile?: string;
  /** Connect to this port on 127.0.0.1 from the server itself. */
  localConnectPort?: number;
  /** A command whose exit status decides. */
  command?: string;
  expectExit?: number;
}

export type RenderedStep =
  | ({ kind: 'check' } & RenderedLook & StepCommon)
  | ({
      kind: 'run';
      command: string;
      sudo: boolean;
      /** Answer this prompt with the value of the server's secret `secretKey` (runs on a PTY). */
      answer?: { prompt: string; secretKey: string };
      onFailure: 'stop' | 'continue';
    } & StepCommon)
  | ({
      kind: 'verify';
      process?: string;
      localConnectPort?: number;
      probe: boolean;
      waitFor: ServiceName[];
      withinMs: number;
    } & StepCommon)
  | ({ kind: 'console'; action: 'check' | 'run'; command?: string } & StepCommon)
  | ({ kind: 'power'; action: 'status' | 'on' | 'off' | 'cycle' | 'recover' } & StepCommon)
  | ({ kind: 'escalate'; reason: string; message?: string } & StepCommon);

export interface StepCommon {
  /** The step's id (given, or `<kind>-<n>`). */
  id: string;
  description?: string;
  deadlineMs: number;
}

export interface RenderedRunbook {
  /** The runbook document's name. */
  runbook: string;
  /** Where it came from: the customer's own, or the operator's standard one. */
  origin: 'custom' | 'standard';
  server: string;
  service: ServiceName;
  address: string;
  deadlineMs: number;
  steps: RenderedStep[];
}
