/**
 * What the runbook layer adds to the manifest loader, in one place for every caller
 * (validate, plan, runbook show, check-access, the daemon): runbook selection behind
 * the loader's RunbookSelector, and the operator's review policy as a semantic check.
 * One definition, so the daemon refuses exactly what `mamori validate` refuses.
 */
import type { LoadedDocument, RunbookDocument, RunbookSelector, SemanticCheck } from '../manifest/types.ts';
import { reviewPolicyCheck } from './policy.ts';
import { selectRunbook } from './select.ts';

/** src/runbook/select.ts behind the loader's RunbookSelector interface. */
export const runbookSelector: RunbookSelector = (server, service, runbooks) => {
  const chosen = selectRunbook(server.doc, service, runbooks as Map<string, LoadedDocument<RunbookDocument>>);
  return 'error' in chosen ? undefined : runbooks.get(chosen.runbook.metadata.name);
};

/** The checks every loader call adds to the loader's own: the review policy for custom runbooks. */
export const MANIFEST_CHECKS: readonly SemanticCheck[] = [reviewPolicyCheck];
