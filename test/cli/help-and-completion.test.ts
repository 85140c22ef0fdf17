/**
 * Every command's --help shows examples; `mamori completion bash|zsh` prints a script that real
 * bash loads and that completes commands, `runbook` subcommands and each command's options.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { bashCompletion, zshCompletion } from '../../src/cli/completion.ts';
import { buildProgram } from '../../src/cli/main.ts';

function commands(c: Command, path: string[] = []): Array<[string, Command]> {
  return c.commands.filter((s) => s.name() !== 'help').flatMap((s) => {
    const here = [...path, s.name()];
    return s.commands.length > 0 ? commands(s, here) : [[here.join(' '), s] as [string, Command]];
  });
}

function helpOf(c: Command): string {
  let out = '';
  for (let x: Command | null = c; x; x = x.parent) x.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  c.outputHelp();
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'mamori-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What bash's completion offers for the words typed so far (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const file = join(dir, 'mamori.bash');
  writeFileSync(file, script);
  const arr = words.map((w) => `'${w}'`).join(' ');
  const out = execFileSync('bash', ['-c', `source ${file}; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _mamori; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

describe('--help', () => {
  const program = buildProgram();
  it.each(commands(program))('mamori %s --help shows examples', (_name, cmd) => {
    const text = helpOf(cmd);
    expect(text).toMatch(/Examples:\n(.*\n)*\s+\$ mamori /);
  });
  it('mamori --help shows examples', () => {
    expect(helpOf(program)).toMatch(/Examples:\n\s+\$ mamori /);
  });
});

describe('mamori completion', () => {
  const program = buildProgram();
  const script = bashCompletion(program);
  it('bash: commands, runbook subcommands, and each command\'s options', () => {
    expect(complete(script, ['mamori', 'va'])).toEqual(['validate']);
    expect(complete(script, ['mamori', 'runbook', ''])).toEqual(['show', 'run']);
    expect(complete(script, ['mamori', 'runbook', 'run', 'acme-web1', 'http', '--y'])).toEqual(['--yes']);
    expect(complete(script, ['mamori', 'plan', '--exit'])).toEqual(['--exit-code']);
    // A global option's value is not taken for the command.
    expect(complete(script, ['mamori', '--config', 'm.yaml', 'sta'])).toEqual(['status']);
    expect(complete(script, ['mamori', 'completion', '--'])).toEqual(['--help']);
  });
  it('zsh: the same function through bashcompinit', () => {
    const z = zshCompletion(program);
    expect(z.startsWith('#compdef mamori\n')).toBe(true);
    expect(z).toContain('bashcompinit');
    expect(z).toContain(script);
  });
});
