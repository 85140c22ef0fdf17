/**
 * A customer's command, parsed by a real shell grammar (tree-sitter's bash grammar, run as
 * WebAssembly) into the simple commands it runs: through lists, pipelines, subshells,
 * groups, conditionals, loops, functions and substitutions, and through the wrappers
 * that run another command (sudo, env, nohup, timeout, nice, xargs, flock, su -c,
 * sh -c / bash -c, find -exec, trap, watch). What the parse cannot see through — a
 * program or argument that is only known when it runs, code for another interpreter,
 * a shell fed its commands on standard input — is marked unreviewable, with the reason.
 *
 * Runs in the parser's worker thread (shell-parse-worker.ts): the caller's time budget
 * ends a parse that takes too long by ending the thread.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';
import type { ParsedShell, ShellCommand, ShellRedirect, ShellWord } from './shell-command.ts';
import { escapeGlob } from './glob.ts';
import { resolvePath } from './paths.ts';

export interface ShellParser {
  parse(text: string): ParsedShell;
}

/** How deep `sh -c 'sh -c "…"'` may nest, and how deep the syntax tree, before the review gives up. */
const MAX_SHELL_DEPTH = 4;
const MAX_TREE_DEPTH = 150;
const MAX_COMMANDS = 2000;
const MAX_CWDS = 32;

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'ksh', 'ksh93', 'mksh', 'pdksh', 'zsh', 'rbash', 'posh', 'yash', 'hush']);
const OTHER_SHELLS = new Set(['csh', 'tcsh', 'fish', 'nu', 'xonsh', 'elvish', 'rc', 'es', 'pwsh', 'powershell']);
/** Interpreters, with the options that take a program as text. */
const INTERPRETERS: Record<string, { code: string; longCode?: string[]; values?: string }> = {
  python: { code: 'c', values: 'WXQm' },
  pypy: { code: 'c', values: 'WXQm' },
  perl: { code: 'eE', values: 'IMmx' },
  ruby: { code: 'e', values: 'IrCEFx' },
  php: { code: 'rBRE', values: 'cdzf' },
  node: { code: 'ep', longCode: ['--eval', '--print'], values: 'r' },
  nodejs: { code: 'ep', longCode: ['--eval', '--print'], values: 'r' },
  deno: { code: '', longCode: ['eval'] },
  bun: { code: 'e', longCode: ['--eval', '--print'] },
  lua: { code: 'e', values: 'l' },
  luajit: { code: 'e', values: 'lbj' },
  tclsh: { code: '' },
  wish: { code: '' },
  expect: { code: 'c', values: 'f' },
  Rscript: { code: 'e' },
  osascript: { code: 'e' },
  jshell: { code: '' },
  irb: { code: '' },
  gdb: { code: 'x', longCode: ['-ex', '--eval-command'] },
};
const AWKS = new Set(['awk', 'gawk', 'mawk', 'nawk']);

function interpreterOf(name: string): (typeof INTERPRETERS)[string] | undefined {
  const base = name.replace(/[0-9.]+$/, '');
  return INTERPRETERS[name] ?? INTERPRETERS[base];
}

/** A command's standard input, as the walk knows it. */
interface Input {
  /** Programs earlier in the pipeline. */
  pipedFrom: string[];
  /** A here-document, a here-string or a file redirected in. */
  fed?: 'here-document' | 'here-string' | 'file';
  writes: ShellRedirect[];
}

const NO_INPUT: Input = { pipedFrom: [], writes: [] };

interface Context {
  via: string[];
  /** For commands inside a nested shell string: the outer command's line and text. */
  row?: number;
  source?: string;
  shellDepth: number;
  treeDepth: number;
  cwdOverride?: string[] | null;
}

class Unreviewable extends Error {}

let languagePromise: Promise<Language> | undefined;

async function bashLanguage(): Promise<Language> {
  languagePromise ??= (async () => {
    const require = createRequire(import.meta.url);
    await Parser.init({ locateFile: (name: string) => require.resolve(`web-tree-sitter/${name}`) });
    return Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
  })();
  return languagePromise;
}

export async function createShellParser(): Promise<ShellParser> {
  const language = await bashLanguage();
  const parser = new Parser();
  parser.setLanguage(language);
  return { parse: (text) => new Walk(parser).run(text) };
}

