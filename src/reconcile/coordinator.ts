/**
 * What the controller asks of the replicas it shares the fleet with (src/cluster implements it on
 * etcd; alone, there is none and the controller acts on everything it holds). The split of the
 * fleet is for load; whether an attempt may start is decided by `beginAttempt`, fenced.
 */
import type { RemediationTarget } from './types.ts';

/**
 * A server's key among replicas: its id, namespaced by its customer (two customers' servers never
 * share a claim). The controller hands over its id (`customer/name`, see serverIdOf), which already
 * carries the customer: prefixing it again gave `acme/acme/web5`. A bare name (a document without
 * a customer, built by hand in tests) is put under `_`.
 */
export function serverKey(server: string, customer: string | undefined): string {
  return server.includes('/') ? server : `${customer ?? '_'}/${server}`;
}

export interface AttemptRequest {
  server: string;
  customer: string | undefined;
  target: RemediationTarget;
  incidentId: string;
  attempt: number;
  destructive: boolean;
  /** The servers of the desired state with their group keys (the fleet-wide counts' totals). */
  fleet: ReadonlyMap<string, readonly string[]>;
  now: number;
}

export type AttemptGrant =
  | {
      ok: true;
      end: (verdict: string) => Promise<void>;
      /** Asked before each runbook step: a reason (the lease lost, the step's deadline past) stops the run. */
      mayAct?: () => string | undefined;
    }
  /**
   * `escalate`: a person must decide (a step of a previous owner is in doubt, or the fleet's budget
   * for this server is spent); otherwise the attempt simply did not start (charged nothing).
   */
  | { ok: false; reason: string; escalate: boolean };

/** What a host says about a step in doubt (src/cluster/takeover.ts judges it); times on this replica's clock. */
export type HostFact =
  /** The service's process runs; it started then. */
  | { kind: 'process'; startedAt: number }
  /** The host answered; no process of the service runs (a restart may have run and died). */
  | { kind: 'no-process' }
  /** The host answered; its current boot began then (its PID 1 started). */
  | { kind: 'booted'; at: number }
  /** The BMC's word on the power. */
  | { kind: 'power'; state: 'on' | 'off' }
  | { kind: 'unknown'; why: string };

/** Reads a host's facts for a step in doubt: the service's process (restart) or the boot and power (power). Never throws. */
export type HostFactReader = (server: string, step: { kind: 'restart' | 'power'; service: string }) => Promise<HostFact>;

export interface RemediationCoordinator {
  /** Whether this replica probes and judges the server (its shard of the fleet). */
  owns(server: string, customer: string | undefined): boolean;
  /** Whether any remediation may start now (a fresh lease held). */
  canRemediate(): boolean;
  /** The fenced claim and intent, before the attempt's `started` record. */
  beginAttempt(request: AttemptRequest): Promise<AttemptGrant>;
  /**
   * A service of a server this replica owns answered a trusted probe started at `at` (every such
   * probe; cheap when nothing is open): an incident another replica left open for it is over.
   */
  serviceAnswered?(server: string, customer: string | undefined, service: string, at: number): void;
  /** Lets a takeover ask the host about a step in doubt (the daemon wires it once the fleet is known). */
  readHostsWith?(reader: HostFactReader): void;
  /** This replica's judgement of a server it owns, for the fleet-wide mass-failure counts. */
  serverFailing(server: string, customer: string | undefined, groupKeys: readonly string[], failing: boolean): void;
}
