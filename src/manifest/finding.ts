/** Building findings about a loaded document's field, positioned from its source. */
import type { Finding, LoadedDocument } from './types.ts';

export function findingAt(
  doc: Pick<LoadedDocument<unknown>, 'file' | 'positionOf'> & { absolutePath?: string },
  field: string,
  rule: string,
  message: string,
  severity: Finding['severity'] = 'error',
): Finding {
  const pos = doc.positionOf(field);
  return {
    file: doc.file,
    line: pos.line,
    col: pos.col,
    field,
    message,
    rule,
    severity,
    ...(doc.absolutePath !== undefined ? { path: doc.absolutePath } : {}),
  };
}