/** The literal text of a word, without the shell's backslashes (outside quotes). */
function unescapeBare(text: string): { value: string; pattern: string; glob: boolean; problem?: string } {
  let value = '';
  let pattern = '';
  let glob = false;
  let braces = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\') {
      const next = text[i + 1];
      i++;
      if (next === undefined) return { value, pattern, glob, problem: 'a word ends in a backslash' };
      if (next === '\n') continue;
      value += next;
      pattern += escapeGlob(next);
      continue;
    }
    if (c === '$' || c === '`') return { value, pattern, glob, problem: 'an expansion' };
    if (c === '(' || c === ')' || c === '<' || c === '>' || c === '|' || c === '&' || c === ';') return { value, pattern, glob, problem: `an unquoted ${c}` };
    if (c === '*' || c === '?' || c === '[') {
      glob = true;
      pattern += c;
      value += c;
      continue;
    }
    if (c === '{') braces++;
    if (braces > 0 && (c === ',' || (c === '.' && text[i + 1] === '.'))) return { value, pattern, glob, problem: 'brace expansion' };
    value += c;
    pattern += escapeGlob(c);
  }
  return { value, pattern, glob };
}

/** Inside double quotes only `\$`, `` \` ``, `\"`, `\\` and backslash-newline are escapes. */
function unescapeDouble(text: string): string {
  return text.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
}

const DYNAMIC: Record<string, string> = {
  simple_expansion: 'a variable',
  expansion: 'a variable',
  command_substitution: 'a command substitution',
  process_substitution: 'a process substitution',
  arithmetic_expansion: 'an arithmetic expansion',
  ansi_c_string: "$'…' quoting",
  translated_string: '$"…" quoting',
  brace_expression: 'brace expansion',
};

function wordOf(node: Node): ShellWord {
  const source = node.text;
  const dynamic = (why: string): ShellWord => ({ text: '', dynamic: why, source });
  switch (node.type) {
    case 'word': {
      const u = unescapeBare(source);
      if (u.problem !== undefined) return dynamic(u.problem);
      return u.glob ? { text: u.pattern, glob: true, source } : { text: u.value, source };
    }
    case 'number':
      return /^-?[0-9]+$/.test(source) ? { text: source, source } : dynamic('an unusual number');
    case 'raw_string':
      return { text: source.slice(1, -1), source };
    case 'string': {
      for (const c of node.namedChildren) {
        if (c !== null && c.type !== 'string_content') return dynamic(DYNAMIC[c.type] ?? `a ${c.type} in double quotes`);
      }
      return { text: unescapeDouble(source.slice(1, -1)), source };
    }
    case 'concatenation': {
      const parts = node.namedChildren.filter((c): c is Node => c !== null).map(wordOf);
      const bad = parts.find((p) => p.dynamic !== undefined);
      if (bad !== undefined) return dynamic(bad.dynamic as string);
      if (parts.some((p) => p.glob === true)) return { text: parts.map((p) => (p.glob === true ? p.text : escapeGlob(p.text))).join(''), glob: true, source };
      return { text: parts.map((p) => p.text).join(''), source };
    }
    default:
      return dynamic(DYNAMIC[node.type] ?? `unrecognised syntax (${node.type})`);
  }
}

function literal(w: ShellWord | undefined): string | undefined {
  return w !== undefined && w.dynamic === undefined && w.glob !== true ? w.text : undefined;
}

function baseName(text: string): string {
  const slash = text.lastIndexOf('/');
  return slash < 0 ? text : text.slice(slash + 1);
}

/** GNU-style options from `args[start]`: returns the index of the first operand (after a `--`). */
function skipOptions(args: readonly ShellWord[], start: number, withValue: string, longWithValue: readonly string[] = [], seen?: (name: string, value: string | undefined) => void): number {
  let i = start;
  while (i < args.length) {
    const a = args[i] as ShellWord;
    const t = literal(a);
    if (t === undefined) {
      if (a.dynamic !== undefined) throw new Unreviewable(`an option is not literal: ${a.source}`);
      return i;
    }
    if (t === '--') return i + 1;
    if (!t.startsWith('-') || t === '-') return i;
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const name = eq < 0 ? t : t.slice(0, eq);
      if (eq < 0 && longWithValue.includes(name)) {
        seen?.(name, literal(args[i + 1]) ?? args[i + 1]?.source);
        i += 2;
      } else {
        seen?.(name, eq < 0 ? undefined : t.slice(eq + 1));
        i += 1;
      }
      continue;
    }
    let consumed = 1;
    for (let j = 1; j < t.length; j++) {
      const c = t[j] as string;
      if (withValue.includes(c)) {
        const rest = t.slice(j + 1);
        if (rest !== '') seen?.(`-${c}`, rest);
        else {
          seen?.(`-${c}`, literal(args[i + 1]) ?? args[i + 1]?.source);
          consumed = 2;
        }
        break;
      }
      seen?.(`-${c}`, undefined);
    }
    i += consumed;
  }
  return i;
}

interface Unwrapped {
  argv: ShellWord[];
  via: string[];
  /** A shell string to parse in place of the command (sh -c, su -c, sudo -s, trap, watch). */
  shellText?: { text: string; via: string };
  cwd?: string;
  /** A nested command (find -exec) beside the command itself. */
  extra?: Array<{ argv: ShellWord[]; via: string }>;
  unreviewable?: string;
}

