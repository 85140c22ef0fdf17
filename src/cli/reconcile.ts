/**
 * `mamori reconcile --once [--dry-run]`: one pass over every server — probe all, decide, act (not
 * with --dry-run), wait for the runbooks, print what happened. A running daemon is asked through
 * its local API; without one, this command takes the state folder's lock and runs the same
 * controller in-process (journal replayed first, so budgets and open incidents carry over).
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadConfig } from '../config/load-config.ts';
import type { MamoriConfig } from '../config/types.ts';
import { isMamoriError, MamoriError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { readManifestTree } from '../manifest/read-tree.ts';
import type { LoadedDocument, RunbookDocument, ServerDocument, ServiceName } from '../manifest/types.ts';
import { validateDocuments } from '../manifest/validate-documents.ts';
import { Outbox } from '../notify/outbox.ts';
import { createProberRegistry } from '../probe/registry.ts';
import { Controller, type ReconcileSummary } from '../reconcile/controller.ts';
import { requestReconcile, type LocalApiTarget } from '../reconcile/local-api-client.ts';
import { policyFromConfig } from '../reconcile/policy.ts';
import { probeTargetOf } from '../reconcile/probe-target.ts';
import type { RemediationTarget } from '../reconcile/types.ts';
import { createExecutor } from '../runbook/executor.ts';
import { renderRunbook } from '../runbook/render.ts';
import { selectRunbook } from '../runbook/select.ts';
import { resolveSecret } from '../secrets/resolve-secret.ts';
import { openJournal, readJournal } from '../status/journal.ts';
import { acquireStateLock, isStateLocked } from '../status/lock.ts';
import { createStatusStore } from '../status/store.ts';
import type { ConfigDocument } from '../manifest/types.ts';

export interface CliGlobals {
  config?: string;
  manifests?: string;
}

/** The running daemon's local API, if one holds the state folder. */
export async function daemonTarget(config: MamoriConfig): Promise<LocalApiTarget | undefined> {
  if (!(await isStateLocked(config.stateDir))) return undefined;
  const token = config.http.token ? await resolveSecret(config.http.token, config) : undefined;
  return { listen: config.http.listen, ...(token !== undefined ? { token } : {}) };
}

function policyOf(config: MamoriConfig): ReturnType<typeof policyFromConfig> {
  const doc = { probe: { ...config.probe }, remediation: { ...config.remediation, flapping: { ...config.remediation.flapping } }, massFailure: { ...config.massFailure, canaries: undefined } };
  return policyFromConfig(doc as ConfigDocument);
}

