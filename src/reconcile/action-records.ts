/**
 * The journal records of decide's actions, in order. Pure: the controller writes them as one batch
 * and commits the history they come from only once they are in the journal — a pass whose records
 * could not be written changes nothing, and the next pass decides again from the same history.
 */
import type { JournalEntry } from '../status/journal.ts';
import type { Action, ServerHistory } from './types.ts';

export function recordsOf(actions: readonly Action[], historyOf: (server: string) => ServerHistory | undefined, now: number): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const a of actions) {
    switch (a.type) {
      case 'transition': {
        const h = historyOf(a.server)?.services[a.service];
        out.push({ type: 'transition', server: a.server, service: a.service, from: a.from, to: a.to, reason: a.reason, at: a.at, consecutiveFailures: h?.consecutiveFailures ?? 0, ...(h?.escalation ? { escalation: h.escalation } : {}) });
        break;
      }
      case 'open-incident':
        out.push({ type: 'incident-opened', server: a.server, incident: a.incident, at: now });
        break;
      case 'close-incident':
        out.push({ type: 'incident-closed', server: a.server, incidentId: a.incidentId, target: a.target, reason: a.reason, at: now });
        break;
      case 'escalate':
        out.push({ type: 'escalated', server: a.server, target: a.target, incidentId: a.incidentId, reason: a.reason, at: now });
        break;
      case 'hold-flapping':
        out.push({ type: 'hold-flapping', server: a.server, service: a.service, flips: a.flips, at: now });
        break;
      case 'pause-for-mass-failure':
        out.push({ type: 'mass-failure-paused', episode: a.episode, at: now });
        break;
      case 'clear-mass-failure':
        out.push({ type: 'mass-failure-cleared', scope: a.scope, since: a.since, at: now });
        break;
      case 'notify':
        out.push({ type: 'notify', id: a.id, kind: a.kind, server: a.server, target: a.target, incidentId: a.incidentId, ...(a.missingNetworks !== undefined ? { missingNetworks: a.missingNetworks } : {}), at: now });
        break;
      case 'quorum':
        // The vantage votes a judgement used: which networks saw what, and when.
        out.push({ type: 'quorum', server: a.server, service: a.service, judgement: a.note.judgement, votes: a.note.votes, lost: a.note.lost, ...(a.note.missingNetworks !== undefined ? { missingNetworks: a.note.missingNetworks } : {}), at: now });
        break;
      case 'probe-again-at':
      case 'run-runbook':
        break;
    }
  }
  return out;
}
