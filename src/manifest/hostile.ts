/**
 * Recognising hostile values in fields a schema pattern refused, so that the
 * message says what is wrong (shell syntax, a path, a header) instead of "does not
 * match". Runbook commands are reviewed shell by design; the values spliced into
 * them (names, addresses, services) are what must be inert.
 */
export type HostileKind = 'hostile-header' | 'hostile-path' | 'hostile-shell';

const SHELL = /[;&|`$(){}<>\\'"*?!~#\s[\]]/;
const PATH = /(^|\/)\.\.?(\/|$)|\//;
const LINE_BREAK = /[\r\n\u2028\u2029]/;

export interface HostileContext {
  /** The field takes an e-mail address or text that goes into a mail header. */
  header: boolean;
  /** The field's value becomes a file name (names). */
  fileName: boolean;
}

export function classifyHostile(value: string, ctx: HostileContext): HostileKind | undefined {
  if (LINE_BREAK.test(value)) return ctx.header ? 'hostile-header' : 'hostile-shell';
  // Mail fields never reach a shell; only line breaks make them dangerous there.
  if (ctx.header) return undefined;
  if (ctx.fileName && (PATH.test(value) || value.startsWith('.'))) return 'hostile-path';
  if (SHELL.test(value)) return 'hostile-shell';
  return undefined;
}

export function hostileMessage(kind: HostileKind, expected: string): string {
  switch (kind) {
    case 'hostile-header':
      return `must be one line: a line break here could add e-mail headers (${expected})`;
    case 'hostile-path':
      return `contains path syntax (/ or ..): this value becomes a file name or part of a path, so it must be ${expected}`;
    case 'hostile-shell':
      return `contains shell syntax (such as ; | & $ \` quotes, spaces or line breaks): this value is placed into commands, so it must be ${expected}`;
  }
}
