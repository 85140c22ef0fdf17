/**
 * The operator's review policy applied to parsed commands (shell-command.ts): each rule's
 * command patterns are conditions on a simple command's program, options, operands,
 * paths, redirections and pipeline, judged yes, no, or "cannot tell" when a word the
 * condition needs is only known when the command runs. Globs and RE2 patterns only:
 * the time is linear in the command, whatever the customer or the operator writes.
 * Pure: no I/O.
 */
import { RE2JS } from 're2js';
import type { ReviewPolicyDocument } from '../manifest/types.ts';
import { compileGlob, globLiteralPrefix, globMatches, globMatchesSomePrefixed, globsMeet, type Glob } from './glob.ts';
import { isAtOrAbove, resolvePath } from './paths.ts';
import { displayCommand, programName, type ParsedShell, type ShellCommand, type ShellWord } from './shell-command.ts';

type Spec = ReviewPolicyDocument['spec'];
type Pattern = Spec['forbiddenCommands'][number]['commands'][number];

interface CompiledPattern {
  program?: Glob[];
  flags?: ReadonlySet<string>;
  args?: Glob[];
  operands?: Glob[];
  andOperands?: Glob[];
  paths?: readonly string[];
  writes?: Glob[];
  stdinFrom?: Glob[];
  regex?: RE2JS;
  construct?: string;
}

interface CompiledRule {
  rule: string;
  reason: string;
  commands: CompiledPattern[];
}

export interface PolicyProblem {
  field: string;
  message: string;
}

export interface CompiledPolicy {
  rules: CompiledRule[];
  allow: Array<{ command: string; customers?: readonly string[] }>;
  /** Patterns refused at load: a finding on the policy each. */
  problems: PolicyProblem[];
}

export interface Judgement {
  kind: 'forbidden' | 'unreviewable';
  /** The operator's rule (for an unreviewable command, the rule that could not be judged, if any). */
  rule?: string;
  reason: string;
  /** The command as parsed: its words after the wrappers, and the wrappers. */
  shown: string;
  row: number;
}

const compiled = new WeakMap<Spec, CompiledPolicy>();

function globs(list: readonly string[] | undefined): Glob[] | undefined {
  return list === undefined ? undefined : list.map(compileGlob);
}

function compilePattern(p: Pattern, field: string, problems: PolicyProblem[], rule: string): CompiledPattern {
  const out: CompiledPattern = {};
  if (p.program) out.program = globs(p.program) as Glob[];
  if (p.flags) out.flags = new Set(p.flags);
  if (p.args) out.args = globs(p.args) as Glob[];
  if (p.operands) out.operands = globs(p.operands) as Glob[];
  if (p.andOperands) out.andOperands = globs(p.andOperands) as Glob[];
  if (p.paths) out.paths = p.paths.map((path) => resolvePath(path, '/') ?? path);
  if (p.writes) out.writes = globs(p.writes) as Glob[];
  if (p.stdinFrom) out.stdinFrom = globs(p.stdinFrom) as Glob[];
  if (p.construct) out.construct = p.construct;
  if (p.pattern !== undefined) {
    try {
      out.regex = RE2JS.compile(p.pattern, p.ignoreCase === true ? RE2JS.CASE_INSENSITIVE : 0);
    } catch (err) {
      problems.push({
        field: `${field}.pattern`,
        message: `rule ${rule}: the pattern is refused: ${err instanceof Error ? err.message : String(err)} (patterns are RE2 syntax, matched in linear time; lookarounds and back-references have no linear-time match)`,
      });
    }
  }
  return out;
}

export function compilePolicy(spec: Spec): CompiledPolicy {
  const cached = compiled.get(spec);
  if (cached !== undefined) return cached;
  const problems: PolicyProblem[] = [];
  const rules = spec.forbiddenCommands.map((r, i) => ({
    rule: r.rule,
    reason: r.reason,
    commands: r.commands.map((p, j) => compilePattern(p, `spec.forbiddenCommands[${i}].commands[${j}]`, problems, r.rule)),
  }));
  const allow = (spec.allowCommands ?? []).map((a) => ({ command: normalise(a.command), ...(a.customers ? { customers: a.customers } : {}) }));
  const policy = { rules, allow, problems };
  compiled.set(spec, policy);
  return policy;
}

function normalise(command: string): string {
  return command.trim().split(/\s+/).join(' ');
}

type Tri = { v: 'yes' } | { v: 'no' } | { v: 'maybe'; why: string };
const YES: Tri = { v: 'yes' };
const NO: Tri = { v: 'no' };
const maybe = (why: string): Tri => ({ v: 'maybe', why });

/** Any of the words: yes if one is, else maybe if one might be. */
function anyOf(words: readonly ShellWord[], test: (w: ShellWord) => Tri): Tri {
  let doubt: Tri | undefined;
  for (const w of words) {
    const t = test(w);
    if (t.v === 'yes') return t;
    if (t.v === 'maybe') doubt ??= t;
  }
  return doubt ?? NO;
}

