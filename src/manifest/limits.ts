/**
 * Bounds on what the loader accepts. A manifest is a page of YAML; anything far
 * larger or deeper is a mistake or an attack, and is refused before it costs much.
 */
export const MANIFEST_LIMITS = {
  /** Bytes per manifest file; checked before the file is read. */
  maxFileBytes: 256 * 1024,
  /** Nesting of maps and lists. The deepest schema path is about 8 levels. */
  maxDepth: 32,
  /** Alias expansions per document (yaml's resource-exhaustion guard). */
  maxAliasCount: 20,
  /** Files in one manifests tree, so that a runaway tree cannot stall a load. */
  maxFiles: 100_000,
  /** Folder depth inside the tree. */
  maxFolderDepth: 16,
} as const;
