/**
 * `mamori check-access SERVER`: the readiness check for one server, now — log in with the
 * pinned key, `sudo -n true`, every secret its runbooks need, the BMC's power status — and
 * print the conditions the daemon puts in status. Exit 0 when none is True, 1 otherwise.
 */
import { lookupServer, manifestFileSuffix } from '../manifest/server-id.ts';
import { resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import { isMamoriError } from '../errors.ts';
import type { MamoriConfig } from '../config/types.ts';
import { serviceNames } from '../manifest/services.ts';
import type { RenderedRunbook } from '../runbook/types.ts';

export interface CheckAccessDeps {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  cwd?: string;
}

export async function runCheckAccess(
  serverName: string,
  options: { manifests: string; config?: string | undefined; json?: boolean },
  deps: CheckAccessDeps = {},
): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const cwd = deps.cwd ?? process.cwd();
  // Loaded here, not at the top: `mamori --help` should not pay for these libraries.
  const { loadConfig } = await import('../config/load-config.ts');
  const { loadManifests } = await import('../manifest/load-manifests.ts');
  const { targetCheck } = await import('../manifest/target-networks.ts');
  const { checkReadiness } = await import('../runbook/readiness.ts');
  const { effectiveRunbook } = await import('../runbook/effective.ts');
  const { resolveSecret } = await import('../secrets/resolve-secret.ts');
  const { checksWith, runbookSelector, withShellParser } = await import('../runbook/manifest-hooks.ts');
  let config: MamoriConfig;
  try {
    config = await loadConfig(options.config, { cwd });
  } catch (err) {
    if (isMamoriError(err)) {
      stderr.write(`mamori check-access: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const set = await withShellParser((parser) => loadManifests(resolvePath(cwd, options.manifests), { config, selectRunbook: runbookSelector, checksFor: checksWith(parser) }));
  // customer/name, or a bare name one customer alone has; two customers' web01 is refused with both named.
  const found = lookupServer(serverName, set.servers.keys());
  if (!found.ok && found.reason === 'ambiguous') {
    stderr.write(`mamori check-access: ${found.message}\n`);
    return 2;
  }
  const loaded = found.ok ? set.servers.get(found.id) : undefined;
  if (loaded === undefined) {
    const about = set.findings.filter((f) => f.severity === 'error' && f.file.endsWith(manifestFileSuffix(serverName)));
    const why = about.map((f) => `\n  ${f.file}:${f.line}:${f.col}: ${f.field}: ${f.message} [${f.rule}]`).join('');
    stderr.write(`mamori check-access: no valid server "${serverName}" in ${options.manifests}${why}\n`);
    return 1;
  }
  const server = loaded.doc;
  const runbooks: RenderedRunbook[] = [];
  for (const service of serviceNames(server)) {
    // validate reports missing and unrenderable runbooks; readiness looks at the ones that render
    const e = effectiveRunbook(server, service, set.runbooks);
    if (e.ok) runbooks.push(e.rendered);
  }
  const report = await checkReadiness(server, {
    resolveSecret: (ref) => resolveSecret(ref, config),
    consoleProfiles: config.consoleProfiles,
    runbooks,
    targets: targetCheck(config.targetNetworks),
    ...(config.sourceAddress !== undefined ? { sourceAddress: config.sourceAddress } : {}),
  });
  if (options.json === true) {
    stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [`${report.server} (${server.spec.address}), checked ${report.checkedAt}`];
    for (const c of report.conditions) lines.push(`  ${c.type.padEnd(22)} ${c.status.padEnd(7)} ${c.reason}: ${c.message}`);
    const facts = Object.entries(report.facts).map(([k, v]) => `${k}=${String(v)}`);
    if (facts.length > 0) lines.push(`  ${facts.join(' ')}`);
    stdout.write(`${lines.join('\n')}\n`);
  }
  return report.conditions.some((c) => c.status === 'True') ? 1 : 0;
}

export function registerCheckAccessCommand(program: Command, deps: CheckAccessDeps = {}): Command {
  return program
    .command('check-access')
    .description('Check now that mamori could repair a server: SSH login with the pinned host key, sudo -n, secrets, the BMC.')
    .argument('<server>', 'the server: customer/name, or its name alone when one customer has it')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
Examples:
  $ mamori check-access acme-web1                            # before a server goes live: could mamori repair it?
  $ mamori --config /etc/mamori/mamori.yaml check-access acme-web1 --json`)
    .action(async (serverName: string, opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ manifests?: string; config?: string }>();
      process.exitCode = await runCheckAccess(serverName, { manifests: globals.manifests ?? 'manifests', config: globals.config, json: opts.json === true }, deps);
    });
}