/** A word against globs: a literal matches or not; a glob or a variable might. */
function wordMatches(w: ShellWord, list: readonly Glob[], what: string): Tri {
  if (w.dynamic !== undefined) {
    return maybe(`${what} ${w.source} is not literal (${w.dynamic})`);
  }
  if (w.glob === true) {
    const mine = compileGlob(w.text);
    return list.some((g) => globsMeet(mine, g)) ? maybe(`${what} ${w.source} is a glob that may match`) : NO;
  }
  return list.some((g) => globMatches(g, w.text)) ? YES : NO;
}

function flagsOf(cmd: ShellCommand): { names: Set<string>; unknown?: ShellWord } {
  const names = new Set<string>();
  let unknown: ShellWord | undefined;
  for (const w of cmd.argv.slice(1)) {
    if (w.dynamic !== undefined) {
      unknown ??= w;
      continue;
    }
    const t = w.text;
    if (t === '--') break;
    if (t.startsWith('--')) names.add(t.slice(2).split('=')[0] as string);
    else if (t.startsWith('-') && t.length > 1) for (const c of t.slice(1)) names.add(c);
  }
  return unknown !== undefined ? { names, unknown } : { names };
}

/** The operands: the arguments that are not options, as the program reads them. */
export function operandsOf(cmd: ShellCommand): ShellWord[] {
  const args = cmd.argv.slice(1);
  const name = programName(cmd);
  if (name === 'kill') {
    let i = 0;
    const first = args[0];
    if (first?.dynamic === undefined && first?.text.startsWith('-') === true && first.text !== '--') {
      i = first.text === '-s' || first.text === '-n' ? 2 : 1;
    }
    if (args[i]?.dynamic === undefined && args[i]?.text === '--') i++;
    return args.slice(i);
  }
  if (name === 'find') {
    const starts: ShellWord[] = [];
    let i = 0;
    while (i < args.length && args[i]?.dynamic === undefined && ['-H', '-L', '-P'].includes(args[i]?.text ?? '')) i++;
    for (; i < args.length; i++) {
      const w = args[i] as ShellWord;
      if (w.dynamic === undefined && (w.text.startsWith('-') || ['(', '!', ')', ','].includes(w.text))) break;
      starts.push(w);
    }
    return starts.length > 0 ? starts : [{ text: '.', source: '.' }];
  }
  const out: ShellWord[] = [];
  let afterDashes = false;
  for (const w of args) {
    if (!afterDashes && w.dynamic === undefined && w.text === '--') {
      afterDashes = true;
      continue;
    }
    if (afterDashes || w.dynamic !== undefined || !w.text.startsWith('-') || w.text === '-') out.push(w);
  }
  return out;
}

/** Whether an operand names one of `paths` (resolved against every directory the command may run in). */
function pathMatches(w: ShellWord, paths: readonly string[], cwds: readonly string[] | null): Tri {
  if (w.dynamic !== undefined) return maybe(`the path ${w.source} is not literal (${w.dynamic})`);
  const text = w.glob === true ? globLiteralPrefix(w.text) : w.text;
  // A glob names what its directory holds: `/*` is everything in /, `/e*` may be /etc.
  const name = w.glob === true ? text.slice(0, text.lastIndexOf('/') + 1) || '.' : text;
  const absolute = name.startsWith('/') || name.startsWith('~');
  if (!absolute && cwds === null) return maybe(`the path ${w.source} is relative and the working directory is not known`);
  let doubt: Tri | undefined;
  for (const cwd of absolute ? ['/'] : (cwds ?? [])) {
    const resolved = resolvePath(name, cwd);
    if (resolved === null) {
      doubt ??= maybe(`the path ${w.source} climbs out of the home directory`);
      continue;
    }
    if (w.glob === true ? paths.some((p) => isAtOrAbove(resolved, p)) : paths.includes(resolved)) return YES;
  }
  return doubt ?? NO;
}

function writeMatches(target: ShellWord, list: readonly Glob[], cwds: readonly string[] | null): Tri {
  if (target.dynamic !== undefined || target.glob === true) return wordMatches(target, list, 'the file written');
  const absolute = target.text.startsWith('/') || target.text.startsWith('~');
  if (!absolute && cwds === null) return list.some((g) => globMatchesSomePrefixed(g, '')) ? maybe(`the file written, ${target.source}, is relative and the working directory is not known`) : NO;
  for (const cwd of absolute ? ['/'] : (cwds ?? [])) {
    const resolved = resolvePath(target.text, cwd);
    if (resolved === null) return maybe(`the file written, ${target.source}, climbs out of the home directory`);
    if (list.some((g) => globMatches(g, resolved))) return YES;
  }
  return NO;
}

