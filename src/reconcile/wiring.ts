/**
 * The reconciler as `mamori run` and the in-process CLI commands (`reconcile --once`, `resume`)
 * both build it from a loaded config: status store, journal (its records read first, for replay),
 * outbox, prober registry, runbook executor and the render hook, into one Controller. One
 * definition, so that a pass the CLI runs in-process probes, repairs and mails exactly as the
 * daemon would. Callers keep what is theirs: the lock, the source or manifests, HTTP, scheduling.
 */
import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MamoriError } from '../errors.ts';
import type { MamoriConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { reloadableTargetCheck, type ReloadableTargetCheck } from '../manifest/target-networks.ts';
import type { ConfigDocument, LoadedDocument, RunbookDocument, ServerDocument, ServiceName } from '../manifest/types.ts';
import { Outbox } from '../notify/outbox.ts';
import { mailIdentityOf, smtpOptionsOf } from '../notify/smtp-relay.ts';
import { TeeNotifier } from '../notify/webhook-outbox.ts';
import { createProberRegistry } from '../probe/registry.ts';
import { createExecutor } from '../runbook/executor.ts';
import { effectiveRunbook } from '../runbook/effective.ts';
import type { RenderedRunbook } from '../runbook/types.ts';
import { resolveSecret } from '../secrets/resolve-secret.ts';
import { openJournal, readJournal, type Journal, type JournalRecord } from '../status/journal.ts';
import { StateHealth } from '../status/state-health.ts';
import { createStatusStore, type StatusStore } from '../status/store.ts';
import type { Notifier } from '../notify/types.ts';
import type { SendLedger } from '../notify/send-ledger.ts';
import type { RemediationCoordinator } from './coordinator.ts';
import { Controller, type ControllerEvent, type PassReport } from './controller.ts';
import { policyFromConfig } from './policy.ts';
import { probeTargetOf } from './probe-target.ts';
import { BufferedNotifier, BufferedStatusStore, watchedJournal } from './state-backlog.ts';
import type { Policy, RemediationTarget } from './types.ts';
import { bmcPowerAsker } from './bmc-power.ts';
import { hostFactReader } from './host-facts.ts';
import { bmcAskPeriodMs, VantageBoard } from './vantage-board.ts';
import { serverIdOf } from '../manifest/server-id.ts';
import type { ProbeResult, ProbeTarget } from '../probe/types.ts';

export type RunbookMap = ReadonlyMap<string, LoadedDocument<RunbookDocument>>;

export interface ReconcilerWiringOptions {
  logger: Logger;
  /** The runbooks to render from, asked at each repair (the daemon's change with the applied revision). */
  runbooks: () => RunbookMap;
  /** The numbers decide uses; policyOf(config) without it. The daemon passes its own, which a reload updates in place. */
  policy?: Policy;
  onEvent?: (e: ControllerEvent) => void;
  /** The webhook outbox: every notification is offered to it too (it keeps the kinds that are webhook events). */
  webhooks?: Notifier;
  /** Replicas sharing the fleet (config cluster); alone without it. */
  coordinator?: RemediationCoordinator;
  /** Replicas: the mail outbox's shared idempotency record (one send per notification across replicas). */
  mailLedger?: SendLedger;
  onPass?: (p: PassReport) => void;
  onLate?: (lateMs: number) => void;
}

export interface ReconcilerParts {
  controller: Controller;
  /** The agents' reports (vantages configured), which the HTTP side hands in. */
  vantages: VantageBoard | undefined;
  policy: Policy;
  store: StatusStore;
  journal: Journal;
  /** The journal as it was before this process appended to it: what `controller.start` replays. */
  records: JournalRecord[];
  /** Started; the caller stops it (after the controller, so that its last mails are queued). */
  outbox: Outbox;
  /** The outbox behind a memory buffer for the time the state folder cannot be written. */
  notifier: Notifier;
  /** Whether the state folder can be written; the caller stops it. */
  health: StateHealth;
  /**
   * The one target check every probe, SSH session and console/power call of this reconciler goes
   * through; a reload that changes `targetNetworks` replaces its networks (`targets.replace`).
   */
  targets: ReloadableTargetCheck;
}

/** The vantage points of the config as decide's quorum reads them; undefined without `vantages:`. */
export function vantageBoardOf(config: MamoriConfig): VantageBoard | undefined {
  const v = config.vantages;
  if (v === undefined) return undefined;
  return new VantageBoard(
    {
      self: { ...v.self },
      remotes: v.agents.map((a) => ({ name: a.name, network: a.network })),
      power: v.quorum.power,
      freshMs: v.quorum.freshSeconds * 1000,
      manyServers: v.quorum.manyServers,
    },
    { maxSkewMs: v.quorum.maxSkewSeconds * 1000 },
  );
}

/** The reconcile numbers of a loaded config, as `policyFromConfig` reads them. */
export function policyOf(config: MamoriConfig): Policy {
  const doc = { probe: { ...config.probe }, remediation: { ...config.remediation, flapping: { ...config.remediation.flapping } }, massFailure: { ...config.massFailure, canaries: undefined } };
  return policyFromConfig(doc as ConfigDocument);
}

/** The effective runbook for a repair target, rendered; an Error (never a throw) when there is none or it cannot render. */
export function renderFrom(runbooks: RunbookMap, doc: ServerDocument, target: RemediationTarget): RenderedRunbook | Error {
  const service: ServiceName = target === 'host' ? 'ping' : target;
  const e = effectiveRunbook(doc, service, runbooks as Map<string, LoadedDocument<RunbookDocument>>);
  return e.ok ? e.rendered : new Error(e.error);
}

async function openOutbox(config: MamoriConfig, logger: Logger, ledger: SendLedger | undefined): Promise<Outbox> {
  const smtp = config.mail.smtp;
  return Outbox.open(
    {
      dir: join(config.stateDir, 'outbox'),
      ...mailIdentityOf(config.mail),
      ...(smtp ? { smtp: await smtpOptionsOf(smtp, (ref) => resolveSecret(ref, config)) } : {}),
      rate: { maxPerWindow: config.mail.maxPerServerPerHour },
    },
    { logger, ...(ledger !== undefined ? { ledger } : {}) },
  );
}

/** The operator's CA files (config tls.caFiles) as PEM text; a missing or non-PEM file stops the start, naming it. */
export async function readCaFiles(config: MamoriConfig): Promise<string[]> {
  const out: string[] = [];
  for (const [i, file] of config.tls.caFiles.entries()) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new MamoriError('MAMORI_CONFIG_UNREADABLE', `tls.caFiles[${i}]: ${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err, details: { file, field: `tls.caFiles[${i}]` } });
    }
    if (!text.includes('-----BEGIN CERTIFICATE-----')) {
      throw new MamoriError('MAMORI_CONFIG_UNREADABLE', `tls.caFiles[${i}]: ${file} holds no PEM certificate`, { details: { file, field: `tls.caFiles[${i}]` } });
    }
    out.push(text);
  }
  return out;
}

/**
 * Builds the reconciler on the state folder. The caller holds the state lock first. On failure
 * whatever was opened here is closed again before the error propagates.
 */
export async function wireReconciler(config: MamoriConfig, options: ReconcilerWiringOptions): Promise<ReconcilerParts> {
  const { logger } = options;
  const policy = options.policy ?? policyOf(config);
  await mkdir(config.stateDir, { recursive: true });
  const health = new StateHealth({ stateDir: config.stateDir, logger });
  const store = new BufferedStatusStore(createStatusStore(config.stateDir), health, logger);
  const records = (await readJournal(config.stateDir)).records;
  const journal = watchedJournal(await openJournal(config.stateDir), health);
  let outbox: Outbox | undefined;
  try {
    outbox = await openOutbox(config, logger, options.mailLedger);
    outbox.start();
    const notifier = new BufferedNotifier(options.webhooks ? new TeeNotifier(outbox, options.webhooks) : outbox, health, logger);
    const targets = reloadableTargetCheck(config.targetNetworks);
    const registry = createProberRegistry({ targets, trust: { ca: await readCaFiles(config), systemRoots: config.tls.systemRoots }, ping: { logger } });
    const executor = createExecutor({
      targets,
      resolveSecret: (ref) => resolveSecret(ref, config),
      consoleProfiles: config.consoleProfiles,
      logger,
      ...(config.sourceAddress ? { sourceAddress: config.sourceAddress } : {}),
    });
    const vantages = vantageBoardOf(config);
    const askBmc = bmcPowerAsker({ consoleProfiles: config.consoleProfiles, resolveSecret: (ref) => resolveSecret(ref, config), targets, deadlineMs: Math.min(policy.timeoutMs * 2, 20_000) });
    // A server's probe targets are made once per manifest (a new revision brings new documents)
    // and timeout, not again at every probe: 2,000 probes a second at 10,000 servers.
    const targetsOf = new WeakMap<ServerDocument, Partial<Record<ServiceName, ProbeTarget>>>();
    const probe = (doc: ServerDocument, service: ServiceName, signal?: AbortSignal): Promise<ProbeResult> => {
      let targets = targetsOf.get(doc);
      if (targets === undefined) targetsOf.set(doc, (targets = {}));
      let target = targets[service];
      if (target === undefined || target.timeoutMs !== policy.timeoutMs) targets[service] = target = probeTargetOf(doc, service, policy.timeoutMs, config.sourceAddress);
      return registry.probe(target, signal);
    };
    const controller = new Controller({
      policy,
      probe:
        vantages === undefined
          ? probe
          : async (doc, service, signal) => {
              const result = await probe(doc, service, signal);
              // A failing host's BMC is asked (at most once a retry interval): off is powered on at once, without quorum.
              if (service === 'ping' && !result.up) {
                const id = serverIdOf(doc);
                const asked = vantages.bmcAskedAt(id);
                if (asked === undefined || Date.now() - asked >= bmcAskPeriodMs(policy)) vantages.setBmc(id, await askBmc(doc, signal), Date.now());
              }
              return result;
            },
      ...(vantages !== undefined ? { vantages } : {}),
      executor,
      renderRunbook: (doc, target) => renderFrom(options.runbooks(), doc, target),
      notifier,
      store,
      stateWritable: () => health.writable,
      ...(options.coordinator ? { coordinator: options.coordinator } : {}),
      journal,
      logger,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.onPass ? { onPass: options.onPass } : {}),
      ...(options.onLate ? { onLate: options.onLate } : {}),
      probeConcurrency: config.probe.concurrency,
      remediationConcurrency: config.remediation.concurrency,
      ...(config.mail.operator ? { operatorEmail: config.mail.operator } : {}),
      managementNetworks: [...config.managementNetworks],
      ...(config.sourceAddress ? { sourceAddress: config.sourceAddress } : {}),
      certificates: { warningDays: [...config.tls.warningDays] },
      canaries: (config.massFailure.canaries ?? []).map((c) => ({ address: c.address, ...(c.service ? { service: c.service as ServiceName } : {}), ...(c.port ? { port: c.port } : {}) })),
      probeCanary: (c, signal) => registry.probe({ service: c.service ?? 'ping', address: c.address, timeoutMs: policy.timeoutMs, ...(c.port ? { port: c.port } : {}) }, signal),
    });
    // A takeover asks the host what a step left in doubt did (process start, boot time, the BMC).
    options.coordinator?.readHostsWith?.(
      hostFactReader({
        // The cluster's key of a server without a customer is `_/name`; the controller's id is the name.
        docOf: (id) => controller.documentOf(id) ?? (id.startsWith('_/') ? controller.documentOf(id.slice(2)) : undefined),
        resolveSecret: (ref) => resolveSecret(ref, config),
        targets,
        askBmc,
        deadlineMs: 15_000,
        ...(config.sourceAddress ? { sourceAddress: config.sourceAddress } : {}),
      }),
    );
    return { controller, vantages, policy, store, journal, records, outbox, notifier, health, targets };
  } catch (err) {
    health.stop();
    await outbox?.stop().catch(() => undefined);
    await journal.close().catch(() => undefined);
    throw err;
  }
}
