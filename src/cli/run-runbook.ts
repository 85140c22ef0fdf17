/**
 * `mamori runbook run SERVER SERVICE [--dry-run]`: run the effective runbook of one service
 * now, as the reconciler would, and print the transcript. With --dry-run nothing connects:
 * it prints what would run, where, as whom, and which secrets resolve (never their values).
 * Exit 0 when the verdict is Recovered (or for a dry run whose secrets all resolve), else 1.
 *
 * Each step is printed to stderr as it ends (a runbook may take minutes). A runbook that may power
 * the server on, off or cycle it asks on the terminal right before the action; without a
 * terminal to ask on it is refused before anything connects, unless --yes.
 */
import type { Command } from 'commander';
import type { MamoriConfig } from '../config/types.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { ProberRegistry } from '../probe/registry.ts';
import type { OutsideProbe, StepRecord, Transcript } from '../runbook/execution.ts';
import { probeTargetOf } from '../reconcile/probe-target.ts';
import { runbookGlobals, runbookGroup, startRunbookCommand, type RunbookCommandDeps } from './runbook.ts';

/** The outside view for the executor: the real probes, aimed as the reconciler aims them (ssh on spec.access.port). */
export function outsideProbeFor(server: ServerDocument, config: MamoriConfig, registry: ProberRegistry): OutsideProbe {
  return async (service: ServiceName) => {
    const r = await registry.probe(probeTargetOf(server, service, config.probe.timeoutSeconds * 1000, config.sourceAddress));
    return r.up ? { up: true } : { up: false, message: r.failure ? `${r.failure.kind} (${r.failure.phase}): ${r.failure.message}` : 'down' };
  };
}

/** One step as the transcript shows it (and as `runbook run` streams it). */
export function formatStep(s: StepRecord): string[] {
  const took = Date.parse(s.finishedAt) - Date.parse(s.startedAt);
  const lines = [`  ${s.outcome.padEnd(7)} ${s.id} [${s.kind}]${s.exitCode !== undefined ? ` exit ${String(s.exitCode)}` : ''} ${took} ms${s.command ? `: ${s.command}` : ''}`];
  if (s.note) lines.push(`          ${s.note}`);
  if (s.output) for (const l of s.output.trimEnd().split('\n').slice(-12)) lines.push(`          | ${l}`);
  return lines;
}

export function formatTranscript(t: Transcript): string[] {
  const lines = [`${t.server} ${t.service}: ${t.verdict} — ${t.message}`, `runbook ${t.runbook} (${t.origin}), ${t.startedAt} → ${t.finishedAt}`];
  for (const s of t.steps) lines.push(...formatStep(s));
  const evidence = Object.entries(t.evidence).map(([k, v]) => `${k}=${String(v)}`);
  if (evidence.length > 0) lines.push(`evidence: ${evidence.join(' ')}`);
  lines.push(`acted: ${String(t.acted)}${t.powerActions.length ? `; power: ${t.powerActions.join(', ')}` : ''}`);
  return lines;
}