function judgePattern(p: CompiledPattern, cmd: ShellCommand): Tri {
  if (p.construct !== undefined) return NO;
  // Cheapest conditions first, and the first that fails ends the judgement.
  const checks: Array<() => Tri> = [];
  if (p.program) {
    const list = p.program;
    checks.push(() => {
      const first = cmd.argv[0];
      if (first === undefined) return NO;
      const name = programName(cmd);
      if (name === undefined) return maybe(`the program ${first.source} is not literal`);
      return list.some((g) => globMatches(g, g.source.includes('/') ? first.text : name)) ? YES : NO;
    });
  }
  if (p.stdinFrom) {
    const list = p.stdinFrom;
    checks.push(() => {
      const from = cmd.pipedFrom;
      if (from.some((n) => n !== '?' && list.some((g) => globMatches(g, n.slice(n.lastIndexOf('/') + 1))))) return YES;
      return from.includes('?') ? maybe('an earlier command in the pipeline is not literal') : NO;
    });
  }
  if (p.flags) {
    const flags = p.flags;
    checks.push(() => {
      const f = flagsOf(cmd);
      return [...f.names].some((n) => flags.has(n)) ? YES : f.unknown !== undefined ? maybe(`the argument ${f.unknown.source} is not literal`) : NO;
    });
  }
  let operands: ShellWord[] | undefined;
  const ops = (): ShellWord[] => (operands ??= operandsOf(cmd));
  if (p.operands) checks.push(() => anyOf(ops(), (w) => wordMatches(w, p.operands as Glob[], 'the operand')));
  if (p.andOperands) checks.push(() => anyOf(ops(), (w) => wordMatches(w, p.andOperands as Glob[], 'the operand')));
  if (p.writes) checks.push(() => anyOf(cmd.writes.map((r) => r.target), (w) => writeMatches(w, p.writes as Glob[], cmd.cwds)));
  if (p.paths) checks.push(() => anyOf(ops(), (w) => pathMatches(w, p.paths as string[], cmd.cwds)));
  if (p.args) checks.push(() => anyOf(cmd.argv.slice(1), (w) => wordMatches(w, p.args as Glob[], 'the argument')));
  if (p.regex) {
    const regex = p.regex;
    checks.push(() => (regex.matcher(displayCommand(cmd.argv)).find() ? YES : NO));
  }
  if (checks.length === 0) return NO;
  let doubt: Tri | undefined;
  for (const check of checks) {
    const t = check();
    if (t.v === 'no') return NO;
    if (t.v === 'maybe') doubt ??= t;
  }
  return doubt ?? YES;
}

function judgeRule(rule: CompiledRule, cmd: ShellCommand): Tri {
  let doubt: Tri | undefined;
  for (const p of rule.commands) {
    const t = judgePattern(p, cmd);
    if (t.v === 'yes') return t;
    if (t.v === 'maybe') doubt ??= t;
  }
  return doubt ?? NO;
}

export function shownCommand(cmd: Pick<ShellCommand, 'argv' | 'via'>): string {
  const words = displayCommand(cmd.argv);
  return cmd.via.length > 0 ? `${words} (through ${cmd.via.join(', ')})` : words;
}

/**
 * What the policy refuses in one parsed command field: commands a rule forbids, and
 * commands the review cannot judge (unless the operator allows them as written).
 */
export function judgeParsed(parsed: ParsedShell, policy: CompiledPolicy, field: { text: string; customer?: string }): Judgement[] {
  const out: Judgement[] = [];
  const allowedFor = policy.allow.filter((a) => a.customers === undefined || (field.customer !== undefined && a.customers.includes(field.customer)));
  const whole = normalise(field.text);
  const wholeAllowed = allowedFor.some((a) => a.command === whole);
  for (const cmd of parsed.commands) {
    const allowed = wholeAllowed || allowedFor.some((a) => a.command === normalise(cmd.source));
    const shown = shownCommand(cmd);
    let forbidden = false;
    let doubt: { rule: string; why: string } | undefined;
    for (const rule of policy.rules) {
      const t = judgeRule(rule, cmd);
      if (t.v === 'yes') {
        out.push({ kind: 'forbidden', rule: rule.rule, reason: rule.reason, shown, row: cmd.row });
        forbidden = true;
      } else if (t.v === 'maybe') doubt ??= { rule: rule.rule, why: t.why };
    }
    if (forbidden || allowed) continue;
    if (cmd.unreviewable !== undefined) out.push({ kind: 'unreviewable', reason: cmd.unreviewable, shown, row: cmd.row });
    else if (doubt !== undefined) out.push({ kind: 'unreviewable', rule: doubt.rule, reason: `rule ${doubt.rule} cannot be judged: ${doubt.why}`, shown, row: cmd.row });
  }
  for (const fn of parsed.functions) {
    if (!fn.callsItself) continue;
    const rule = policy.rules.find((r) => r.commands.some((p) => p.construct === 'recursive-function'));
    if (rule !== undefined) out.push({ kind: 'forbidden', rule: rule.rule, reason: rule.reason, shown: `${fn.name}() { … ${fn.name} … }`, row: fn.row });
  }
  return out;
}