/** Takes the wrappers off a command, one at a time. */
function unwrap(argv0: readonly ShellWord[], input: Input): Unwrapped {
  let argv = [...argv0];
  const via: string[] = [];
  let cwd: string | undefined;
  const done = (extra: Partial<Unwrapped> = {}): Unwrapped => ({ argv, via, ...(cwd !== undefined ? { cwd } : {}), ...extra });
  for (let round = 0; round < 16; round++) {
    const first = argv[0];
    if (first === undefined) return done();
    const program = literal(first);
    if (program === undefined) {
      return done({ unreviewable: first.glob === true ? `the program is a glob: ${first.source}` : `the program is not literal (${first.dynamic ?? 'unknown'}): ${first.source}` });
    }
    const name = baseName(program);
    const rest = (from: number): ShellWord[] => argv.slice(from);
    const joined = (words: readonly ShellWord[]): string | undefined => {
      const parts = words.map(literal);
      return parts.every((p) => p !== undefined) ? parts.join(' ') : undefined;
    };
    switch (name) {
      case 'sudo':
      case 'doas': {
        let shell = false;
        let edit = false;
        const i = skipOptions(argv, 1, name === 'sudo' ? 'CDghpRrtTUu' : 'uC', ['--chdir', '--close-from', '--group', '--host', '--prompt', '--chroot', '--role', '--type', '--command-timeout', '--other-user', '--user'], (opt, value) => {
          if (opt === '-s' || opt === '-i' || opt === '--shell' || opt === '--login') shell = true;
          if (opt === '-e' || opt === '--edit') edit = true;
          if ((opt === '-D' || opt === '--chdir') && value !== undefined) cwd = value;
        });
        via.push(name);
        if (edit) {
          argv = [{ text: 'sudoedit', source: 'sudo -e' }, ...rest(i)];
          return done();
        }
        if (shell) {
          if (i >= argv.length) return done({ unreviewable: `${name} -s/-i starts a shell that reads its commands from standard input` });
          const text = joined(rest(i));
          if (text === undefined) return done({ unreviewable: `${name} -s runs a shell command that is not literal` });
          via[via.length - 1] = `${name} -s`;
          return done({ shellText: { text, via: `${name} -s` } });
        }
        argv = rest(i);
        continue;
      }
      case 'env': {
        let split = false;
        let i = skipOptions(argv, 1, 'uCS', ['--unset', '--chdir', '--split-string'], (opt, value) => {
          if (opt === '-S' || opt === '--split-string') split = true;
          if ((opt === '-C' || opt === '--chdir') && value !== undefined) cwd = value;
        });
        if (split) return done({ unreviewable: 'env -S splits a string into a command' });
        while (i < argv.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i]?.source ?? '')) i++;
        via.push('env');
        argv = rest(i);
        if (argv.length === 0) argv = [{ text: 'env', source: 'env' }];
        if (argv.length === 1 && literal(argv[0]) === 'env') return done();
        continue;
      }
      case 'nohup':
      case 'builtin':
      case 'setsid':
        via.push(name);
        argv = rest(skipOptions(argv, 1, ''));
        continue;
      case 'nice':
      case 'ionice':
      case 'stdbuf':
      case 'time':
      case 'chrt':
      case 'taskset':
      case 'unbuffer': {
        const values = { nice: 'n', ionice: 'cnpPu', stdbuf: 'ioe', time: 'fo', chrt: '', taskset: '', unbuffer: '' }[name];
        let i = skipOptions(argv, 1, values, ['--adjustment', '--output', '--format', '--class', '--classdata']);
        if (name === 'taskset' || name === 'chrt') i++;
        via.push(name);
        argv = rest(i);
        continue;
      }
      case 'timeout': {
        const i = skipOptions(argv, 1, 'sk', ['--signal', '--kill-after']);
        via.push('timeout');
        argv = rest(i + 1);
        continue;
      }
      case 'chroot': {
        const i = skipOptions(argv, 1, '', ['--userspec', '--groups']);
        via.push('chroot');
        argv = rest(i + 1);
        if (argv.length === 0) return done({ unreviewable: 'chroot without a command starts a shell that reads standard input' });
        continue;
      }
      case 'command': {
        let query = false;
        const i = skipOptions(argv, 1, '', [], (opt) => {
          if (opt === '-v' || opt === '-V') query = true;
        });
        if (query) return done();
        via.push('command');
        argv = rest(i);
        continue;
      }
      case 'exec': {
        const i = skipOptions(argv, 1, 'a');
        if (i >= argv.length) return done();
        via.push('exec');
        argv = rest(i);
        continue;
      }
      case 'busybox':
        via.push('busybox');
        argv = rest(1);
        continue;
      case 'xargs': {
        let replace: string | undefined;
        const i = skipOptions(argv, 1, 'aEILnPsd', ['--arg-file', '--delimiter', '--max-args', '--max-procs', '--max-chars', '--process-slot-var'], (opt, value) => {
          if (opt === '-I') replace = value;
          if (opt === '-i' || opt.startsWith('--replace')) replace = value ?? '{}';
        });
        via.push('xargs');
        const cmd = i < argv.length ? rest(i) : [{ text: 'echo', source: 'echo' }];
        const fromInput: ShellWord = { text: '', dynamic: "arguments read from xargs's input", source: '(xargs input)' };
        argv = replace !== undefined ? cmd.map((w) => (w.dynamic === undefined && w.text.includes(replace as string) ? fromInput : w)) : [...cmd, fromInput];
        continue;
      }
      case 'flock': {
        let command: ShellWord | undefined;
        let i = skipOptions(argv, 1, 'wEc', ['--timeout', '--conflict-exit-code', '--command'], (opt, value) => {
          if (opt === '-c' || opt === '--command') command = { text: value ?? '', source: value ?? '' };
        });
        i++;
        if (command === undefined && i < argv.length && ['-c', '--command'].includes(literal(argv[i]) ?? '')) command = argv[i + 1];
        via.push(command !== undefined ? 'flock -c' : 'flock');
        if (command !== undefined) {
          const text = literal(command);
          if (text === undefined) return done({ unreviewable: 'flock -c runs a shell command that is not literal' });
          return done({ shellText: { text, via: 'flock -c' } });
        }
        argv = rest(i);
        if (argv.length === 0) return done();
        continue;
      }
      case 'su':
      case 'runuser': {
        let command: string | undefined;
        let commandWord: ShellWord | undefined;
        let shell: string | undefined;
        let direct = false;
        const operands: ShellWord[] = [];
        let i = 1;
        while (i < argv.length) {
          const t = literal(argv[i]);
          if (t === '-') {
            i++;
            continue;
          }
          if (t === '--') {
            operands.push(...rest(i + 1));
            break;
          }
          if (t !== undefined && t.startsWith('-')) {
            i = skipOptions(argv, i, 'cgGsCwu', ['--command', '--session-command', '--group', '--supp-group', '--shell', '--whitelist-environment', '--user'], (opt, value) => {
              if (['-c', '-C', '--command', '--session-command'].includes(opt)) {
                command = value;
                commandWord = argv.find((w) => w.source === value || w.text === value);
              }
              if (opt === '-s' || opt === '--shell') shell = value;
              if (opt === '-u' || opt === '--user') direct = true;
            });
            if (literal(argv[i - 1]) === '--') {
              operands.push(...rest(i));
              break;
            }
            continue;
          }
          operands.push(argv[i] as ShellWord);
          i++;
        }
        via.push(command !== undefined ? `${name} -c` : name);
        if (shell !== undefined && !SHELLS.has(baseName(shell))) return done({ unreviewable: `${name} -s ${shell} runs its command in a shell the review does not read` });
        if (command !== undefined) {
          if (commandWord !== undefined && commandWord.dynamic !== undefined) return done({ unreviewable: `${name} -c runs a shell command that is not literal` });
          return done({ shellText: { text: command, via: `${name} -c` } });
        }
        if (direct && operands.length > 0) {
          argv = operands;
          continue;
        }
        return done({ unreviewable: `${name} without -c starts a shell that reads its commands from standard input` });
      }
      case 'watch': {
        let exec = false;
        const i = skipOptions(argv, 1, 'nq', ['--interval'], (opt) => {
          if (opt === '-x' || opt === '--exec') exec = true;
        });
        via.push('watch');
        if (exec) {
          argv = rest(i);
          continue;
        }
        const text = joined(rest(i));
        if (text === undefined) return done({ unreviewable: 'watch runs a shell command that is not literal' });
        return done({ shellText: { text, via: 'watch' } });
      }
      case 'trap': {
        const action = argv[1];
        if (action === undefined || literal(action) === '-' || literal(action)?.startsWith('-') === true) return done();
        const text = literal(action);
        if (text === undefined) return done({ unreviewable: 'trap runs a command that is not literal' });
        via.push('trap');
        return done({ shellText: { text, via: 'trap' } });
      }
      case 'eval':
        return done({ unreviewable: 'eval runs text that is put together when the command runs' });
      case 'alias':
        return argv.slice(1).some((w) => w.source.includes('=')) ? done({ unreviewable: 'an alias replaces a command by text the review does not follow' }) : done();
      case 'find':
        return done({ extra: findExec(argv) });
      default:
        break;
    }
    if (SHELLS.has(name)) return shellCommand(argv, name, input, via, done);
    if (OTHER_SHELLS.has(name)) {
      return done({ unreviewable: `${name} runs commands in a language other than the POSIX shell, which the review does not read` });
    }
    const interpreter = interpreterOf(name);
    if (interpreter !== undefined) {
      let code: string | undefined;
      let script = false;
      for (let i = 1; i < argv.length; i++) {
        const t = literal(argv[i]);
        if (t === undefined) {
          script = true;
          break;
        }
        if (t === '--') {
          script = i + 1 < argv.length;
          break;
        }
        if (interpreter.longCode?.includes(t.split('=')[0] as string) === true) {
          code = t;
          break;
        }
        if (t.startsWith('-') && t !== '-' && !t.startsWith('--')) {
          const letters = t.slice(1);
          const hit = [...letters].find((c) => interpreter.code.includes(c));
          if (hit !== undefined) {
            code = `-${hit}`;
            break;
          }
          if ([...letters].some((c) => interpreter.values?.includes(c) === true) && letters.length === 1) i++;
          if (letters === 'm') script = true;
          continue;
        }
        if (t.startsWith('--')) continue;
        if (t === '-') break;
        script = true;
        break;
      }
      if (code !== undefined) return done({ unreviewable: `${name} ${code} runs a program written in the command, in a language the review does not read` });
      if (!script) return done({ unreviewable: `${name} without a script file reads its program from standard input` });
      return done();
    }
    if (AWKS.has(name)) {
      let program: ShellWord | undefined;
      let fromFile = false;
      const i = skipOptions(argv, 1, 'Fvf', ['--field-separator', '--assign', '--file'], (opt) => {
        if (opt === '-f' || opt === '--file') fromFile = true;
      });
      if (!fromFile) program = argv[i];
      if (program !== undefined) {
        const text = literal(program);
        if (text === undefined) return done({ unreviewable: `the ${name} program is not literal` });
        if (/system|\||getline/.test(text)) return done({ unreviewable: `the ${name} program runs commands (system, getline or a pipe)` });
      }
      return done();
    }
    if (input.fed !== undefined && (name === 'source' || name === '.')) {
      return done();
    }
    return done();
  }
  return { argv, via, unreviewable: 'too many wrappers around one command' };
}

