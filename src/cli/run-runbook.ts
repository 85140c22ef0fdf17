/**
 * `mamori runbook run SERVER SERVICE [--dry-run]`: run the effective runbook of one service
 * now, as the reconciler would, and print the transcript. With --dry-run nothing connects:
 * it prints what would run, where, as whom, and which secrets resolve (never their values).
 * Exit 0 when the verdict is Recovered (or for a dry run whose secrets all resolve), else 1.
 */
import type { Command } from 'commander';
import type { MamoriConfig } from '../config/types.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { ProberRegistry } from '../probe/registry.ts';
import type { OutsideProbe, Transcript } from '../runbook/execution.ts';
import { probeTargetOf } from '../reconcile/probe-target.ts';
import { runbookGlobals, runbookGroup, startRunbookCommand, type RunbookCommandDeps } from './runbook.ts';

/** The outside view for the executor: the real probes, aimed as the reconciler aims them (ssh on spec.access.port). */
export function outsideProbeFor(server: ServerDocument, config: MamoriConfig, registry: ProberRegistry): OutsideProbe {
  return async (service: ServiceName) => {
    const r = await registry.probe(probeTargetOf(server, service, config.probe.timeoutSeconds * 1000, config.sourceAddress));
    return r.up ? { up: true } : { up: false, message: r.failure ? `${r.failure.kind} (${r.failure.phase}): ${r.failure.message}` : 'down' };
  };
}

export function formatTranscript(t: Transcript): string[] {
  const lines = [`${t.server} ${t.service}: ${t.verdict} — ${t.message}`, `runbook ${t.runbook} (${t.origin}), ${t.startedAt} → ${t.finishedAt}`];
  for (const s of t.steps) {
    const took = Date.parse(s.finishedAt) - Date.parse(s.startedAt);
    lines.push(`  ${s.outcome.padEnd(7)} ${s.id} [${s.kind}]${s.exitCode !== undefined ? ` exit ${String(s.exitCode)}` : ''} ${took} ms${s.command ? `: ${s.command}` : ''}`);
    if (s.note) lines.push(`          ${s.note}`);
    if (s.output) for (const l of s.output.trimEnd().split('\n').slice(-12)) lines.push(`          | ${l}`);
  }
  const evidence = Object.entries(t.evidence).map(([k, v]) => `${k}=${String(v)}`);
  if (evidence.length > 0) lines.push(`evidence: ${evidence.join(' ')}`);
  lines.push(`acted: ${String(t.acted)}${t.powerActions.length ? `; power: ${t.powerActions.join(', ')}` : ''}`);
  return lines;
}

export async function runRunbookRun(
  serverName: string,
  service: string,
  options: { manifests: string; config?: string | undefined; dryRun?: boolean; json?: boolean },
  deps: RunbookCommandDeps = {},
): Promise<number> {
  const started = await startRunbookCommand('run', serverName, service, options, deps);
  if ('exitCode' in started) return started.exitCode;
  const { stdout, stderr } = started;
  const { server, rendered, config } = started.found;
  // Loaded here, not at the top: `mamori --help` should not pay for ssh2 and pino.
  const [{ createLogger }, { targetCheck }, { createProberRegistry }, { createExecutor, resolveServerSecrets }, { formatRenderedRunbook }, { resolveSecret }] = await Promise.all([
    import('../log.ts'),
    import('../manifest/target-networks.ts'),
    import('../probe/registry.ts'),
    import('../runbook/executor.ts'),
    import('../runbook/format.ts'),
    import('../secrets/resolve-secret.ts'),
  ]);
  const resolve = (ref: string): Promise<string> => resolveSecret(ref, config);
  if (options.dryRun === true) {
    const secrets = await resolveServerSecrets(server, resolve);
    const access = server.spec.access;
    const lines = [
      ...formatRenderedRunbook(rendered),
      `dry run: nothing connects. Would log in as ${access.user}@${server.spec.address}:${access.port ?? 22} only if its host key is ${access.hostKey}${access.legacyAlgorithms ? ' (legacy algorithms allowed)' : ''}`,
      ...(server.spec.console ? [`console/power profile ${server.spec.console.profile}`] : ['no console/power profile']),
      ...(secrets.missing.size === 0 ? ['every secret resolves'] : [...secrets.missing].map(([field, why]) => `secret missing: ${field}: ${why}`)),
    ];
    if (options.json === true) stdout.write(`${JSON.stringify({ dryRun: true, runbook: rendered, missingSecrets: [...secrets.missing.keys()] }, null, 2)}\n`);
    else stdout.write(`${lines.join('\n')}\n`);
    return secrets.missing.size === 0 ? 0 : 1;
  }
  const logger = createLogger({ level: config.log.level === 'trace' || config.log.level === 'debug' ? config.log.level : 'warn', destination: stderr });
  const executor = createExecutor({
    resolveSecret: resolve,
    consoleProfiles: config.consoleProfiles,
    logger,
    targets: targetCheck(config.targetNetworks),
    ...(config.sourceAddress !== undefined ? { sourceAddress: config.sourceAddress } : {}),
  });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const t = await executor.execute({ server, runbook: rendered, probe: outsideProbeFor(server, config, createProberRegistry({ targets: targetCheck(config.targetNetworks) })), signal: stop.signal, logger });
    stdout.write(options.json === true ? `${JSON.stringify(t, null, 2)}\n` : `${formatTranscript(t).join('\n')}\n`);
    return t.verdict === 'Recovered' ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

export function registerRunbookRunCommand(program: Command, deps: RunbookCommandDeps = {}): Command {
  const group = runbookGroup(program);
  group
    .command('run')
    .description("Run the effective runbook of a server's service now (look, act, verify) and print the transcript.")
    .argument('<server>', "the server's name")
    .argument('<service>', 'the service')
    .option('--dry-run', 'connect nowhere: print what would run, where, and whether every secret resolves')
    .option('--json', 'print the transcript (or the dry run) as JSON')
    .action(async (serverName: string, service: string, opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      process.exitCode = await runRunbookRun(serverName, service, { ...runbookGlobals(cmd), dryRun: opts.dryRun === true, json: opts.json === true }, deps);
    });
  return group;
}
