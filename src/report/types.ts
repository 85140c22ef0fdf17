/**
 * The monthly report's model: plain data, computed from the journal by `computeMonthlyReport`
 * and laid out as Markdown, HTML, JSON or an e-mail. Times are ISO 8601 (UTC), durations are
 * milliseconds (whole seconds when the journal's times are).
 */

/** A service's time over the report period, split the way the report explains it. */
export interface ServiceAvailability {
  service: string;
  /** Healthy or Recovered: the service answered mamori's probes. */
  upMs: number;
  /** Suspect, Down, Remediating or Escalated: at least the last probe failed (and no other vantage saw it answer). */
  downMs: number;
  /**
   * The vantage points disagreed: failing from one network, answering from another (a customer's
   * filter missing a management network, or mamori's own network). Neither up nor down.
   */
  disputedMs: number;
  /** Never counted as up: the sum of the three reasons below. */
  unknownMs: number;
  unknown: {
    /** The server (or this service) was not in the manifests: before it was added, after it was removed. */
    notMonitoredMs: number;
    /** The daemon was not running, or wrote nothing for longer than its heartbeat allows. */
    daemonDownMs: number;
    /** Watched, but no trusted probe result yet (state Unknown). */
    notProbedMs: number;
  };
  /** upMs / (upMs + downMs), disputed time left out; null when nothing was observed. */
  availability: number | null;
}

export interface ReportAttempt {
  attempt: number;
  startedAt: string;
  finishedAt?: string;
  /** Recovered, VerifyFailed, StepFailed, Escalated, Interrupted, … */
  verdict?: string;
  runbook?: string;
  /** Power actions taken in this attempt (cycle, reset, on). */
  powerActions: number;
  destructive: boolean;
  steps: Array<{ id: string; kind: string; outcome: string; command?: string; exitCode?: number; startedAt?: string; finishedAt?: string }>;
  /** When the outside probe that confirmed the recovery answered. */
  confirmedAt?: string;
}

export interface ReportIncident {
  id: string;
  server: string;
  /** A service, or `host` when the whole server did not answer. */
  target: string;
  detectedAt: string;
  openedAt: string;
  closedAt?: string;
  /** recovered, recovered-by-itself, resumed, removed, handed-over (replicas: its replica stopped watching the server, another took it over); absent while still open. */
  closeReason?: string;
  /** Opened → closed, when it closed because the service answered again. */
  timeToRecoveryMs?: number;
  escalations: Array<{ at: string; reason: string }>;
  attempts: ReportAttempt[];
  /** Time to recovery phase by phase (src/status/incident-phases.ts), seconds after the first failing probe. */
  phases: Array<{ kind: string; name: string; at: string; offsetS: number }>;
}

export interface ReportServer {
  name: string;
  contact?: { email: string; locale?: 'ja' | 'en'; name?: string; displayName?: string; cc?: string[] };
  /** Part of the period the server was in the manifests. */
  monitoredFrom?: string;
  monitoredUntil?: string;
  services: ServiceAvailability[];
  incidents: ReportIncident[];
}

export interface MonthlyReport {
  kind: 'MonthlyReport';
  customer: string;
  /** YYYY-MM */
  month: string;
  period: {
    start: string;
    /** The month's end, or the time of the report when the month is not over. */
    end: string;
    partial: boolean;
    /** The zone whose month this is (IANA name). */
    timeZone: string;
  };
  generatedAt: string;
  /** The daemon's heartbeat allowance used to find gaps (ms). */
  maxSilenceMs: number;
  /**
   * Replicas whose journal was not given although another's named them a member in the period:
   * what they watched reads as unknown here. Absent when every journal was read.
   */
  missingJournals?: string[];
  servers: ReportServer[];
  totals: {
    servers: number;
    incidents: number;
    recovered: number;
    attempts: number;
    powerActions: number;
    /** Mean time to recovery of the recovered incidents (ms), null without one. */
    meanTimeToRecoveryMs: number | null;
  };
}
