/** Load and validate a manifests tree from disk (see read-tree.ts and validate-documents.ts). */
import type { ManifestFile, ManifestSet, SemanticCheck } from './types.ts';
import { readManifestTree } from './read-tree.ts';
import { validateDocuments, type ValidateOptions } from './validate-documents.ts';

export interface LoadOptions extends ValidateOptions {
  /** Checks prepared from the files before validation (the review policy parses commands off the main thread). */
  checksFor?: (files: readonly ManifestFile[]) => Promise<readonly SemanticCheck[]>;
}

export async function loadManifests(root: string, options: LoadOptions): Promise<ManifestSet> {
  const tree = await readManifestTree(root, { operatorDir: options.config.operatorDir });
  const prepared = options.checksFor !== undefined ? await options.checksFor(tree.files) : [];
  const set = validateDocuments(tree.files, { ...options, checks: [...(options.checks ?? []), ...prepared] });
  return { ...set, findings: [...tree.findings, ...set.findings] };
}

/**
 * loadManifests, reporting only the findings about `only` (absolute paths of files
 * or folders) when given: the whole tree is still loaded, because references cross files.
 */
export async function validateManifests(root: string, options: LoadOptions & { only?: readonly string[] }): Promise<ManifestSet> {
  const set = await loadManifests(root, options);
  const only = options.only;
  if (only === undefined || only.length === 0) return set;
  const keep = set.findings.filter((f) => f.path === undefined || only.some((o) => f.path === o || f.path?.startsWith(o.endsWith('/') ? o : `${o}/`)));
  return { ...set, findings: keep };
}
