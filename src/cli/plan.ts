/**
 * `mamori plan`: what a change to the manifests does — between two commits of a git
 * repository (`--git REPO --from REV --to REV`, read without a checkout) or two
 * folders (`--from DIR --to DIR`). Servers added, removed, changed; runbook documents
 * touched; and the effective runbook of every server rendered at both revisions and
 * diffed. Text, Markdown (a pull-request comment) or JSON. Exit 0 whatever it finds:
 * a plan informs the review, `validate` gates it.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { isMamoriError } from '../errors.ts';
import type { MamoriConfig, SigningConfig } from '../config/types.ts';
import { changedFiles, signersNeeded } from '../source/signer-policy.ts';
import { signerPolicyOf } from '../source/signing-keys.ts';
import type { Plan, PlanSide } from '../plan/compute.ts';
import type { PlanFormat } from '../plan/format.ts';
import type { RevisionFiles } from '../plan/revision.ts';
import type { ShellParserPool } from '../runbook/shell-parser-pool.ts';

export interface PlanCommandDeps {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  cwd?: string;
}

export interface PlanOptions {
  git?: string | undefined;
  from: string;
  to: string;
  /** The manifests folder inside the repository (git only); found by itself when absent. */
  path?: string | undefined;
  config?: string | undefined;
  format: PlanFormat;
  /** Exit EXIT_PLAN_CHANGES when the plan changes anything (as `terraform plan -detailed-exitcode`, but not 2). */
  exitCode?: boolean;
}

/** `plan --exit-code`: the code for "this change does something"; 2 stays usage, 1 stays failure. */
export const EXIT_PLAN_CHANGES = 3;

/** Whether a plan changes anything a reviewer should look at: servers, runbook documents, effective runbooks. */
export function planHasChanges(plan: Plan): boolean {
  const s = plan.servers;
  return s.added.length + s.removed.length + s.invalid.length + s.changed.length + plan.runbooks.length + plan.effective.changed.length > 0;
}

const HELP = `
Examples:
Between two commits (nothing is checked out; REV is anything git rev-parse takes):
  $ mamori plan --git . --from origin/main --to HEAD --format markdown
Between two folders:
  $ mamori plan --from /tmp/manifests-before --to manifests

Every server's effective runbook (the customer's own, or the standard one for its OS)
is rendered at both revisions: a change to a standard runbook or to the catalog lists
every server and service it reaches. A revision with invalid documents still plans
what is valid, and its findings are listed. With signing in the config (--config), each
changed file is listed with the signers who may sign a change to it.

Exit status: 0, or 2 for usage (a revision or the config that cannot be read). With
--exit-code: 0 when the change does nothing, 3 when it adds, removes or changes a server,
a runbook document or an effective runbook (for a CI step that only runs when it must):
  $ mamori plan --git . --from origin/main --to HEAD --exit-code >/dev/null; [ $? -eq 3 ] && echo changes`;

function parseFormat(value: string): PlanFormat {
  if (value === 'text' || value === 'markdown' || value === 'json') return value;
  throw new InvalidArgumentError('use text, markdown or json');
}

async function side(revision: RevisionFiles, config: MamoriConfig, parser: ShellParserPool): Promise<PlanSide> {
  // Loaded here, not at the top: `mamori --help` should not pay for these libraries.
  const { validateDocuments } = await import('../manifest/validate-documents.ts');
  const { manifestChecks, runbookSelector } = await import('../runbook/manifest-hooks.ts');
  const checks = await manifestChecks(revision.files, parser);
  const set = validateDocuments(revision.files, { config, selectRunbook: runbookSelector, checks });
  return { label: revision.label, servers: set.servers, runbooks: set.runbooks, findings: [...revision.findings, ...set.findings] };
}

/** The command's work, callable without commander. Returns the exit code. */
export async function runPlan(options: PlanOptions, deps: PlanCommandDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const cwd = deps.cwd ?? process.cwd();
  // Loaded here, not at the top: `mamori --help` should not pay for these libraries.
  const { loadConfig } = await import('../config/load-config.ts');
  const { computePlan } = await import('../plan/compute.ts');
  const { formatPlan } = await import('../plan/format.ts');
  const { readFolderRevision, readGitRevision } = await import('../plan/revision.ts');
  const { withShellParser } = await import('../runbook/manifest-hooks.ts');
  try {
    const config = await loadConfig(options.config, { cwd });
    const read = (rev: string): Promise<RevisionFiles> =>
      options.git === undefined
        ? readFolderRevision(resolve(cwd, rev), { operatorDir: config.operatorDir, label: rev })
        : readGitRevision(resolve(cwd, options.git), rev, { subdir: options.path, operatorDir: config.operatorDir });
    const [from, to] = await Promise.all([read(options.from), read(options.to)]);
    const plan = await withShellParser(async (parser) => computePlan(await side(from, config, parser), await side(to, config, parser)));
    if (config.signing) {
      // Which signer each changed file needs, so a pull request's author knows before merging.
      plan.signers = signersNeeded(await signerPolicyOf(structuredClone(config.signing) as SigningConfig), changedFiles(from.files, to.files));
    }
    stdout.write(formatPlan(plan, options.format));
    return options.exitCode === true && planHasChanges(plan) ? EXIT_PLAN_CHANGES : 0;
  } catch (err) {
    if (
      isMamoriError(err, 'MAMORI_PLAN_SOURCE') ||
      isMamoriError(err, 'MAMORI_CONFIG_UNREADABLE') ||
      isMamoriError(err, 'MAMORI_CONFIG_INVALID') ||
      isMamoriError(err, 'MAMORI_SIGNING_KEYS')
    ) {
      stderr.write(`mamori plan: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

export function registerPlanCommand(program: Command, deps: PlanCommandDeps = {}): void {
  program
    .command('plan')
    .description('Show what a change to the manifests does: servers, runbook documents, and every effective runbook, diffed.')
    .requiredOption('--from <rev|dir>', 'the revision before (a git revision with --git, else a manifests folder)')
    .requiredOption('--to <rev|dir>', 'the revision after')
    .option('--git <repo>', 'read both revisions from this git repository (no checkout)')
    .option('--path <dir>', 'with --git: the manifests folder inside the repository (default: the top if it holds operator/ or customers/, else manifests/)')
    .option('--format <format>', 'text, markdown or json', parseFormat, 'text' as PlanFormat)
    .option('--json', 'the same as --format json')
    .option('--exit-code', `exit ${EXIT_PLAN_CHANGES} when the change does something, 0 when it does nothing`)
    .addHelpText('after', HELP)
    .action(async (opts: { from: string; to: string; git?: string; path?: string; format: PlanFormat; json?: boolean; exitCode?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ config?: string }>();
      if (opts.path !== undefined && opts.git === undefined) cmd.error('error: --path needs --git', { exitCode: 2, code: 'MAMORI_CLI_USAGE' });
      process.exitCode = await runPlan(
        { git: opts.git, from: opts.from, to: opts.to, path: opts.path, config: globals.config, format: opts.json === true ? 'json' : opts.format, exitCode: opts.exitCode === true },
        deps,
      );
    });
}