function shellCommand(argv: ShellWord[], name: string, input: Input, via: string[], done: (extra?: Partial<Unwrapped>) => Unwrapped): Unwrapped {
  let stringMode = false;
  let stdinMode = false;
  let i = 1;
  for (; i < argv.length; i++) {
    const w = argv[i] as ShellWord;
    const t = literal(w);
    if (t === undefined) {
      if (w.dynamic !== undefined) return done({ unreviewable: `an option of ${name} is not literal: ${w.source}` });
      break;
    }
    if (t === '--' || t === '-') {
      i++;
      break;
    }
    if (t.startsWith('--')) {
      if (['--rcfile', '--init-file'].includes(t)) i++;
      continue;
    }
    if (t.startsWith('-') || t.startsWith('+')) {
      const letters = t.slice(1);
      if (letters.includes('c')) stringMode = true;
      if (letters.includes('s')) stdinMode = true;
      if (letters.includes('o') || letters.includes('O')) i++;
      continue;
    }
    break;
  }
  if (stringMode) {
    via.push(`${name} -c`);
    const w = argv[i];
    const text = literal(w);
    if (text === undefined) return done({ unreviewable: `${name} -c runs a command that is not literal${w !== undefined ? `: ${w.source}` : ''}` });
    return done({ shellText: { text, via: `${name} -c` } });
  }
  if (stdinMode || i >= argv.length) {
    const from = input.fed ?? (input.pipedFrom.length > 0 ? `a pipe from ${input.pipedFrom.join(' | ')}` : 'standard input');
    return done({ unreviewable: `${name} reads the commands it runs from ${from}, which the review cannot see` });
  }
  return done();
}