export async function runRunbookRun(
  serverName: string,
  service: string,
  options: { manifests: string; config?: string | undefined; dryRun?: boolean; json?: boolean; yes?: boolean },
  deps: RunbookCommandDeps & { isTTY?: boolean } = {},
): Promise<number> {
  const started = await startRunbookCommand('run', serverName, service, options, deps);
  if ('exitCode' in started) return started.exitCode;
  const { stdout, stderr } = started;
  const { server, rendered, config } = started.found;
  // Loaded here, not at the top: `mamori --help` should not pay for ssh2 and pino.
  const [{ createLogger }, { targetCheck }, { createProberRegistry }, { createExecutor }, { resolveServerSecrets, sshEndpointText }, { formatRenderedRunbook }, { resolveSecret }] = await Promise.all([
    import('../log.ts'),
    import('../manifest/target-networks.ts'),
    import('../probe/registry.ts'),
    import('../runbook/executor.ts'),
    import('../runbook/ssh-access.ts'),
    import('../runbook/format.ts'),
    import('../secrets/resolve-secret.ts'),
  ]);
  const resolve = (ref: string): Promise<string> => resolveSecret(ref, config);
  if (options.dryRun === true) {
    const secrets = await resolveServerSecrets(server, resolve);
    const access = server.spec.access;
    const lines = [
      ...formatRenderedRunbook(rendered),
      `dry run: nothing connects. Would log in as ${sshEndpointText(server)} only if its host key is ${access.hostKey}${access.legacyAlgorithms ? ' (legacy algorithms allowed)' : ''}`,
      ...(server.spec.console ? [`console/power profile ${server.spec.console.profile}`] : ['no console/power profile']),
      ...(secrets.missing.size === 0 ? ['every secret resolves'] : [...secrets.missing].map(([field, why]) => `secret missing: ${field}: ${why}`)),
    ];
    if (options.json === true) stdout.write(`${JSON.stringify({ dryRun: true, runbook: rendered, missingSecrets: [...secrets.missing.keys()] }, null, 2)}\n`);
    else stdout.write(`${lines.join('\n')}\n`);
    return secrets.missing.size === 0 ? 0 : 1;
  }
  // A power action is never sent unasked: on a terminal the operator is asked right before it;
  // without one (cron, a pipe, CI) the run is refused before anything connects, unless --yes.
  const powerSteps = rendered.steps.filter((st) => st.kind === 'power' && st.action !== 'status').map((st) => st.id);
  const isTTY = deps.isTTY ?? (process.stdin.isTTY === true && process.stderr.isTTY === true);
  if (powerSteps.length > 0 && options.yes !== true && !isTTY) {
    stderr.write(
      `mamori runbook run: the runbook ${rendered.runbook} for ${server.metadata.name} ${rendered.service} may power the server on, off or cycle it (step ${powerSteps.join(', ')}), and there is no terminal to ask on: nothing was run. Run it on a terminal to be asked before the power action, or pass --yes to allow it.\n`,
    );
    return 2;
  }
  const confirmPower =
    options.yes === true || powerSteps.length === 0
      ? undefined
      : async (action: 'on' | 'off' | 'cycle', name: string): Promise<boolean> => {
          const { createInterface } = await import('node:readline/promises');
          const rl = createInterface({ input: process.stdin, output: stderr });
          try {
            const answer = await rl.question(`Power ${action} ${name} now? Type yes to send it, anything else to stop here: `);
            return /^y(es)?$/i.test(answer.trim());
          } finally {
            rl.close();
          }
        };
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
    stderr.write(`running ${rendered.runbook} (${rendered.origin}) for ${server.metadata.name} ${rendered.service}: ${rendered.steps.length} steps, at most ${Math.round(rendered.deadlineMs / 1000)} s; Ctrl-C stops at a safe point\n`);
    const t = await executor.execute({
      server,
      runbook: rendered,
      probe: outsideProbeFor(server, config, createProberRegistry({ targets: targetCheck(config.targetNetworks) })),
      signal: stop.signal,
      logger,
      onStep: (step) => stderr.write(`${formatStep(step).join('\n')}\n`),
      ...(confirmPower ? { confirmPower } : {}),
    });
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
    .argument('<server>', 'the server: customer/name, or its name alone when one customer has it')
    .argument('<service>', 'the service')
    .option('--dry-run', 'connect nowhere: print what would run, where, and whether every secret resolves')
    .option('--json', 'print the transcript (or the dry run) as JSON')
    .option('-y, --yes', 'allow a power action without asking (needed to send one without a terminal)')
    .addHelpText(
      'after',
      `
Examples:
  $ mamori runbook run acme-web1 http --dry-run     # what would run, where, as whom; connects nowhere
  $ mamori runbook run acme-web1 http               # steps printed as they end, transcript at the end
  $ mamori runbook run acme-db1 ping --yes --json   # from a script: power actions allowed, JSON transcript

A runbook that may power the server on, off or cycle it asks before the action on a terminal;
without one it is refused (exit 2) unless --yes. Exit status: 0 Recovered, 1 another verdict,
2 usage or refused.`,
    )
    .action(async (serverName: string, service: string, opts: { dryRun?: boolean; json?: boolean; yes?: boolean }, cmd: Command) => {
      process.exitCode = await runRunbookRun(serverName, service, { ...runbookGlobals(cmd), dryRun: opts.dryRun === true, json: opts.json === true, yes: opts.yes === true }, deps);
    });
  return group;
}
