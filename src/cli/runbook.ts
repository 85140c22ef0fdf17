/**
 * `mamori runbook …`: the runbooks as they apply to one server. `show` prints the
 * effective runbook of a service — the customer's own or the standard one for the
 * server's OS — rendered with the server's values, exactly as the executor gets it.
 * Subcommands register on the group from `runbookGroup` (`run` joins `show` there).
 */
import { lookupServer, manifestFileSuffix } from '../manifest/server-id.ts';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isMamoriError } from '../errors.ts';
import type { MamoriConfig } from '../config/types.ts';
import { SERVICE_NAMES, type ManifestSet, type ServerDocument, type ServiceName } from '../manifest/types.ts';
import type { RenderedRunbook } from '../runbook/types.ts';

export interface RunbookCommandDeps {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  cwd?: string;
}

export type EffectiveRunbook =
  | { ok: true; server: ServerDocument; rendered: RenderedRunbook; file?: string; set: ManifestSet; config: MamoriConfig }
  | { ok: false; exitCode: 1 | 2; message: string };

/** Load the manifests and render the effective runbook of SERVER's SERVICE (for `show` and `run`). */
export async function effectiveRunbook(
  serverName: string,
  service: string,
  options: { manifests: string; config?: string | undefined },
  cwd: string = process.cwd(),
): Promise<EffectiveRunbook> {
  if (!(SERVICE_NAMES as readonly string[]).includes(service)) {
    return { ok: false, exitCode: 2, message: `unknown service "${service}" (one of ${SERVICE_NAMES.join(', ')})` };
  }
  const svc = service as ServiceName;
  // Loaded here, not at the top: `mamori --help` should not pay for these libraries.
  const { loadConfig } = await import('../config/load-config.ts');
  const { loadManifests } = await import('../manifest/load-manifests.ts');
  const { serviceNames, subscribedService } = await import('../manifest/services.ts');
  const { effectiveRunbook: selectAndRender } = await import('../runbook/effective.ts');
  const { checksWith, runbookSelector, withShellParser } = await import('../runbook/manifest-hooks.ts');
  let config: MamoriConfig;
  try {
    config = await loadConfig(options.config, { cwd });
  } catch (err) {
    if (isMamoriError(err, 'MAMORI_CONFIG_UNREADABLE') || isMamoriError(err, 'MAMORI_CONFIG_INVALID')) return { ok: false, exitCode: 2, message: err.message };
    throw err;
  }
  const set = await withShellParser((parser) => loadManifests(resolve(cwd, options.manifests), { config, selectRunbook: runbookSelector, checksFor: checksWith(parser) }));
  // customer/name, or a bare name one customer alone has; two customers' web01 is refused with both named.
  const found = lookupServer(serverName, set.servers.keys());
  if (!found.ok && found.reason === 'ambiguous') return { ok: false, exitCode: 2, message: found.message };
  const loaded = found.ok ? set.servers.get(found.id) : undefined;
  if (loaded === undefined) {
    const about = set.findings.filter((f) => f.severity === 'error' && f.file.endsWith(manifestFileSuffix(serverName)));
    const why = about.length > 0 ? `; it is not valid:\n${about.map((f) => `  ${f.file}:${f.line}:${f.col}: ${f.field}: ${f.message} [${f.rule}]`).join('\n')}` : '';
    return { ok: false, exitCode: 1, message: `no valid server "${serverName}" in ${options.manifests}${why}` };
  }
  const server = loaded.doc;
  if (subscribedService(server, svc) === undefined) {
    return { ok: false, exitCode: 1, message: `${serverName} does not watch ${svc} (its services: ${serviceNames(server).join(', ')})` };
  }
  const e = selectAndRender(server, svc, set.runbooks);
  if (!e.ok) return { ok: false, exitCode: 1, message: e.error };
  return { ok: true, server, rendered: e.rendered, ...(e.file === undefined ? {} : { file: e.file }), set, config };
}

/** How `show` and `run` begin: the effective runbook and where to write, or its refusal written and the exit code. */
export async function startRunbookCommand(
  subcommand: 'show' | 'run',
  serverName: string,
  service: string,
  options: { manifests: string; config?: string | undefined },
  deps: RunbookCommandDeps,
): Promise<{ found: Extract<EffectiveRunbook, { ok: true }>; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } | { exitCode: 1 | 2 }> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const found = await effectiveRunbook(serverName, service, options, deps.cwd);
  if (!found.ok) {
    stderr.write(`mamori runbook ${subcommand}: ${found.message}\n`);
    return { exitCode: found.exitCode };
  }
  return { found, stdout, stderr };
}

/** The group's global options as `show` and `run` take them (manifests default to ./manifests). */
export function runbookGlobals(cmd: Command): { manifests: string; config: string | undefined } {
  const globals = cmd.optsWithGlobals<{ manifests?: string; config?: string }>();
  return { manifests: globals.manifests ?? 'manifests', config: globals.config };
}

export async function runRunbookShow(
  serverName: string,
  service: string,
  options: { manifests: string; config?: string | undefined; json?: boolean },
  deps: RunbookCommandDeps = {},
): Promise<number> {
  const started = await startRunbookCommand('show', serverName, service, options, deps);
  if ('exitCode' in started) return started.exitCode;
  const { found, stdout } = started;
  // Loaded here, not at the top: `mamori --help` should not pay for these libraries.
  const { formatRenderedRunbook } = await import('../runbook/format.ts');
  if (options.json === true) {
    stdout.write(`${JSON.stringify({ ...found.rendered, ...(found.file === undefined ? {} : { file: found.file }) }, null, 2)}\n`);
  } else {
    const lines = formatRenderedRunbook(found.rendered);
    stdout.write(`${[lines[0], ...(found.file === undefined ? [] : [`from ${found.file}`]), ...lines.slice(1)].join('\n')}\n`);
  }
  return 0;
}

/** The `runbook` command group, created once; subcommands are added to it. */
export function runbookGroup(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'runbook');
  if (existing !== undefined) return existing;
  return program.command('runbook').description("The runbooks as they apply to one server: show what would run (and run it).");
}

export function registerRunbookCommand(program: Command, deps: RunbookCommandDeps = {}): Command {
  const group = runbookGroup(program);
  group
    .command('show')
    .description("Print the effective runbook of a server's service, rendered with its values: exactly what would run.")
    .argument('<server>', 'the server: customer/name, or its name alone when one customer has it')
    .argument('<service>', `the service: ${SERVICE_NAMES.join(', ')}`)
    .option('--json', 'print the rendered runbook as JSON (the executor contract)')
    .addHelpText('after', `
Examples:
  $ mamori runbook show acme-web1 http                       # the steps, commands and deadlines, rendered
  $ mamori --manifests /srv/m runbook show acme-db1 ping --json`)
    .action(async (serverName: string, service: string, opts: { json?: boolean }, cmd: Command) => {
      process.exitCode = await runRunbookShow(serverName, service, { ...runbookGlobals(cmd), json: opts.json === true }, deps);
    });
  return group;
}