/** find's `-exec cmd … ;` commands, with `{}` standing for each starting point. */
function findExec(argv: readonly ShellWord[]): Array<{ argv: ShellWord[]; via: string }> {
  let i = 1;
  while (i < argv.length && ['-H', '-L', '-P'].includes(literal(argv[i]) ?? '')) i++;
  const starts: ShellWord[] = [];
  for (; i < argv.length; i++) {
    const t = literal(argv[i]);
    if (t !== undefined && (t.startsWith('-') || t === '(' || t === '!' || t === ')' || t === ',')) break;
    starts.push(argv[i] as ShellWord);
  }
  if (starts.length === 0) starts.push({ text: '.', source: '.' });
  const out: Array<{ argv: ShellWord[]; via: string }> = [];
  for (; i < argv.length; i++) {
    const t = literal(argv[i]);
    if (t === undefined || !['-exec', '-execdir', '-ok', '-okdir'].includes(t)) continue;
    const cmd: ShellWord[] = [];
    let j = i + 1;
    for (; j < argv.length; j++) {
      const e = literal(argv[j]);
      if (e === ';' || (e === '+' && literal(argv[j - 1]) === '{}')) break;
      cmd.push(argv[j] as ShellWord);
    }
    for (const start of starts.slice(0, 8)) {
      out.push({
        argv: cmd.map((w) => {
          if (w.dynamic !== undefined || !w.text.includes('{}')) return w;
          return start.dynamic !== undefined ? start : { ...w, text: w.text.split('{}').join(start.text), ...(start.glob === true ? { glob: true as const } : {}) };
        }),
        via: `find ${t}`,
      });
    }
    i = j;
  }
  return out;
}

