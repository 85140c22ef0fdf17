/**
 * `mamori reconcile --once [--dry-run]`: one pass over every server — probe all, decide, act (not
 * with --dry-run), wait for the runbooks, print what happened. A running daemon is asked through
 * its local API; without one, this command takes the state folder's lock and runs the same
 * controller in-process (journal replayed first, so budgets and open incidents carry over). With
 * replicas the daemon asked runs its own shard and asks every other live replica for theirs.
 */
import type { Command } from 'commander';
import type { MamoriConfig } from '../config/types.ts';
import { isMamoriError, MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ServerDocument } from '../manifest/types.ts';
import type { Controller, ReconcileSummary } from '../reconcile/controller.ts';

export interface CliGlobals {
  config?: string;
  manifests?: string;
}

export interface InProcess {
  controller: Controller;
  config: MamoriConfig;
  logger: Logger;
  servers: ServerDocument[];
}

/**
 * Takes the lock, loads the manifests (a folder: --manifests, or the config's folder source),
 * replays the journal and builds the controller as `mamori run` does — without scheduling, HTTP or
 * a source watcher — runs `fn`, then stops everything in order and releases the lock.
 */
export async function withInProcessController<T>(config: MamoriConfig, manifestsDir: string | undefined, purpose: string, fn: (p: InProcess) => Promise<T>): Promise<T> {
  // Loaded here, not at the top: `mamori --help` should not pay for these libraries.
  const { createLogger } = await import('../log.ts');
  const { readManifestTree } = await import('../manifest/read-tree.ts');
  const { validateDocuments } = await import('../manifest/validate-documents.ts');
  const { wireReconciler } = await import('../reconcile/wiring.ts');
  const { manifestChecks, runbookSelector, withShellParser } = await import('../runbook/manifest-hooks.ts');
  const { checkSecretsFolder } = await import('../secrets/check-secrets-folder.ts');
  const { acquireStateLock } = await import('../status/lock.ts');
  const { prepareStateFolder } = await import('../status/state-format.ts');
  const logger = createLogger({ level: config.log.level, destination: process.stderr });
  const root = manifestsDir ?? (config.source.type === 'folder' ? config.source.path : undefined);
  if (root === undefined) {
    throw new MamoriError('MAMORI_CLI_USAGE', 'no daemon is running and the source is git: start `mamori run`, or pass --manifests DIR to run in-process');
  }
  // The same refusal as `mamori run`: a pass in-process repairs and mails just as the daemon does.
  await checkSecretsFolder(config.secretsDir);
  const lock = await acquireStateLock(config.stateDir, { purpose, logger });
  try {
    await prepareStateFolder(config.stateDir, { logger });
    const tree = await readManifestTree(root, { operatorDir: config.operatorDir });
    const checks = await withShellParser((parser) => manifestChecks(tree.files, parser));
    const set = validateDocuments(tree.files, { config, selectRunbook: runbookSelector, checks });
    for (const f of [...tree.findings, ...set.findings].filter((x) => x.severity === 'error')) logger.warn({ file: f.file, line: f.line, field: f.field, rule: f.rule }, 'manifest finding: that server is skipped');
    const servers = [...set.servers.values()].map((d) => d.doc);
    const { controller, records, outbox, journal } = await wireReconciler(config, { logger, runbooks: () => set.runbooks });
    controller.setDesired('local', servers);
    await controller.start(records, { schedule: false });
    try {
      return await fn({ controller, config, logger, servers });
    } finally {
      await controller.stop({ deadlineMs: 10_000 });
      await controller.writeAllStatus();
      await outbox.stop();
      await journal.close();
    }
  } finally {
    await lock.release();
  }
}

/** Replicas: each replica's part of a fleet-wide pass (src/daemon/replica-routing.ts). */
type ReplicaParts = Array<{ replica: string; ok: boolean; servers?: number; error?: string }>;

