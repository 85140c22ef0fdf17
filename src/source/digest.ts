import { createHash } from 'node:crypto';
import type { SourceFile } from './types.ts';

/** sha256 over sorted paths and contents: equal files, equal digest, whichever source read them. */
export function digestFiles(files: readonly SourceFile[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(file.path).update('\0').update(file.content).update('\0');
  }
  return hash.digest('hex');
}
