/**
 * `mamori init DIR`: scaffold the manifests repository an operator starts from — the shipped
 * operator documents, one example customer, CODEOWNERS, the config CI validates with, and CI for
 * GitHub Actions and GitLab CI (src/init/scaffold.ts). DIR must be empty (a fresh `git init` is
 * fine): nothing is ever overwritten.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_MANAGEMENT_NETWORKS } from '../config/defaults.ts';
import { SHIPPED_OPERATOR_DIR } from '../manifest/read-tree.ts';
import { buildInfo } from '../package-info.ts';
import { CUSTOMER_NAME, OWNER, scaffoldFiles } from '../init/scaffold.ts';

export interface InitOptions {
  customer: string;
  owner: string;
  package?: string | undefined;
}

export interface InitDeps {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  cwd?: string;
}

const HELP = `
Writes:
  operator/                          the shipped catalog, review policy and standard runbooks
  customers/<customer>/servers/web01.yaml   one example server (a documentation address)
  mamori.yaml                        the config CI validates with (networks, console profiles)
  CODEOWNERS                         the operator folder and one line per customer folder
  .github/workflows/mamori.yml       GitHub Actions: validate, and post the plan on a pull request
  .gitlab-ci.yml                     GitLab CI: the same on a merge request
  README.md, .gitignore

Examples:
  $ mamori init manifests-repo && cd manifests-repo && git init
  $ mamori validate --config mamori.yaml --manifests .
  $ mamori init /srv/manifests --customer acme --owner @provider/noc

Exit status: 0 written, 2 usage (DIR not empty, a bad name).`;

async function copyTree(from: string, to: string, written: string[], root: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const e of await readdir(from, { withFileTypes: true })) {
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory()) await copyTree(src, dst, written, root);
    else if (e.isFile() && e.name.endsWith('.yaml')) {
      // The shipped files point editors at ../../schemas/ of mamori's checkout: not in this repository.
      const text = (await readFile(src, 'utf8')).replace(/^# yaml-language-server: \$schema=[^\n]*\n/, '');
      await writeFile(dst, text, { flag: 'wx' });
      written.push(relative(root, dst));
    } else if (e.isFile()) {
      await copyFile(src, dst);
      written.push(relative(root, dst));
    }
  }
}

/** The command's work, callable without commander. Returns the exit code. */
export async function runInit(dir: string, options: InitOptions, deps: InitDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const usage = (message: string): number => {
    stderr.write(`mamori init: ${message}\n`);
    return 2;
  };
  if (!CUSTOMER_NAME.test(options.customer)) return usage(`--customer must be a lower-case name (letters, digits, -), not "${options.customer}"`);
  if (!OWNER.test(options.owner)) return usage(`--owner must be @user, @org/team or an e-mail address, not "${options.owner}"`);
  const root = resolve(deps.cwd ?? process.cwd(), dir);
  const present: string[] = await readdir(root).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  const others = present.filter((name) => name !== '.git');
  if (others.length > 0) return usage(`${dir} is not empty (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}): init writes a new repository and overwrites nothing`);

  const written: string[] = [];
  await copyTree(SHIPPED_OPERATOR_DIR, join(root, 'operator'), written, root);
  const files = scaffoldFiles({
    customer: options.customer,
    owner: options.owner,
    packageSpec: options.package ?? `mamori@${buildInfo().version}`,
    managementNetworks: DEFAULT_MANAGEMENT_NETWORKS,
  });
  for (const f of files) {
    const path = join(root, f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.content, { flag: 'wx' });
    written.push(f.path);
  }
  stdout.write(
    [
      `wrote ${written.length} files into ${dir}`,
      'next:',
      `  cd ${dir}${present.includes('.git') ? '' : ' && git init'}`,
      '  mamori validate --config mamori.yaml --manifests .',
      '  # set managementNetworks and targetNetworks in mamori.yaml as on the mamori host; replace the example server',
      '',
    ].join('\n'),
  );
  return 0;
}

export function registerInitCommand(program: Command, deps: InitDeps = {}): void {
  program
    .command('init')
    .description('Scaffold a manifests repository: operator documents, an example customer, CODEOWNERS, CI for GitHub and GitLab.')
    .argument('<dir>', 'an empty folder (created if missing)')
    .option('--customer <name>', 'the example customer', 'example')
    .option('--owner <handle>', 'the team that reviews everything in CODEOWNERS', '@noc')
    .option('--package <spec>', 'how CI installs mamori (an npm package spec or tarball URL; default mamori@<this version>)')
    .addHelpText('after', HELP)
    .action(async (dir: string, opts: InitOptions) => {
      process.exitCode = await runInit(dir, opts, deps);
    });
}
