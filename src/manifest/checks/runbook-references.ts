/**
 * A server's spec.runbooks must name runbooks that exist, are valid, repair that
 * service, and belong to the server's customer or to the operator. (That a custom
 * runbook's prompts have their secrets is the review policy's check, src/runbook/policy.ts.)
 */
import type { Finding, LoadedDocument, RunbookDocument, ServerDocument } from '../types.ts';
import { findingAt } from '../finding.ts';
import { joinField } from '../field-path.ts';
import { listServices } from '../services.ts';

/** A runbook by name: usable, or with errors (then only where it is and whose it is are known). */
export type KnownRunbook = { valid: true; doc: LoadedDocument<RunbookDocument> } | { valid: false; file: string; owner: LoadedDocument<unknown>['owner'] };

export function runbookReferenceFindings(servers: readonly LoadedDocument<ServerDocument>[], known: ReadonlyMap<string, KnownRunbook>): Finding[] {
  const out: Finding[] = [];
  for (const s of servers) {
    const subscribed = new Set(listServices(s.doc).map((x) => x.name));
    const customer = s.owner.kind === 'customer' ? s.owner.customer : undefined;
    for (const [service, name] of Object.entries(s.doc.spec.runbooks ?? {})) {
      if (name === undefined) continue;
      const field = joinField('spec.runbooks', service);
      if (!subscribed.has(service as never)) {
        out.push(findingAt(s, field, 'reference-unused', `names a runbook for ${service}, which spec.services does not list`, 'warning'));
      }
      const r = known.get(name);
      if (r === undefined) {
        out.push(findingAt(s, field, 'reference', `no runbook is named ${name}: write it in customers/${customer ?? '<customer>'}/runbooks/${name}.yaml, or name one of the operator's standard runbooks`));
        continue;
      }
      const owner = r.valid ? r.doc.owner : r.owner;
      if (owner.kind === 'customer' && owner.customer !== customer) {
        out.push(findingAt(s, field, 'owner-reference', `runbook ${name} belongs to customer ${owner.customer}: a server may use only its own customer's runbooks and the operator's standard runbooks`));
        continue;
      }
      if (!r.valid) {
        out.push(findingAt(s, field, 'reference-invalid', `runbook ${name} has errors (see ${r.file}), so this server cannot use it`));
        continue;
      }
      if (!r.doc.doc.spec.services.includes(service as never)) {
        out.push(findingAt(s, field, 'reference-service', `runbook ${name} repairs ${r.doc.doc.spec.services.join(', ')}, not ${service}`));
      }
    }
  }
  return out;
}
