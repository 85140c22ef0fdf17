/**
 * `mamori validate [PATH…]`: check manifests the way a pull request's CI does, and
 * say what is wrong as `file:line:col: error: field: message [rule]` (or as GitHub
 * annotations, or JSON). Exit 0 valid, 1 findings, 2 usage.
 */
import { stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { isMamoriError } from '../errors.ts';
import type { MamoriConfig, SigningConfig } from '../config/types.ts';
import { describeNeed, signersNeeded, type SignerNeed } from '../source/signer-policy.ts';
import { signerPolicyOf } from '../source/signing-keys.ts';
import { displayPath, readManifestTree } from '../manifest/read-tree.ts';
import { formatFinding, formatGithubAnnotation, formatGithubNotice, sortFindings } from '../manifest/format-findings.ts';
import type { Finding } from '../manifest/types.ts';

export type ValidateFormat = 'text' | 'json' | 'github';

export interface ValidateCommandDeps {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  cwd?: string;
}


const HELP = `
A manifests folder holds:
  operator/catalog.yaml              the operating systems and plans that may subscribe (operator)
  operator/policy.yaml               the review policy for customers' runbooks (operator)
  operator/runbooks/<name>.yaml      the standard runbooks (operator)
  customers/<c>/servers/<name>.yaml  customer c's servers
  customers/<c>/runbooks/<name>.yaml customer c's own runbooks
Without operator/, mamori's own operator folder is used (or operatorDir from --config).

PATH may be a manifests folder, or files and folders inside one: the whole tree is
loaded (references cross files) and findings about PATH are reported.

Examples:
  $ mamori validate                                   # the ./manifests tree
  $ mamori validate --manifests examples --config examples/mamori.yaml
  $ mamori validate manifests/customers/acme/servers/web01.yaml   # one file
  $ mamori validate --format github                   # annotations on a pull request
  $ mamori validate --json | jq '.findings[].message'
  $ mamori validate --config mamori.yaml --signers $(git diff --name-only origin/main -- manifests)
                                                      # who must sign each changed file

Exit status: 0 valid (warnings allowed), 1 findings, 2 usage (bad option, missing path).`;

function parseFormat(value: string): ValidateFormat {
  if (value === 'text' || value === 'json' || value === 'github') return value;
  throw new InvalidArgumentError('use text, json or github');
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isRoot(path: string): Promise<boolean> {
  return (await isDir(join(path, 'customers'))) || (await isDir(join(path, 'operator')));
}

/** The manifests tree a path belongs to: the --manifests root if inside it, else the nearest folder that looks like one. */
async function rootOf(path: string, defaultRoot: string): Promise<string | undefined> {
  if ((await isDir(path)) && (await isRoot(path))) return path;
  if (path === defaultRoot || path.startsWith(defaultRoot + sep)) return defaultRoot;
  let dir = dirname(path);
  for (let i = 0; i < 32; i++) {
    if (await isRoot(dir)) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export interface ValidateRun {
  exitCode: number;
  findings: Finding[];
  /** --signers: the signers each file needs. */
  signers?: SignerNeed[];
}

/** The command's work, callable without commander (tests, other commands). */
export async function runValidate(
  paths: readonly string[],
  options: { manifests: string; config?: string | undefined; format: ValidateFormat; signers?: boolean },
  deps: ValidateCommandDeps = {},
): Promise<ValidateRun> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const cwd = deps.cwd ?? process.cwd();
  // Loaded here, not at the top: `mamori --help` should not pay for these libraries.
  const { loadConfig } = await import('../config/load-config.ts');
  const { validateManifests } = await import('../manifest/load-manifests.ts');
  const { checksWith, runbookSelector, withShellParser } = await import('../runbook/manifest-hooks.ts');
  const usage = (message: string): ValidateRun => {
    stderr.write(`mamori validate: ${message}\n`);
    return { exitCode: 2, findings: [] };
  };
  let config: MamoriConfig;
  try {
    config = await loadConfig(options.config, { cwd });
  } catch (err) {
    if (isMamoriError(err, 'MAMORI_CONFIG_INVALID')) {
      const findings = (err.details.findings ?? []) as Finding[];
      print(findings, options.format, stdout, undefined, { servers: 0, runbooks: 0 });
      return { exitCode: 1, findings };
    }
    if (isMamoriError(err, 'MAMORI_CONFIG_UNREADABLE')) return usage(err.message);
    throw err;
  }
  if (options.signers && !config.signing) return usage('--signers needs a config with signing (give --config FILE)');
  const defaultRoot = resolve(cwd, options.manifests);
  const groups = new Map<string, string[]>();
  if (paths.length === 0) {
    if (!(await isDir(defaultRoot))) return usage(`no manifests folder ${options.manifests} (give --manifests DIR or a PATH)`);
    groups.set(defaultRoot, []);
  }
  for (const p of paths) {
    const abs = resolve(cwd, p);
    try {
      await stat(abs);
    } catch {
      return usage(`${p} does not exist`);
    }
    const root = await rootOf(abs, defaultRoot);
    if (root === undefined) return usage(`${p} is not inside a manifests folder (one with operator/ or customers/)`);
    const list = groups.get(root) ?? [];
    if (root !== abs) list.push(abs);
    groups.set(root, list);
  }
  const findings: Finding[] = [];
  let servers = 0;
  let runbooks = 0;
  await withShellParser(async (parser) => {
    for (const [root, only] of groups) {
      const set = await validateManifests(root, { config, selectRunbook: runbookSelector, checksFor: checksWith(parser), only: only.length > 0 ? only : undefined });
      servers += set.servers.size;
      runbooks += set.runbooks.size;
      for (const f of set.findings) findings.push({ ...f, file: f.path !== undefined ? displayPath(f.path, cwd) : displayPath(join(root, f.file), cwd) });
    }
  });
  let needs: SignerNeed[] | undefined;
  if (options.signers && config.signing) {
    try {
      needs = await signerNeeds(groups, config, cwd);
    } catch (err) {
      if (isMamoriError(err, 'MAMORI_SIGNING_KEYS')) return usage(err.message);
      throw err;
    }
    for (const n of needs) {
      if (n.glob !== undefined && n.signers.length > 0) continue;
      findings.push({ file: n.file, line: 1, col: 1, field: '', rule: 'signer-none', severity: 'warning', message: `no signer may change this file (${describeNeed(n).replace(/^nobody: /, '')}): a change to it is refused` });
    }
  }
  const sorted = sortFindings(findings);
  print(sorted, options.format, stdout, stderr, { servers, runbooks }, needs);
  return { exitCode: sorted.some((f) => f.severity === 'error') ? 1 : 0, findings: sorted, ...(needs ? { signers: needs } : {}) };
}

/**
 * For each file the run covers (the PATHs given, or the whole tree), the signers who may sign a
 * change to it — what a pull request touching it needs. Files of mamori's own operator folder are
 * not in the repository, so not listed.
 */
async function signerNeeds(groups: ReadonlyMap<string, string[]>, config: MamoriConfig, cwd: string): Promise<SignerNeed[]> {
  const policy = await signerPolicyOf(structuredClone(config.signing) as SigningConfig);
  const out: SignerNeed[] = [];
  for (const [root, only] of groups) {
    const tree = await readManifestTree(root, { operatorDir: config.operatorDir });
    const ownOperator = tree.operatorDir === join(root, 'operator');
    const wanted = only.map((abs) => relative(root, abs).split(sep).join('/'));
    const files = tree.files
      .map((f) => f.path)
      .filter((p) => ownOperator || !p.startsWith('operator/'))
      .filter((p) => wanted.length === 0 || wanted.some((w) => p === w || p.startsWith(`${w}/`)));
    for (const need of signersNeeded(policy, files)) out.push({ ...need, file: displayPath(join(root, need.file), cwd) });
  }
  return out;
}

function print(
  findings: readonly Finding[],
  format: ValidateFormat,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream | undefined,
  counts: { servers: number; runbooks: number },
  needs?: readonly SignerNeed[],
): void {
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.length - errors;
  if (format === 'json') {
    const out = findings.map(({ path: _path, ...f }) => f);
    stdout.write(`${JSON.stringify({ ok: errors === 0, errors, warnings, servers: counts.servers, runbooks: counts.runbooks, findings: out, ...(needs ? { signers: needs } : {}) }, null, 2)}\n`);
    return;
  }
  for (const n of needs ?? []) {
    if (n.glob === undefined || n.signers.length === 0) continue; // a warning finding says it
    const text = `signed by ${describeNeed(n)}`;
    stdout.write(format === 'github' ? `${formatGithubNotice(n.file, text)}\n` : `${n.file}: ${text}\n`);
  }
  for (const f of findings) stdout.write(`${format === 'github' ? formatGithubAnnotation(f) : formatFinding(f)}\n`);
  stderr?.write(
    errors === 0
      ? `valid: ${counts.servers} servers, ${counts.runbooks} runbooks${warnings > 0 ? `, ${warnings} warnings` : ''}\n`
      : `${errors} errors, ${warnings} warnings (${counts.servers} valid servers, ${counts.runbooks} valid runbooks)\n`,
  );
}

export function registerValidateCommand(program: Command, deps: ValidateCommandDeps = {}): void {
  program
    .command('validate')
    .description('Check manifests as a pull request CI does: schema, ownership, references, catalog, networks, hostile input.')
    .argument('[path...]', 'manifests folders, or files and folders inside one (default: the --manifests folder)')
    .option('--format <format>', 'text, json or github (workflow annotations)', parseFormat, 'text' as ValidateFormat)
    .option('--json', 'the same as --format json')
    .option('--signers', 'also list, for each file, the signers who may sign a change to it (signing in --config)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', HELP)
    .action(async (paths: string[], opts: { format: ValidateFormat; json?: boolean; signers?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ manifests?: string; config?: string }>();
      const run = await runValidate(
        paths,
        { manifests: globals.manifests ?? 'manifests', config: globals.config, format: opts.json ? 'json' : opts.format, signers: opts.signers === true },
        deps,
      );
      process.exitCode = run.exitCode;
    });
}
