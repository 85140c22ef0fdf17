/**
 * `mamori completion bash|zsh`: a shell completion script, written from the program's own
 * commands and options (so it never falls behind them). zsh loads the same function through
 * bashcompinit. Completes commands, `runbook show|run`, each command's options, and files
 * everywhere else (the manifests folder, the config).
 */
import { Argument, type Command } from 'commander';

/** Options whose next word is a value, not a command. */
function valueOptions(cmd: Command): string[] {
  return cmd.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
}

function flags(cmd: Command): string[] {
  return [...cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)), '--help'];
}

const quote = (words: string[]): string => words.join(' ').replace(/[^a-zA-Z0-9 _.:=-]/g, '');

export function bashCompletion(program: Command): string {
  const top = program.commands.filter((c) => c.name() !== 'help');
  const cases: string[] = [];
  cases.push(`    "|") words="${quote([...top.map((c) => c.name()), ...flags(program)])}" ;;`);
  for (const c of top) {
    const subs = c.commands.filter((s) => s.name() !== 'help');
    if (subs.length > 0) {
      cases.push(`    "${c.name()}|") words="${quote(subs.map((s) => s.name()))}" ;;`);
      for (const s of subs) cases.push(`    "${c.name()}|${s.name()}") words="${quote(flags(s))}" ;;`);
    } else {
      cases.push(`    "${c.name()}|"*) words="${quote(flags(c))}" ;;`);
    }
  }
  const takesValue = quote([...new Set([...valueOptions(program), ...top.flatMap((c) => [...valueOptions(c), ...c.commands.flatMap(valueOptions)])])]);
  return `# mamori completion for bash (mamori completion bash > /etc/bash_completion.d/mamori)
_mamori() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" sub="" i w words=""
  case " ${takesValue} " in *" $prev "*) COMPREPLY=(); return 0 ;; esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      -*) case " ${takesValue} " in *" $w "*) i=$((i + 1)) ;; esac ;;
      *) if [[ -z "$cmd" ]]; then cmd="$w"; elif [[ -z "$sub" ]]; then sub="$w"; fi ;;
    esac
  done
  case "$cmd|$sub" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _mamori mamori
`;
}

export function zshCompletion(program: Command): string {
  return `#compdef mamori
# mamori completion for zsh (mamori completion zsh > "\${fpath[1]}/_mamori"): the bash function through bashcompinit
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program)}`;
}

export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script for bash or zsh.')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      `
Examples:
  $ source <(mamori completion bash)                         # this shell
  $ mamori completion bash | sudo tee /etc/bash_completion.d/mamori
  $ mamori completion zsh > "\${fpath[1]}/_mamori"`,
    )
    .action((shell: 'bash' | 'zsh') => {
      process.stdout.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });
}