class Walk {
  private readonly commands: ShellCommand[] = [];
  private readonly functions: ParsedShell['functions'] = [];
  private cwds: Set<string> | null = new Set(['~']);

  constructor(private readonly parser: Parser) {}

  run(text: string): ParsedShell {
    this.parseText(text, { via: [], shellDepth: 0, treeDepth: 0 }, NO_INPUT);
    return { commands: this.commands, functions: this.functions };
  }

  private parseText(text: string, ctx: Context, input: Input): void {
    const tree = this.parser.parse(text);
    if (tree === null) {
      this.refuse(ctx, 0, text, 'the shell grammar could not read this command');
      return;
    }
    try {
      const root = tree.rootNode;
      if (root.hasError) {
        const bad = firstError(root);
        this.refuse(ctx, bad?.startPosition.row ?? 0, text, `the shell cannot parse this command${bad !== undefined ? ` (near ${JSON.stringify(bad.text.slice(0, 40))})` : ''}`);
        return;
      }
      try {
        this.statements(root, ctx, input);
      } catch (err) {
        if (err instanceof Unreviewable) this.refuse(ctx, 0, text, err.message);
        else throw err;
      }
    } finally {
      tree.delete();
    }
  }

  private refuse(ctx: Context, row: number, source: string, reason: string): void {
    this.commands.push({
      argv: [{ text: '', dynamic: reason, source: source.trim().slice(0, 200) }],
      via: ctx.via,
      row: ctx.row ?? row,
      source: ctx.source ?? source.trim(),
      cwds: this.cwdList(),
      writes: [],
      pipedFrom: [],
      unreviewable: reason,
    });
  }

  private cwdList(): string[] | null {
    return this.cwds === null ? null : [...this.cwds];
  }

  private deeper(ctx: Context): Context {
    if (ctx.treeDepth >= MAX_TREE_DEPTH) throw new Unreviewable('the command is nested too deeply to review');
    return { ...ctx, treeDepth: ctx.treeDepth + 1 };
  }

  /** Every statement under `node`, each with the same input. */
  private statements(node: Node, ctx: Context, input: Input): void {
    for (const child of node.namedChildren) if (child !== null) this.statement(child, ctx, input);
  }

  private statement(node: Node, outer: Context, input: Input): void {
    const ctx = this.deeper(outer);
    if (this.commands.length > MAX_COMMANDS) throw new Unreviewable('the command holds too many commands to review');
    switch (node.type) {
      case 'comment':
      case 'heredoc_body':
      case 'heredoc_start':
      case 'heredoc_end':
        return;
      case 'program':
      case 'list':
      case 'compound_statement':
      case 'subshell':
      case 'do_group':
      case 'if_statement':
      case 'elif_clause':
      case 'else_clause':
      case 'while_statement':
      case 'negated_command':
        this.statements(node, ctx, input);
        return;
      case 'case_statement':
      case 'case_item':
      case 'for_statement':
      case 'c_style_for_statement': {
        for (const child of node.namedChildren) {
          if (child === null) continue;
          if (isStatement(child.type)) this.statement(child, ctx, input);
          else this.substitutions(child, ctx);
        }
        return;
      }
      case 'pipeline': {
        const names: string[] = [];
        for (const child of node.namedChildren) {
          if (child === null) continue;
          const before = this.commands.length;
          this.statement(child, ctx, names.length === 0 ? input : { ...input, pipedFrom: [...names], fed: undefined });
          const mine = this.commands.slice(before).filter((c) => c.via.length === ctx.via.length);
          names.push(...(mine.length > 0 ? mine.map((c) => literal(c.argv[0]) ?? '?') : ['?']));
        }
        return;
      }
      case 'redirected_statement':
        this.redirected(node, ctx, input);
        return;
      case 'function_definition': {
        const name = node.childForFieldName('name')?.text ?? '';
        const body = node.childForFieldName('body');
        const before = this.commands.length;
        if (body !== null) this.statement(body, ctx, NO_INPUT);
        const callsItself = this.commands.slice(before).some((c) => literal(c.argv[0]) === name);
        this.functions.push({ name, callsItself, row: ctx.row ?? node.startPosition.row, source: ctx.source ?? node.text });
        return;
      }
      case 'variable_assignment':
      case 'variable_assignments': {
        this.assignment(node, ctx);
        return;
      }
      case 'command':
        this.command(node, ctx, input);
        return;
      case 'declaration_command':
      case 'unset_command': {
        const words: ShellWord[] = [{ text: node.child(0)?.text ?? node.type, source: node.child(0)?.text ?? node.type }];
        for (const child of node.namedChildren) {
          if (child === null) continue;
          if (child.type === 'variable_assignment') {
            this.assignment(child, ctx);
            const value = child.childForFieldName('value');
            words.push(value !== null && wordOf(value).dynamic !== undefined ? { text: '', dynamic: wordOf(value).dynamic as string, source: child.text } : { text: child.text, source: child.text });
          } else {
            this.substitutions(child, ctx);
            words.push(child.type === 'variable_name' ? { text: child.text, source: child.text } : wordOf(child));
          }
        }
        this.emit(words, ctx, input, node, []);
        return;
      }
      case 'test_command': {
        this.substitutions(node, ctx);
        const sub = hasDescendant(node, ['command_substitution', 'process_substitution']);
        this.emit([{ text: 'test', source: '[' }, ...(sub ? [{ text: '', dynamic: 'a command substitution', source: node.text }] : [])], ctx, input, node, []);
        return;
      }
      default:
        throw new Unreviewable(`the review does not read this shell construct (${node.type})`);
    }
  }

