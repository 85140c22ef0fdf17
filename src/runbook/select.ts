/**
 * Which runbook repairs a service of a server: the customer's own when the server's
 * manifest names one for that service, else the operator's standard runbook that fits
 * the server's OS most specifically. Pure: no I/O, the same answer for the same input.
 */
import type { LoadedDocument, RunbookDocument, ServerDocument, ServiceName } from '../manifest/types.ts';
import { daemonServiceOf, repairsService } from '../manifest/services.ts';
import { compareVersions, versionInRange } from './version.ts';

export type RunbookSelection =
  | { runbook: RunbookDocument; origin: 'custom' | 'standard'; file?: string }
  | { error: string };

type AppliesTo = NonNullable<RunbookDocument['spec']['appliesTo']>[number];

interface Candidate {
  runbook: RunbookDocument;
  file?: string;
  operator: boolean;
}

function candidates(runbooks: Map<string, LoadedDocument<RunbookDocument>> | readonly RunbookDocument[]): Candidate[] {
  if (Array.isArray(runbooks)) {
    return runbooks.map((runbook) => ({ runbook, operator: runbook.metadata.customer === undefined }));
  }
  return [...(runbooks as Map<string, LoadedDocument<RunbookDocument>>).values()].map((loaded) => ({
    runbook: loaded.doc,
    file: loaded.file,
    operator: loaded.owner.kind === 'operator',
  }));
}

/** Higher is more specific: a named variant, then two bounds over one, then the narrower range. */
function specificity(entry: AppliesTo): [number, number, string, string] {
  const bounds = (entry.minVersion === undefined ? 0 : 1) + (entry.belowVersion === undefined ? 0 : 1);
  return [entry.variant === undefined ? 0 : 1, bounds, entry.minVersion ?? '0', entry.belowVersion ?? ''];
}

function moreSpecific(a: AppliesTo, b: AppliesTo): number {
  const [av, ab, amin, abelow] = specificity(a);
  const [bv, bb, bmin, bbelow] = specificity(b);
  if (av !== bv) return av - bv;
  if (ab !== bb) return ab - bb;
  const min = compareVersions(amin, bmin);
  if (min !== 0) return min;
  if (abelow === '' || bbelow === '') return abelow === bbelow ? 0 : abelow === '' ? -1 : 1;
  return -compareVersions(abelow, bbelow);
}

export function appliesToServer(entry: AppliesTo, os: ServerDocument['spec']['os']): boolean {
  if (entry.family !== os.family) return false;
  if (entry.variant !== undefined && entry.variant !== os.variant) return false;
  return versionInRange(os.version, entry.minVersion, entry.belowVersion);
}

/** Every standard runbook that fits this OS and service, best first (the first is the one selected). */
export function standardCandidates(
  os: ServerDocument['spec']['os'],
  service: ServiceName,
  runbooks: Map<string, LoadedDocument<RunbookDocument>> | readonly RunbookDocument[],
): Array<{ runbook: RunbookDocument; file?: string; entry: AppliesTo }> {
  const fits: Array<{ runbook: RunbookDocument; file?: string; entry: AppliesTo }> = [];
  for (const candidate of candidates(runbooks)) {
    if (!candidate.operator || !repairsService(candidate.runbook.spec.services, service)) continue;
    let best: AppliesTo | undefined;
    for (const entry of candidate.runbook.spec.appliesTo ?? []) {
      if (appliesToServer(entry, os) && (best === undefined || moreSpecific(entry, best) > 0)) best = entry;
    }
    if (best !== undefined) fits.push({ runbook: candidate.runbook, ...(candidate.file === undefined ? {} : { file: candidate.file }), entry: best });
  }
  // Ties between equally specific runbooks are broken by name, so the choice never
  // depends on the order files were read in.
  return fits.sort((a, b) => -moreSpecific(a.entry, b.entry) || a.runbook.metadata.name.localeCompare(b.runbook.metadata.name));
}

export function selectRunbook(
  server: ServerDocument,
  service: ServiceName,
  runbooks: Map<string, LoadedDocument<RunbookDocument>> | readonly RunbookDocument[],
): RunbookSelection {
  const named = server.spec.runbooks?.[service] ?? server.spec.runbooks?.[daemonServiceOf(service)];
  if (named !== undefined) {
    const customer = server.metadata.customer;
    const all = candidates(runbooks).filter((c) => c.runbook.metadata.name === named);
    // The customer's own runbook first; a customer may also name a standard runbook.
    const own = all.find((c) => !c.operator && c.runbook.metadata.customer === customer);
    const chosen = own ?? all.find((c) => c.operator);
    if (chosen === undefined) {
      return { error: `runbook "${named}" named for ${service} is not a runbook of customer ${customer ?? '(none)'} nor a standard runbook` };
    }
    if (!repairsService(chosen.runbook.spec.services, service)) {
      return { error: `runbook "${named}" does not repair ${service} (its services: ${chosen.runbook.spec.services.join(', ')})` };
    }
    return { runbook: chosen.runbook, origin: own === undefined ? 'standard' : 'custom', ...(chosen.file === undefined ? {} : { file: chosen.file }) };
  }
  const [best] = standardCandidates(server.spec.os, service, runbooks);
  if (best === undefined) {
    const os = server.spec.os;
    return { error: `no standard runbook for ${service} on ${os.family}${os.variant === undefined ? '' : ` ${os.variant}`} ${os.version}` };
  }
  return { runbook: best.runbook, origin: 'standard', ...(best.file === undefined ? {} : { file: best.file }) };
}
