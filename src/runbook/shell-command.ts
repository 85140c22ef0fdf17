/**
 * A customer's command as the review sees it: the simple commands that a shell would run,
 * each with its words as literal values where the parse can tell them, after the wrappers
 * that only run another command (sudo, env, nohup, timeout, xargs, sh -c, su -c …) are
 * taken off. Plain data: built in the parser's worker thread, judged on the main thread.
 */

/** One word of a command after the shell's quoting is removed. */
export interface ShellWord {
  /** The value: the literal text, or for a glob the pattern with its literal characters escaped by `\`. */
  text: string;
  /** The word is a glob (unquoted `*`, `?` or `[`): the shell replaces it by the names it matches. */
  glob?: true;
  /** Why the value cannot be known before the command runs (a variable, a substitution…). */
  dynamic?: string;
  /** The word as written. */
  source: string;
}

export interface ShellRedirect {
  /** `>`, `>>`, `>|`, `&>`, `&>>`, `<>`. Only redirections that write are kept. */
  op: string;
  target: ShellWord;
}

export interface ShellCommand {
  /** The program and its arguments, after the wrappers. */
  argv: ShellWord[];
  /** The wrappers taken off, outermost first (e.g. `sudo`, `sh -c`). */
  via: string[];
  /** The line of the command in the text given to the parser, from 0 (a nested `sh -c` string counts as its outer command's line). */
  row: number;
  /** The outermost simple command as written: what an operator allow-lists. */
  source: string;
  /** Where the command may run: every working directory it could have (`~` is the login's home), or null when unknown. */
  cwds: string[] | null;
  /** Files the command's redirections write. */
  writes: ShellRedirect[];
  /** The programs earlier in the same pipeline, which feed its standard input (`?` for one whose name is not literal). */
  pipedFrom: string[];
  /** Why the review cannot judge this command, when it cannot. */
  unreviewable?: string;
}

export interface ShellFunction {
  name: string;
  /** The function's body runs the function itself (a fork bomb's shape). */
  callsItself: boolean;
  row: number;
  source: string;
}

export interface ParsedShell {
  commands: ShellCommand[];
  functions: ShellFunction[];
}

/** The words of a command as a reader would type them (for findings). */
export function displayCommand(argv: readonly ShellWord[]): string {
  return argv
    .map((w) => {
      if (w.dynamic !== undefined || w.glob === true) return w.source;
      return /^[A-Za-z0-9_@%+=:,./{}-]+$/.test(w.text) ? w.text : `'${w.text.replace(/'/g, `'\\''`)}'`;
    })
    .join(' ');
}

/** The program's name without its directory (`/sbin/halt` → `halt`), or undefined when not literal. */
export function programName(cmd: Pick<ShellCommand, 'argv'>): string | undefined {
  const w = cmd.argv[0];
  if (w === undefined || w.dynamic !== undefined || w.glob === true) return undefined;
  const slash = w.text.lastIndexOf('/');
  return slash < 0 ? w.text : w.text.slice(slash + 1);
}

/** What became of one command text sent to the parser: parsed, or not within the time budget, or not at all. */
export type ParseOutcome = { parsed: ParsedShell } | { timeout: number } | { failed: string };
