/** Load and validate a manifests tree from disk (see read-tree.ts and validate-documents.ts). */
import type { ManifestSet } from './types.ts';
import { readManifestTree } from './read-tree.ts';
import { validateDocuments, type ValidateOptions } from './validate-documents.ts';

export type LoadOptions = ValidateOptions;

export async function loadManifests(root: string, options: LoadOptions): Promise<ManifestSet> {
  const tree = await readManifestTree(root, { operatorDir: options.config.operatorDir });
  const set = validateDocuments(tree.files, options);
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
