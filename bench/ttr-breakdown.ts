/**
 * The time-to-recovery bench's breakdown (bench/ttr.ts): one mamori run's phases read from its
 * journal — kill → first failing probe → confirmed Down → runbook started → (steps, the outside
 * probe that confirmed) → runbook finished → Recovered — and, per lane, each phase's median beside
 * the README formula's term for it, with the phase of the probe schedule each kill fell at.
 * Pure: records and numbers in, figures out.
 */
import type { JournalRecord } from '../src/status/journal.ts';
import type { ProbeSettings } from '../test/support/lab-fleet.ts';

/** What the bench saw around one kill. */
export interface KillRun {
  /** Just before the kill command (ms). */
  killAt: number;
  /** The kill command's own time (console into the host, SIGKILL, the port seen closed). */
  killMs: number;
  /** The newest probe of the service before the kill (its start), when the API showed one. */
  lastProbeAt?: number;
}

/** One run's phases in seconds. */
export interface RunPhases {
  killS: number;
  /** Kill → the first failing probe started. */
  waitS: number;
  /** The first failing probe → confirmed Down (N rounds, N − 1 retry waits). */
  confirmS: number;
  /** The first round's duration (its start → the decision): tₚ as measured. */
  roundS?: number;
  /** Down → the runbook's `started` record. */
  queueS: number;
  /** started → finished. */
  runbookS: number;
  /** The runbook's steps: id → seconds. */
  steps: Record<string, number>;
  /** Runbook start → the outside probe that confirmed the recovery answered. */
  confirmedS?: number;
  /** finished → the Recovered transition. */
  closeS: number;
  /** Kill → Recovered. */
  totalS: number;
}

const s = (ms: number): number => ms / 1000;

/**
 * The phases of the incident a kill caused, from the journal (`server` is the server's id,
 * customer/name; `target` the incident's, `host` for the ping service). Undefined until its
 * Recovered transition is journaled.
 */
export function runPhases(records: readonly JournalRecord[], server: string, service: string, run: KillRun, target: string = service): RunPhases | undefined {
  const opened = records.find((r) => r.type === 'incident-opened' && r.server === server && (r.incident as { target?: string } | undefined)?.target === target && Number((r.incident as { openedAt?: number }).openedAt) >= run.killAt);
  if (opened === undefined) return undefined;
  const incident = opened.incident as { id: string; openedAt: number; detectedAt: number };
  const recovered = records.find((r) => r.type === 'transition' && r.server === server && r.service === service && r.to === 'Recovered' && Number(r.at) >= incident.openedAt);
  if (recovered === undefined) return undefined;
  const started = records.filter((r) => r.type === 'started' && r.incidentId === incident.id).at(-1);
  const finished = records.filter((r) => r.type === 'finished' && r.incidentId === incident.id).at(-1);
  const firstFold = records.find((r) => r.type === 'transition' && r.server === server && r.service === service && (r.to === 'Suspect' || r.to === 'Down') && Number(r.at) >= incident.detectedAt);
  const startedAt = Number(started?.at ?? incident.openedAt);
  const finishedAt = Number(finished?.at ?? recovered.at);
  const steps: Record<string, number> = {};
  for (const st of (finished?.steps as Array<{ id: string; startedAt?: string; finishedAt?: string }> | undefined) ?? []) {
    if (st.startedAt !== undefined && st.finishedAt !== undefined) steps[st.id] = s(Date.parse(st.finishedAt) - Date.parse(st.startedAt));
  }
  return {
    killS: s(run.killMs),
    waitS: s(incident.detectedAt - run.killAt),
    confirmS: s(incident.openedAt - incident.detectedAt),
    ...(firstFold !== undefined ? { roundS: s(Number(firstFold.at) - incident.detectedAt) } : {}),
    queueS: s(startedAt - incident.openedAt),
    runbookS: s(finishedAt - startedAt),
    steps,
    ...(typeof finished?.confirmedAt === 'number' ? { confirmedS: s(finished.confirmedAt - startedAt) } : {}),
    closeS: s(Number(recovered.at) - finishedAt),
    totalS: s(Number(recovered.at) - run.killAt),
  };
}