function splitUserPass(secret: string): { user: string; pass: string } {
  const colon = secret.indexOf(':');
  return colon < 0 ? { user: secret, pass: '' } : { user: secret.slice(0, colon), pass: secret.slice(colon + 1) };
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
  const logger = createLogger({ level: config.log.level, destination: process.stderr });
  const root = manifestsDir ?? (config.source.type === 'folder' ? config.source.path : undefined);
  if (root === undefined) {
    throw new MamoriError('MAMORI_CLI_USAGE', 'no daemon is running and the source is git: start `mamori run`, or pass --manifests DIR to run in-process');
  }
  const lock = await acquireStateLock(config.stateDir, { purpose, logger });
  try {
    const tree = await readManifestTree(root, { operatorDir: config.operatorDir });
    const set = validateDocuments(tree.files, {
      config,
      selectRunbook: (server, service, runbooks) => {
        const chosen = selectRunbook(server.doc, service, runbooks as Map<string, LoadedDocument<RunbookDocument>>);
        return 'error' in chosen ? undefined : runbooks.get(chosen.runbook.metadata.name);
      },
    });
    for (const f of [...tree.findings, ...set.findings].filter((x) => x.severity === 'error')) logger.warn({ file: f.file, line: f.line, field: f.field, rule: f.rule }, 'manifest finding: that server is skipped');
    const servers = [...set.servers.values()].map((d) => d.doc);
    const records = (await readJournal(config.stateDir)).records;
    const journal = await openJournal(config.stateDir);
    const outbox = await Outbox.open(
      {
        dir: join(config.stateDir, 'outbox'),
        from: config.mail.from,
        ...(config.mail.smtp
          ? {
              smtp: {
                host: config.mail.smtp.host,
                port: config.mail.smtp.port,
                secure: config.mail.smtp.secure,
                requireTLS: config.mail.smtp.requireTLS,
                ...(config.mail.smtp.auth ? { auth: splitUserPass(await resolveSecret(config.mail.smtp.auth, config)) } : {}),
              },
            }
          : {}),
        rate: { maxPerWindow: config.mail.maxPerServerPerHour },
      },
      { logger },
    );
    outbox.start();
    const policy = policyOf(config);
    const registry = createProberRegistry();
    const controller = new Controller({
      policy,
      probe: (doc, service, signal) => registry.probe(probeTargetOf(doc, service, policy.timeoutMs, config.sourceAddress), signal),
      executor: createExecutor({
        resolveSecret: (ref) => resolveSecret(ref, config),
        consoleProfiles: config.consoleProfiles as Parameters<typeof createExecutor>[0]['consoleProfiles'],
        logger,
        ...(config.sourceAddress ? { sourceAddress: config.sourceAddress } : {}),
      }),
      renderRunbook: (doc: ServerDocument, target: RemediationTarget) => {
        const service: ServiceName = target === 'host' ? 'ping' : target;
        const chosen = selectRunbook(doc, service, set.runbooks);
        if ('error' in chosen) return new Error(chosen.error);
        try {
          return renderRunbook(doc, service, chosen.runbook, chosen.origin);
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err));
        }
      },
      notifier: outbox,
      store: createStatusStore(config.stateDir),
      journal,
      logger,
      probeConcurrency: config.probe.concurrency,
      remediationConcurrency: config.remediation.concurrency,
      ...(config.mail.operator ? { operatorEmail: config.mail.operator } : {}),
      managementNetworks: [...config.managementNetworks],
      ...(config.sourceAddress ? { sourceAddress: config.sourceAddress } : {}),
      canaries: (config.massFailure.canaries ?? []).map((c) => ({ address: c.address, ...(c.service ? { service: c.service as ServiceName } : {}), ...(c.port ? { port: c.port } : {}) })),
      probeCanary: (c, signal) => registry.probe({ service: c.service ?? 'ping', address: c.address, timeoutMs: policy.timeoutMs, ...(c.port ? { port: c.port } : {}) }, signal),
    });
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

export function formatSummary(s: ReconcileSummary, via: string): string {
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
        const config = await loadConfig(globals.config);
        const target = await daemonTarget(config);
        let summary: ReconcileSummary;
        let via: string;
        if (target !== undefined) {
          const reply = await requestReconcile<ReconcileSummary>(target, dryRun);
          if (!reply.ok || reply.result === undefined) throw new MamoriError('MAMORI_HTTP_UNREACHABLE', `the daemon refused: ${reply.code ?? reply.status} ${reply.error ?? ''}`.trim());
          summary = reply.result;
          via = `through the daemon on ${target.listen}`;
        } else {
          summary = await withInProcessController(config, explicitManifests, 'reconcile --once', ({ controller }) => controller.reconcileOnce({ dryRun }));
          via = 'in-process';
        }
        process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary, via));
        const unrecovered = summary.runbooks.some((r) => r.verdict !== undefined && r.verdict !== 'Recovered');
        process.exitCode = summary.failing.length > 0 || unrecovered ? 1 : 0;
      } catch (err) {
        process.stderr.write(`mamori reconcile: ${isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
        process.exitCode = isMamoriError(err, 'MAMORI_CLI_USAGE') ? 2 : 1;
      }
    });
}