export function formatSummary(s: ReconcileSummary & { replicas?: ReplicaParts }, via: string): string {
  const lines = [
    `${s.dryRun ? 'dry run' : 'reconciled'} (${via}): ${s.servers} server${s.servers === 1 ? '' : 's'}, ${s.probes} probes${s.unknownProbes > 0 ? ` (${s.unknownProbes} unknown: the monitor lagged)` : ''}`,
  ];
  lines.push(s.failing.length === 0 ? 'failing: none' : `failing: ${s.failing.join(', ')}`);
  if (s.paused.length > 0) lines.push(`remediation paused (mass failure): ${s.paused.join(', ')}`);
  for (const r of s.runbooks) lines.push(`${s.dryRun ? 'would run' : 'ran'}: ${r.server} ${r.target} (incident ${r.incidentId}, attempt ${r.attempt})${r.verdict ? `: ${r.verdict}` : ''}`);
  const acts = Object.entries(s.actions)
    .filter(([k]) => k !== 'probe-again-at')
    .map(([k, v]) => `${k} ${v}`);
  if (acts.length > 0) lines.push(`actions: ${acts.join(', ')}`);
  if (s.replicas !== undefined) lines.push(`replicas: ${s.replicas.map((r) => (r.ok ? `${r.replica} ${r.servers ?? 0} server${r.servers === 1 ? '' : 's'}` : `${r.replica} FAILED (${r.error ?? 'no answer'})`)).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description('One reconcile pass over every server: probe, decide, repair (through the running daemon, or in-process).')
    .requiredOption('--once', 'one pass, then exit (the only mode: `mamori run` reconciles continuously)')
    .option('--dry-run', 'probe and decide, but change nothing: no runbook, no journal, no e-mail')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Exit status: 0 when every server passes, 1 when something still fails (or a runbook did not recover), 2 on usage errors.

Examples:
  $ mamori reconcile --once --dry-run        # what would mamori do now?
  $ mamori reconcile --once --manifests ./manifests --config mamori.yaml`,
    )
    .action(async (opts: { once: boolean; dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<CliGlobals>();
      const explicitManifests = cmd.getOptionValueSourceWithGlobals('manifests') === 'cli' ? globals.manifests : undefined;
      const dryRun = opts.dryRun === true;
      try {
        const [{ loadConfig }, { describeTarget, requestReconcile }, { daemonTarget }] = await Promise.all([
          import('../config/load-config.ts'),
          import('../reconcile/local-api-client.ts'),
          import('./local-api-target.ts'),
        ]);
        const config = await loadConfig(globals.config);
        const target = await daemonTarget(config);
        let summary: ReconcileSummary & { replicas?: ReplicaParts };
        let via: string;
        if (target !== undefined) {
          const reply = await requestReconcile<ReconcileSummary & { replicas?: ReplicaParts }>(target, dryRun);
          if (!reply.ok || reply.result === undefined) throw new MamoriError('MAMORI_HTTP_UNREACHABLE', `the daemon refused: ${reply.code ?? reply.status} ${reply.error ?? ''}`.trim());
          summary = reply.result;
          via = `through the daemon on ${describeTarget(target)}`;
        } else {
          summary = await withInProcessController(config, explicitManifests, 'reconcile --once', ({ controller }) => controller.reconcileOnce({ dryRun }));
          via = 'in-process';
        }
        process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary, via));
        const unrecovered = summary.runbooks.some((r) => r.verdict !== undefined && r.verdict !== 'Recovered');
        // Replicas: a replica that could not be asked leaves its shard unreconciled.
        const replicaFailed = summary.replicas?.some((r) => !r.ok) === true;
        process.exitCode = summary.failing.length > 0 || unrecovered || replicaFailed ? 1 : 0;
      } catch (err) {
        process.stderr.write(`mamori reconcile: ${isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
        process.exitCode = isMamoriError(err, 'MAMORI_CLI_USAGE') ? 2 : 1;
      }
    });
}
