/**
 * An incident's time to recovery, phase by phase: the first failing probe, confirmed Down (the
 * incident opened), each runbook attempt's start, its steps, the outside probe that confirmed the
 * recovery and its end, and the close (Recovered). Pure: read from the status file's incident (the
 * history keeps the attempts' step times), shown under `mamori status SERVER` as YAML comments so
 * the file stays valid YAML, on the status page's incident view and in the monthly report.
 */
import type { IncidentStatus, ServerStatus } from './model.ts';

export type PhaseKind = 'first-failing-probe' | 'confirmed-down' | 'runbook-started' | 'step' | 'recovery-confirmed' | 'runbook-finished' | 'closed';

export interface Phase {
  kind: PhaseKind;
  name: string;
  at: string;
  /** Seconds since the first failing probe. */
  offsetS: number;
  /** The runbook attempt it belongs to. */
  attempt?: number;
  /** A step's id, outcome and duration (s). */
  step?: { id: string; outcome?: string; durationS: number };
}

const tenths = (ms: number): number => Math.round(ms / 100) / 10;

export function incidentPhases(i: IncidentStatus): Phase[] {
  const t0 = Date.parse(i.detectedAt);
  const phase = (kind: PhaseKind, name: string, at: string, more: Partial<Phase> = {}): Phase => ({ kind, name, at, offsetS: tenths(Date.parse(at) - t0), ...more });
  const out: Phase[] = [phase('first-failing-probe', 'first failing probe', i.detectedAt), phase('confirmed-down', 'confirmed Down', i.openedAt)];
  for (const a of i.attempts) {
    const attempt = a.n;
    const inner: Phase[] = [];
    for (const s of a.steps ?? []) {
      const durationS = tenths(Date.parse(s.finishedAt) - Date.parse(s.startedAt));
      inner.push(phase('step', `step ${s.id}${s.outcome !== undefined ? ` (${s.outcome})` : ''}, ${durationS.toFixed(1)} s`, s.startedAt, { attempt, step: { id: s.id, ...(s.outcome !== undefined ? { outcome: s.outcome } : {}), durationS } }));
    }
    if (a.confirmedAt !== undefined) inner.push(phase('recovery-confirmed', 'outside probe confirmed the recovery', a.confirmedAt, { attempt }));
    // Steps and the confirming probe in the order they happened (stable: ties keep step order).
    inner.sort((x, y) => Date.parse(x.at) - Date.parse(y.at));
    out.push(phase('runbook-started', `runbook #${attempt} started`, a.startedAt, { attempt }), ...inner);
    if (a.finishedAt !== undefined) out.push(phase('runbook-finished', `runbook #${attempt} finished${a.verdict !== undefined ? ` (${a.verdict})` : ''}`, a.finishedAt, { attempt }));
  }
  if (i.closedAt !== undefined) out.push(phase('closed', i.closeReason === 'recovered' ? 'Recovered' : `closed (${i.closeReason ?? 'closed'})`, i.closedAt));
  return out;
}

/** The open and the recent incidents' phases as `# ` lines (empty when there are none). */
export function formatIncidentPhases(s: ServerStatus): string {
  const incidents = [...s.incidents.open, ...s.incidents.recent];
  if (incidents.length === 0) return '';
  const lines = ['# incident phases (seconds after the first failing probe)'];
  for (const i of incidents) {
    lines.push(`# ${i.id}`);
    for (const p of incidentPhases(i)) lines.push(`#   +${p.offsetS.toFixed(1).padStart(6)} s  ${p.kind === 'step' ? '  ' : ''}${p.name}  ${p.at}`);
  }
  return `${lines.join('\n')}\n`;
}
