/** Every subscribed service needs a runbook: the server's own, or a standard one for its OS. */
import type { Finding, LoadedDocument, RunbookDocument, RunbookSelector, ServerDocument } from '../types.ts';
import { findingAt } from '../finding.ts';
import { listServices } from '../services.ts';

export function coverageFindings(
  servers: readonly LoadedDocument<ServerDocument>[],
  runbooks: ReadonlyMap<string, LoadedDocument<RunbookDocument>>,
  select: RunbookSelector,
): Finding[] {
  const out: Finding[] = [];
  for (const s of servers) {
    const os = s.doc.spec.os;
    for (const svc of listServices(s.doc)) {
      // An explicit choice that does not resolve is reported by the reference check.
      if (s.doc.spec.runbooks?.[svc.name] !== undefined) continue;
      if (select(s, svc.name, runbooks) !== undefined) continue;
      out.push(
        findingAt(
          s,
          `spec.services[${svc.index}]`,
          'runbook-missing',
          `no runbook repairs ${svc.name} on ${os.family}${os.variant ? ` ${os.variant}` : ''} ${os.version}: name your own in spec.runbooks.${svc.name}, or ask the operator for a standard one`,
        ),
      );
    }
  }
  return out;
}