  private assignment(node: Node, ctx: Context): void {
    const name = node.childForFieldName('name')?.text;
    if (name === 'CDPATH') this.cwds = null;
    this.substitutions(node, ctx);
  }

  /** The commands inside `$(…)`, `` `…` `` and `<(…)` anywhere under `node`. */
  private substitutions(node: Node, ctx: Context): void {
    const inner = this.deeper(ctx);
    for (const child of node.namedChildren) {
      if (child === null) continue;
      if (child.type === 'command_substitution' || child.type === 'process_substitution') this.statements(child, inner, NO_INPUT);
      else this.substitutions(child, inner);
    }
  }

  private redirected(node: Node, ctx: Context, input: Input): void {
    const writes: ShellRedirect[] = [...input.writes];
    let fed = input.fed;
    const continuation: Node[] = [];
    const body = node.childForFieldName('body');
    const redirect = (r: Node): void => {
      if (r.type === 'file_redirect') {
        const op = r.children.find((c) => c !== null && !c.isNamed)?.text ?? '';
        const dest = r.childForFieldName('destination');
        const descriptor = r.childForFieldName('descriptor')?.text;
        if (dest === null) return;
        this.substitutions(r, ctx);
        if (['>', '>>', '>|', '&>', '&>>', '<>'].includes(op) || (op === '>&' && dest.type !== 'number' && dest.text !== '-')) {
          writes.push({ op, target: wordOf(dest) });
        }
        if ((op === '<' || op === '<>') && (descriptor === undefined || descriptor === '0')) fed = 'file';
      } else if (r.type === 'heredoc_redirect') {
        fed = 'here-document';
        for (const c of r.namedChildren) {
          if (c === null) continue;
          if (c.type === 'file_redirect' || c.type === 'herestring_redirect') redirect(c);
          else if (c.type === 'heredoc_body') this.substitutions(c, ctx);
          else if (isStatement(c.type)) continuation.push(c);
        }
      } else if (r.type === 'herestring_redirect') {
        fed = 'here-string';
        this.substitutions(r, ctx);
      }
    };
    for (const child of node.namedChildren) {
      if (child === null || child === body || child.id === body?.id) continue;
      redirect(child);
    }
    const before = this.commands.length;
    if (body !== null) this.statement(body, ctx, { ...input, writes, ...(fed !== undefined ? { fed } : {}) });
    const names = this.commands.slice(before).map((c) => literal(c.argv[0]) ?? '?');
    for (const c of continuation) this.statement(c, ctx, { pipedFrom: names.length > 0 ? names : ['?'], writes: input.writes });
  }

  private command(node: Node, ctx: Context, input: Input): void {
    const words: ShellWord[] = [];
    const redirects: Node[] = [];
    for (const child of node.namedChildren) {
      if (child === null) continue;
      switch (child.type) {
        case 'variable_assignment':
          this.assignment(child, ctx);
          break;
        case 'command_name': {
          const inner = child.namedChild(0);
          if (inner !== null) {
            this.substitutions(child, ctx);
            words.push(wordOf(inner));
          }
          break;
        }
        case 'file_redirect':
        case 'herestring_redirect':
        case 'heredoc_redirect':
          redirects.push(child);
          break;
        case 'comment':
          break;
        default:
          this.substitutions(child, ctx);
          words.push(child.type === 'command_substitution' || child.type === 'process_substitution' ? { text: '', dynamic: DYNAMIC[child.type] as string, source: child.text } : wordOf(child));
      }
    }
    if (redirects.length > 0) {
      // Redirections written among the words act as on a redirected statement.
      const writes: ShellRedirect[] = [...input.writes];
      let fed = input.fed;
      for (const r of redirects) {
        this.substitutions(r, ctx);
        if (r.type === 'herestring_redirect') fed = 'here-string';
        else if (r.type === 'heredoc_redirect') fed = 'here-document';
        else {
          const op = r.children.find((c) => c !== null && !c.isNamed)?.text ?? '';
          const dest = r.childForFieldName('destination');
          if (dest !== null && ['>', '>>', '>|', '&>', '&>>', '<>'].includes(op)) writes.push({ op, target: wordOf(dest) });
          if (op === '<') fed = 'file';
        }
      }
      input = { ...input, writes, ...(fed !== undefined ? { fed } : {}) };
    }
    if (words.length === 0) return;
    this.emit(words, ctx, input, node, []);
  }

