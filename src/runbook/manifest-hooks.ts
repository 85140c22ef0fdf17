/**
 * What the runbook layer adds to the manifest loader, in one place for every caller
 * (validate, plan, runbook show, check-access, reconcile, the daemon): runbook selection
 * behind the loader's RunbookSelector, and the operator's review policy as a semantic
 * check. One definition, so the daemon refuses exactly what `mamori validate` refuses.
 *
 * The review judges parsed commands, and parsing a customer's text happens in a worker
 * thread under a time budget (shell-parser-pool.ts): so the check is prepared, per set
 * of files, before the loader's synchronous checks run.
 */
import type { LoadedDocument, ManifestFile, RunbookDocument, RunbookSelector, SemanticCheck } from '../manifest/types.ts';
import { fastParse } from '../manifest/fast-parse.ts';
import { parseYaml } from '../manifest/parse-yaml.ts';
import { placementOf } from '../manifest/ownership.ts';
import { MANIFEST_LIMITS } from '../manifest/limits.ts';
import { customRunbookCommands, reviewPolicyCheck } from './policy.ts';
import { selectRunbook } from './select.ts';
import { DEFAULT_PARSE_BUDGET_MS, ShellParserPool, type ParseDocument } from './shell-parser-pool.ts';

/** src/runbook/select.ts behind the loader's RunbookSelector interface. */
export const runbookSelector: RunbookSelector = (server, service, runbooks) => {
  const chosen = selectRunbook(server.doc, service, runbooks as Map<string, LoadedDocument<RunbookDocument>>);
  return 'error' in chosen ? undefined : runbooks.get(chosen.runbook.metadata.name);
};

const decoder = new TextDecoder('utf-8', { fatal: false });
/** schemas/runbook.schema.json's longest command. */
const MAX_COMMAND_CHARS = 2000;

/** The command texts of every customer runbook among `files`, read as the loader reads them. */
export function customerCommandTexts(files: readonly ManifestFile[]): ParseDocument[] {
  const out: ParseDocument[] = [];
  for (const file of files) {
    const place = placementOf(file.path);
    if (!place.ok || place.placement.kind !== 'Runbook' || place.placement.owner.kind !== 'customer') continue;
    const size = typeof file.content === 'string' ? file.content.length : file.content.byteLength;
    if (size > MANIFEST_LIMITS.maxFileBytes) continue;
    const text = typeof file.content === 'string' ? file.content : decoder.decode(file.content);
    const value = fastParse(text)?.value ?? parseYaml(text, file.path).value;
    const steps = (value as { spec?: { steps?: unknown } } | null | undefined)?.spec?.steps;
    if (!Array.isArray(steps)) continue;
    const texts = customRunbookCommands({ spec: { steps: steps.filter((s) => s !== null && typeof s === 'object') } } as unknown as RunbookDocument).filter(
      (t): t is string => typeof t === 'string',
    );
    // Longer commands are refused by the schema, before the review reads them.
    const judged = texts.filter((t) => t.length <= MAX_COMMAND_CHARS);
    if (judged.length > 0) out.push({ key: file.path, texts: judged });
  }
  return out;
}

/**
 * The checks a loader call adds to its own for these files: the review policy for custom
 * runbooks, with every customer command already parsed (in the pool's worker, in budget).
 */
export async function manifestChecks(files: readonly ManifestFile[], parser: ShellParserPool): Promise<readonly SemanticCheck[]> {
  const outcomes = await parser.parse(customerCommandTexts(files));
  return [reviewPolicyCheck((text) => outcomes.get(text))];
}

/** manifestChecks bound to a parser, in the shape the loader's `checksFor` option takes. */
export function checksWith(parser: ShellParserPool): (files: readonly ManifestFile[]) => Promise<readonly SemanticCheck[]> {
  return (files) => manifestChecks(files, parser);
}

/** A parser for one command's run (a CLI call): its worker is ended when `fn` is done. */
export async function withShellParser<T>(fn: (parser: ShellParserPool) => Promise<T>, budgetMs = DEFAULT_PARSE_BUDGET_MS): Promise<T> {
  const parser = new ShellParserPool({ budgetMs });
  try {
    return await fn(parser);
  } finally {
    await parser.close();
  }
}
