/**
 * The loader's own answer to "which runbook repairs this service here", used when
 * no selector is passed in (src/runbook/select.ts is the real one: the manifest
 * layer may not import it). It follows the same rules: the server's own choice,
 * else the most specific standard runbook whose appliesTo fits the OS.
 */
import type { LoadedDocument, RunbookDocument, RunbookSelector } from './types.ts';
import { daemonServiceOf, repairsService } from './services.ts';
import { versionInRange } from './version.ts';

export const fallbackSelectRunbook: RunbookSelector = (server, service, runbooks) => {
  const named = server.doc.spec.runbooks?.[service] ?? server.doc.spec.runbooks?.[daemonServiceOf(service)];
  if (named !== undefined) {
    const r = runbooks.get(named);
    return r !== undefined && repairsService(r.doc.spec.services, service) ? r : undefined;
  }
  const os = server.doc.spec.os;
  let best: LoadedDocument<RunbookDocument> | undefined;
  let bestScore = -1;
  for (const r of runbooks.values()) {
    if (r.owner.kind !== 'operator' || !repairsService(r.doc.spec.services, service)) continue;
    const applies = r.doc.spec.appliesTo ?? [];
    let score = -1; // a standard runbook without appliesTo suits no system
    for (const a of applies) {
      if (a.family !== os.family) continue;
      if (a.variant !== undefined && a.variant !== os.variant) continue;
      if (!versionInRange(os.version, a.minVersion, a.belowVersion)) continue;
      score = Math.max(score, 1 + (a.variant !== undefined ? 1 : 0) + (a.minVersion !== undefined || a.belowVersion !== undefined ? 1 : 0));
    }
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
};
