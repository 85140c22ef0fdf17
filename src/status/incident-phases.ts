/**
 * An incident's time to recovery, phase by phase, from its status record: the first failing probe,
 * confirmed Down (the incident opened), each runbook attempt's start and end, and the close.
 * Pure: shown under `mamori status SERVER` as YAML comments so the file stays valid YAML.
 */
import type { IncidentStatus, ServerStatus } from './model.ts';

export interface Phase {
  name: string;
  at: string;
  /** Seconds since the first failing probe. */
  offsetS: number;
}

export function incidentPhases(i: IncidentStatus): Phase[] {
  const t0 = Date.parse(i.detectedAt);
  const phase = (name: string, at: string): Phase => ({ name, at, offsetS: Math.round((Date.parse(at) - t0) / 100) / 10 });
  const out: Phase[] = [phase('first failing probe', i.detectedAt), phase('confirmed Down', i.openedAt)];
  for (const a of i.attempts) {
    out.push(phase(`runbook #${a.n} started`, a.startedAt));
    if (a.finishedAt !== undefined) out.push(phase(`runbook #${a.n} finished${a.verdict !== undefined ? ` (${a.verdict})` : ''}`, a.finishedAt));
  }
  if (i.closedAt !== undefined) out.push(phase(`closed${i.closeReason !== undefined ? ` (${i.closeReason})` : ''}`, i.closedAt));
  return out;
}

/** The open and the recent incidents' phases as `# ` lines (empty when there are none). */
export function formatIncidentPhases(s: ServerStatus): string {
  const incidents = [...s.incidents.open, ...s.incidents.recent];
  if (incidents.length === 0) return '';
  const lines = ['# incident phases (seconds after the first failing probe)'];
  for (const i of incidents) {
    lines.push(`# ${i.id}`);
    for (const p of incidentPhases(i)) lines.push(`#   +${p.offsetS.toFixed(1).padStart(6)} s  ${p.name}  ${p.at}`);
  }
  return `${lines.join('\n')}\n`;
}