  private emit(words: ShellWord[], ctx: Context, input: Input, node: Node, extraVia: string[]): void {
    const row = ctx.row ?? node.startPosition.row;
    const source = ctx.source ?? node.text;
    const u = unwrap(words, input);
    const via = [...ctx.via, ...extraVia, ...u.via];
    const cwds = ctx.cwdOverride !== undefined ? ctx.cwdOverride : u.cwd !== undefined ? this.resolveCwd(u.cwd) : this.cwdList();
    const base = { via, row, source, cwds, writes: input.writes, pipedFrom: input.pipedFrom };
    if (u.shellText !== undefined) {
      if (ctx.shellDepth >= MAX_SHELL_DEPTH) {
        this.commands.push({ ...base, argv: words, unreviewable: 'shells nested too deeply to review' });
        return;
      }
      this.parseText(u.shellText.text, { via, row, source, shellDepth: ctx.shellDepth + 1, treeDepth: ctx.treeDepth, ...(ctx.cwdOverride !== undefined ? { cwdOverride: ctx.cwdOverride } : {}) }, input);
      return;
    }
    const dynamicArg = u.argv.find((w) => w.dynamic !== undefined && /substitution/.test(w.dynamic));
    const unreviewable = u.unreviewable ?? (dynamicArg !== undefined ? `an argument is ${dynamicArg.dynamic as string}: ${dynamicArg.source}` : undefined);
    this.commands.push({ ...base, argv: u.argv.length > 0 ? u.argv : words, ...(unreviewable !== undefined ? { unreviewable } : {}) });
    for (const extra of u.extra ?? []) {
      this.emit(extra.argv, ctx, { ...input, pipedFrom: [] }, node, [...u.via, extra.via]);
    }
    const program = literal(u.argv[0]);
    if (program === 'cd' || program === 'pushd') this.changeDirectory(u.argv.slice(1));
  }

  private resolveCwd(dir: string): string[] | null {
    const out = new Set<string>();
    for (const cwd of this.cwds ?? []) {
      const r = resolvePath(dir, cwd);
      if (r === null) return null;
      out.add(r);
    }
    return this.cwds === null && !dir.startsWith('/') ? null : out.size > 0 ? [...out] : [resolvePath(dir, '/') ?? '/'];
  }

  /** `cd DIR` may fail: afterwards the command runs in DIR or where it was. */
  private changeDirectory(args: readonly ShellWord[]): void {
    if (this.cwds === null) return;
    const operand = args.find((w) => !(w.dynamic === undefined && w.glob !== true && /^-[LPe@]+$/.test(w.text)));
    if (operand === undefined) {
      this.cwds.add('~');
      return;
    }
    const dir = literal(operand);
    if (dir === undefined) {
      this.cwds = null;
      return;
    }
    if (dir === '-') return;
    for (const cwd of [...this.cwds]) {
      const r = resolvePath(dir, cwd);
      if (r === null) {
        this.cwds = null;
        return;
      }
      this.cwds.add(r);
    }
    if (this.cwds.size > MAX_CWDS) this.cwds = null;
  }
}

const STATEMENTS = new Set([
  'command', 'list', 'pipeline', 'subshell', 'compound_statement', 'redirected_statement', 'if_statement', 'while_statement', 'for_statement',
  'c_style_for_statement', 'case_statement', 'function_definition', 'negated_command', 'test_command', 'declaration_command', 'unset_command',
  'variable_assignment', 'variable_assignments', 'do_group',
]);

function isStatement(type: string): boolean {
  return STATEMENTS.has(type);
}

function hasDescendant(node: Node, types: readonly string[]): boolean {
  return node.descendantsOfType([...types]).length > 0;
}

function firstError(node: Node): Node | undefined {
  if (node.isError || node.isMissing) return node;
  for (const c of node.children) {
    if (c === null || !c.hasError) continue;
    const found = firstError(c);
    if (found !== undefined) return found;
  }
  return node.hasError ? node : undefined;
}