/** The schedule phase of a kill: how far into the interval since the probe before it. */
export function schedulePhase(run: KillRun, intervalS: number): number | undefined {
  return run.lastProbeAt === undefined ? undefined : (run.killAt - run.lastProbeAt) / 1000 / intervalS;
}

export function median(xs: readonly number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
}

/**
 * The README formula's terms (src/reconcile/README.md, "Time to recovery"): probes are due from the
 * start of one round to the start of the next, so the wait for the next scheduled probe is uniform
 * over one period max(I, tₚ)·(1 ± j) (median half of it); confirmation is N rounds, each retry
 * max(r, tₚ) after the previous round's start, the last one tₚ long; no queue; the runbook R.
 */
export function formulaTerms(p: ProbeSettings, roundS: number, runbookS: number): { wait: number; waitWorst: number; confirm: number; queue: number; runbook: number; close: number; median: number; worst: number } {
  const jitter = p.jitter ?? 0.1;
  const period = Math.max(p.intervalSeconds, roundS);
  const confirm = roundS + (p.failuresToDown - 1) * Math.max(p.retryIntervalSeconds, roundS);
  const wait = period / 2;
  const waitWorst = period * (1 + jitter);
  return { wait, waitWorst, confirm, queue: 0, runbook: runbookS, close: 0, median: wait + confirm + runbookS, worst: waitWorst + confirm + runbookS };
}

const f1 = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));

/** One lane's breakdown: per phase the median (and spread) beside the formula's term, as text rows. */
export function breakdownTable(lane: string, runs: readonly RunPhases[], terms: ReturnType<typeof formulaTerms>, phases: readonly (number | undefined)[]): string {
  const col = (pick: (r: RunPhases) => number | undefined): number[] => runs.map(pick).filter((x): x is number => x !== undefined);
  const row = (name: string, xs: number[], term: string): string => `| ${name} | ${f1(median(xs))} | ${f1(Math.min(...xs))} … ${f1(Math.max(...xs))} | ${term} |`;
  const stepIds = [...new Set(runs.flatMap((r) => Object.keys(r.steps)))];
  const lines = [
    `${lane}: ${runs.length} runs, medians per phase (s) beside the formula's term`,
    '| phase | median | min … max | formula |',
    '| --- | --- | --- | --- |',
    row('kill command (console, SIGKILL, port closed)', col((r) => r.killS), '(in the wait)'),
    row('kill → first failing probe (wait for the schedule)', col((r) => r.waitS), `max(I, tₚ)/2 = ${f1(terms.wait)} (0 … ${f1(terms.waitWorst)})`),
    row('first failing probe → confirmed Down', col((r) => r.confirmS), `tₚ + (N−1)·max(r, tₚ) = ${f1(terms.confirm)}`),
    row('  of which the first round (tₚ measured)', col((r) => r.roundS), 'tₚ'),
    row('confirmed Down → runbook started', col((r) => r.queueS), `Q = ${f1(terms.queue)}`),
    row('runbook started → finished', col((r) => r.runbookS), `R = ${f1(terms.runbook)}`),
    // Steps may nest: the OS check runs inside the first look over SSH (process-running).
    ...stepIds.map((id) => row(`  step ${id}`, col((r) => r.steps[id]), '')),
    row('  started → outside probe confirmed', col((r) => r.confirmedS), ''),
    row('runbook finished → Recovered', col((r) => r.closeS), f1(terms.close)),
    row('**kill → Recovered**', col((r) => r.totalS), `${f1(terms.median)} (worst ${f1(terms.worst)})`),
    `kill phases in the schedule (0 = just after a probe, 1 = one interval on): ${phases
      .filter((x): x is number => x !== undefined)
      .sort((a, b) => a - b)
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  ];
  return lines.join('\n');
}
