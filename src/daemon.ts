/**
 * `mamori run`: wiring only. config → logger → lock → status/journal → notifier → controller →
 * source → desired state → HTTP. Each part is built and tested where it lives; this file decides
 * the order they start and stop in, and what a signal means.
 */
import { lookupServer, serverIdOf } from './manifest/server-id.ts';
import { join } from 'node:path';
import { loadConfig } from './config/load-config.ts';
import type { MamoriConfig, SigningConfig } from './config/types.ts';
import { isMamoriError, MamoriError } from './errors.ts';
import { MamoriMetrics } from './http/metrics.ts';
import { PageLiveState } from './http/page/live-state.ts';
import { registerStatusPage } from './http/page/status-page.ts';
import { UptimeSource } from './http/page/uptime-source.ts';
import { isLoopbackHost, tokenTableOf } from './http/auth.ts';
import { registerJournalRoute, registerReportRoute } from './http/report-route.ts';
import { agentTargetsOf } from './reconcile/agent-targets.ts';
import { registerAgentRoutes } from './http/agent-routes.ts';
import type { VantageBoard } from './reconcile/vantage-board.ts';
import { HttpServer, parseListen, type DaemonApi, type ReadyState } from './http/server.ts';
import { loadServerTls, logServedCertificate, TlsReloader, type ServerTls } from './http/tls-files.ts';
import { createLogger, type Logger } from './log.ts';
import { SHIPPED_OPERATOR_DIR, readManifestTree } from './manifest/read-tree.ts';
import type { ManifestSet, ServerDocument, ServiceName } from './manifest/types.ts';
import { FileCheckCache, validateDocuments } from './manifest/validate-documents.ts';
import { AlertmanagerClient, type AlertState } from './notify/alertmanager.ts';
import { alertsOfStatus, daemonAlerts, isAlertingState } from './notify/alerts-of-status.ts';
import type { Outbox } from './notify/outbox.ts';
import { incidentOpenedEvent, massFailureEvent, type WebhookEvent } from './notify/webhook-event.ts';
import { webhookEndpointsOf } from './notify/webhook-endpoints.ts';
import { WebhookOutbox } from './notify/webhook-outbox.ts';
import { buildInfo } from './package-info.ts';
import type { Notification, Notifier } from './notify/types.ts';
import type { StateHealth } from './status/state-health.ts';
import { CoverageRecorder, desiredReportServerOf, monitoredServerOf } from './report/coverage-recorder.ts';
import type { Controller, ControllerEvent, ControllerSnapshot, ResumeResult } from './reconcile/controller.ts';
import type { Policy } from './reconcile/types.ts';
import { policyOf, wireReconciler } from './reconcile/wiring.ts';
import { startReadiness, type ReadinessWiring } from './reconcile/readiness-wiring.ts';
import { startCluster } from './cluster/start.ts';
import type { Cluster } from './cluster/cluster.ts';
import { notifyLedgers, type NotifyLedgers } from './cluster/notify-wiring.ts';
import type { LedgerPayload } from './notify/send-ledger.ts';
import { RETENTION_MS_DEFAULT, SMTP_TIMEOUT_MS_DEFAULT } from './notify/options.ts';
import { mergeFleetStatus } from './cluster/status-merge.ts';
import { publishOnEvent } from './cluster/status-board.ts';
import { StatusPublisher } from './cluster/status-publisher.ts';
import { serverKey } from './reconcile/coordinator.ts';
import type { ClusterCoordinator } from './cluster/remediation-coordinator.ts';
import { ReplicaRouter } from './daemon/replica-routing.ts';
import { manifestChecks, runbookSelector } from './runbook/manifest-hooks.ts';
import { DEFAULT_PARSE_BUDGET_MS, ShellParserPool } from './runbook/shell-parser-pool.ts';
import { checkSecretsFolder } from './secrets/check-secrets-folder.ts';
import { resolveSecret } from './secrets/resolve-secret.ts';
import { tellRevisionProblem } from './daemon/revision-notices.ts';
import { DesiredState, type AppliedServer } from './source/desired.ts';
import { LastGoodStore } from './source/last-good.ts';
import { outsideTargets, TargetNetworks } from './source/target-filter.ts';
import { FolderSource } from './source/folder.ts';
import { credentialsFromSecret } from './source/git-credentials.ts';
import { GitSource } from './source/git.ts';
import { SourceSyncer } from './source/syncer.ts';
import type { Source, SourceFile } from './source/types.ts';
import { StatusWriteBack } from './source/write-back.ts';
import type { Journal } from './status/journal.ts';
import { acquireStateLock, type StateLock } from './status/lock.ts';
import { prepareStateFolder } from './status/state-format.ts';
import { statusDirOf } from './status/store.ts';
import { autoInterval, autoPowerWaitSeconds, type AutoInterval } from './config/auto-interval.ts';

export interface DaemonOptions {
  /** The config file; the embedded defaults without one. */
  configPath?: string;
  /** `--manifests DIR`: a folder source at DIR, whatever the config says. */
  manifestsDir?: string;
  cwd?: string;
  /** How long in-flight runbooks get to reach a safe point on SIGTERM (ms). */
  stopDeadlineMs?: number;
  /** Tests: where the JSON log lines go. */
  logDestination?: NodeJS.WritableStream;
  /** Time for one customer runbook's commands to be parsed by the review (ms); over it, the runbook is refused. */
  policyParseBudgetMs?: number;
}

export interface ReloadResult {
  applied: boolean;
  changed: string[];
  /** Settings that take effect only after a restart (the source, the HTTP listener, the state folder). */
  restartRequired: string[];
  error?: string;
}

/** The config with `--manifests` applied: a folder source at that folder. */
async function loadEffectiveConfig(options: DaemonOptions): Promise<MamoriConfig> {
  const config = await loadConfig(options.configPath, { cwd: options.cwd });
  if (options.manifestsDir === undefined) return config;
  const { resolve } = await import('node:path');
  const path = resolve(options.cwd ?? process.cwd(), options.manifestsDir);
  const debounceMs = config.source.type === 'folder' ? config.source.debounceMs : 300;
  return Object.freeze({ ...config, source: Object.freeze({ type: 'folder' as const, path, debounceMs }) });
}

function remediationOutcome(verdict: string): string {
  if (verdict === 'Recovered') return 'recovered';
  if (verdict === 'Interrupted') return 'interrupted';
  if (verdict === 'RemoteAccessBlocked' || verdict === 'HostUnreachable') return 'blocked';
  if (verdict === 'Escalated') return 'escalated';
  return 'failed';
}

function summariseFindings(server: AppliedServer): string {
  const findings = server.condition?.findings ?? [];
  const first = findings[0];
  const where = first ? `${first.file}:${first.line}:${first.col}: ${first.field ? `${first.field}: ` : ''}${first.message}` : 'invalid';
  return `revision ${server.condition?.revision.slice(0, 12) ?? '?'} refused for this server (${findings.length} finding${findings.length === 1 ? '' : 's'}; ${where}); running on ${server.revision.slice(0, 12)}`;
}

export class Daemon {
  private readonly options: DaemonOptions;
  config: MamoriConfig;
  readonly logger: Logger;
  readonly metrics = new MamoriMetrics();
  /** The status page's memory: latency rings, recent transcripts, live listeners. */
  readonly page = new PageLiveState();
  /** Journals when mamori watched what, for the monthly report. */
  private coverage: CoverageRecorder | undefined;
  private readonly policy: Policy;
  private lock: StateLock | undefined;
  private journal: Journal | undefined;
  private outbox: Outbox | undefined;
  private notifier: Notifier | undefined;
  private health: StateHealth | undefined;
  private alertmanager: AlertmanagerClient | undefined;
  private webhooks: WebhookOutbox | undefined;
  private cluster: Cluster | undefined;
  private ledgers: NotifyLedgers | undefined;
  /** With replicas and a status branch: the elected publisher (src/cluster/status-publisher.ts). */
  private publisher: StatusPublisher | undefined;
  private coordinator: ClusterCoordinator | undefined;
  /** Replicas: resume to the owner, reconcile --once and confirm to every replica (replica-routing.ts). */
  private router: ReplicaRouter | undefined;
  controller: Controller | undefined;
  private vantages: VantageBoard | undefined;
  /** The scheduled readiness check (config readiness). */
  readiness: ReadinessWiring | undefined;
  private monitoredDocs: ServerDocument[] = [];
  source: Source | undefined;
  desired: DesiredState | undefined;
  syncer: SourceSyncer | undefined;
  writeBack: StatusWriteBack | undefined;
  http: HttpServer | undefined;
  /** Re-reads http.tls's certificate and key (every minute, and on SIGHUP). */
  private tlsReloader: TlsReloader | undefined;
  private readonly startedAt = new Date().toISOString();
  private configLoadedAt = new Date().toISOString();
  /** The applied revision's runbooks, for rendering (per revision: a last-known-good server keeps its own). */
  private readonly sets = new Map<string, ManifestSet>();
  private currentSet: ManifestSet | undefined;
  private desiredNames = new Set<string>();
  /** The interval `probe.intervalSeconds: auto` computed for the applied fleet (undefined with a fixed one). */
  private autoInterval: AutoInterval | undefined;
  /** Probes a round of the applied fleet (a service of a server is one probe). */
  private probesPerRound = 0;
  /** The probe settings in force (a reload sets them before it re-applies the fleet). */
  private probeConfig: MamoriConfig['probe'];
  /** The target networks applied to the desired state (a reload that would drop too many is held). */
  private readonly targets: TargetNetworks;
  private stopping: Promise<void> | undefined;
  /** Parses customers' commands for the review, off the main thread and under a time budget. */
  private readonly shellParser: ShellParserPool;
  /** Each manifest file's own checks, kept from the last revision: a commit re-reads only the files it changed. */
  private readonly fileChecks = new FileCheckCache();

  private constructor(options: DaemonOptions, config: MamoriConfig, logger: Logger) {
    this.options = options;
    this.config = config;
    this.logger = logger;
    this.policy = policyOf(config);
    this.probeConfig = config.probe;
    this.shellParser = new ShellParserPool({ budgetMs: options.policyParseBudgetMs ?? DEFAULT_PARSE_BUDGET_MS, logger });
    this.targets = new TargetNetworks(config.targetNetworks);
  }

  static async start(options: DaemonOptions = {}): Promise<Daemon> {
    const config = await loadEffectiveConfig(options);
    const logger = createLogger({
      level: config.log.level,
      pretty: options.logDestination ? false : (config.log.pretty ?? Boolean(process.stdout.isTTY)),
      destination: options.logDestination,
    });
    const daemon = new Daemon(options, config, logger);
    try {
      await daemon.boot();
    } catch (err) {
      await daemon.shutdown('start failed').catch(() => undefined);
      throw err;
    }
    return daemon;
  }

  private async boot(): Promise<void> {
    const { config, logger } = this;
    await checkSecretsFolder(config.secretsDir);
    if (process.getuid?.() === 0) logger.info('running as root; mamori needs root only for drivers that require it (ICMP without capabilities)');
    this.lock = await acquireStateLock(config.stateDir, { purpose: 'run', logger });
    // Before anything reads the folder: an older layout is migrated (a copy kept), a newer one refused.
    await prepareStateFolder(config.stateDir, { logger });

    // Replicas: the cluster is joined before the first pass (or keeps trying while probing goes on).
    const cluster = config.cluster !== undefined ? await startCluster(config.cluster, this.policy, logger) : undefined;
    this.cluster = cluster?.cluster;
    // Replicas: one send per notification (and per webhook delivery) across them, recorded in etcd.
    this.ledgers =
      cluster !== undefined
        ? notifyLedgers(cluster.cluster, { mailSendMs: 3 * SMTP_TIMEOUT_MS_DEFAULT, webhookSendMs: Math.max(0, ...config.alerting.webhooks.map((w) => w.timeoutSeconds * 1000)), retentionMs: RETENTION_MS_DEFAULT }, logger)
        : undefined;
    this.webhooks = await this.openWebhooks(config, logger);
    this.coordinator = cluster?.coordinator;
    if (cluster !== undefined) this.router = this.replicaRouter(cluster.cluster, config, logger);
    const { controller, vantages, journal, records, outbox, notifier, health, targets } = await wireReconciler(config, {
      logger,
      ...(this.webhooks ? { webhooks: this.webhooks } : {}),
      ...(cluster !== undefined ? { coordinator: cluster.coordinator } : {}),
      ...(this.ledgers !== undefined ? { mailLedger: this.ledgers.mail } : {}),
      policy: this.policy,
      // Per revision: a server on its last-known-good manifest keeps that revision's runbooks.
      runbooks: () => this.currentSet?.runbooks ?? new Map(),
      onEvent: (e) => this.onControllerEvent(e),
      onPass: (p) => this.metrics.passEnded(p.durationMs),
      onLate: (ms) => this.metrics.passLate(ms),
    });
    this.journal = journal;
    this.outbox = outbox;
    const webhooks = this.webhooks;
    this.ledgers?.start({
      mail: (payload) => outbox.adopt(payload.notification as Notification),
      ...(webhooks !== undefined ? { webhook: (payload: LedgerPayload) => webhooks.adopt(payload) } : {}),
    });
    this.notifier = notifier;
    this.health = health;
    this.metrics.readStateHealth(health);
    this.metrics.readOutbox(outbox);
    this.controller = controller;
    this.vantages = vantages;
    cluster?.cluster.membership.onChange(() => {
      controller.ownershipChanged();
      this.page.changed('ownership');
    });
    // Another owner's status arrived: the page and its listeners show the whole fleet.
    cluster?.cluster.statusBoard.onChange((_key, status) => (status !== undefined ? this.page.changed('status-written', undefined, serverIdOf(status)) : this.page.changed('status-written')));
    if (cluster !== undefined) this.metrics.readCluster(cluster.cluster);
    // Gauges read the controller's own state at each scrape (right after a restart, too).
    this.metrics.readReconciler(controller.gauges);
    this.metrics.setCertificateSource(() => controller.certificateExpiries());
    this.coverage = new CoverageRecorder({ journal, logger, ...(cluster !== undefined ? { replica: cluster.cluster.options.replica } : {}) });
    await this.coverage.start();
    // Replicas: which servers this one watches, journaled whenever it changes (the monthly report's coverage).
    cluster?.cluster.membership.onChange(() => this.recordShard());

    const source = await this.buildSource();
    this.source = source;
    const desired = new DesiredState({
      validate: (files, revision) => this.validate(files, revision),
      sink: { setDesired: (revision, servers) => this.applyDesired(revision, servers) },
      // No archiver: a removed server's status file stays and says it is not monitored (the
      // controller archives it after a retention).
      holds: { ...config.holds },
      logger,
      // A server invalid at start keeps being watched from the manifest it last had valid.
      lastGood: new LastGoodStore({ stateDir: config.stateDir, logger, onWriteError: (err) => health.failed('last-good', err) }),
      // The source reports a refused or held revision as data; the mails and events are built here.
      onProblem: (problem) =>
        tellRevisionProblem(
          problem,
          { operatorEmail: config.mail.operator, operatorEventsWithoutEmail: this.webhooks !== undefined, source: source.description },
          (n) => this.notifier?.notify(n) ?? Promise.resolve(),
          logger,
        ),
    });
    this.desired = desired;
    this.syncer = new SourceSyncer({
      source,
      desired,
      logger,
      ...(config.source.type === 'git' ? { pollMs: config.source.pollSeconds * 1000 } : {}),
      backoff: { initialMs: 1000, maxMs: 300_000 },
      onReport: (r) => {
        this.metrics.syncResult(r.ok ? 'ok' : (r.reason ?? 'ReadFailed'));
        this.updateDesiredMetrics();
      },
    });

    // HTTP first, so /healthz answers while the first sync runs; /readyz says when it is done.
    // The agents' tokens join the table (scope agent) unless http.tokens already lists them.
    const listed = new Set(config.http.tokens.map((t) => t.secretRef));
    const agentTokens = (config.vantages?.agents ?? []).filter((a) => !listed.has(a.token.secretRef)).map((a) => ({ scope: 'agent' as const, secretRef: a.token.secretRef }));
    const tokens = await tokenTableOf({ ...config.http, tokens: [...config.http.tokens, ...agentTokens] }, (ref) => resolveSecret(ref, config));
    const agents = new Map<string, { vantage: string; token: string }>();
    for (const a of config.vantages?.agents ?? []) agents.set(a.token.secretRef, { vantage: a.name, token: await resolveSecret(a.token, config) });
    const webhookSecret = config.http.webhookSecret ? await resolveSecret(config.http.webhookSecret, config) : undefined;
    // HTTPS: a bad pair stops the start here, naming the config file and the field.
    const tlsFiles = config.http.tls !== undefined ? { ...config.http.tls, configFile: config.configFile } : undefined;
    const tls: ServerTls | undefined = tlsFiles !== undefined ? await loadServerTls(tlsFiles) : undefined;
    if (tls !== undefined) logServedCertificate(logger, tls, Date.now(), 'https certificate');
    else if ((config.vantages?.agents.length ?? 0) > 0 && !isLoopbackHost(parseListen(config.http.listen).host) && config.http.publicHosts.length === 0) {
      logger.warn({ listen: config.http.listen }, 'agent reports cross the network in clear text: configure http.tls (or a TLS proxy in front, with http.publicHosts)');
    }
    this.http = new HttpServer({
      listen: config.http.listen,
      ...(tls !== undefined ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      tokens,
      publicHosts: config.http.publicHosts,
      socket: { path: config.http.socket, mode: config.http.socketMode },
      webhookSecret,
      api: this.api(),
      metrics: this.metrics,
      logger,
    });
    const uptime = new UptimeSource({ stateDir: config.stateDir, timeZone: config.mail.timeZone, logger });
    registerStatusPage(this.http, {
      live: this.page,
      snapshot: () => this.fleetSnapshot(),
      transcripts: (server, service) => this.controller?.transcripts.recent(server, service) ?? [],
      desired: () => this.desired?.status(),
      source: () => this.syncer?.status(),
      logger,
      timeZone: config.mail.timeZone,
      uptime: (server, service) => uptime.history(server, service),
    });
    registerAgentRoutes(this.http, {
      board: vantages,
      agents,
      targets: () => agentTargetsOf((this.desired?.appliedServers() ?? []).map((s) => s.document.doc).filter((d) => controller.watching(serverIdOf(d))), this.policy),
      watched: (server) => controller.watching(server),
      now: () => Date.now(),
      logger,
    });
    const router = this.router;
    registerReportRoute(this.http, {
      stateDir: config.stateDir,
      timeZone: config.mail.timeZone,
      servers: () => this.desired?.appliedServers().map((s) => desiredReportServerOf(s.document.doc)) ?? [],
      // Replicas: every live replica's journal counts (each accounts for the servers it watched).
      ...(router !== undefined ? { peerJournals: () => router.peerJournals() } : {}),
    });
    registerJournalRoute(this.http, { stateDir: config.stateDir });
    await this.http.start();
    if (tls !== undefined && tlsFiles !== undefined) {
      const http = this.http;
      this.tlsReloader = new TlsReloader({ files: tlsFiles, current: tls, apply: (next) => http.setTls(next), logger });
      this.tlsReloader.start();
    }

    await this.syncer.start();
    this.updateDesiredMetrics();
    await controller.start(records);
    // Each probed server's status file is written by its first pass (within the first round);
    // here only the files of servers nobody probes, in the background.
    void controller.writeStartStatus();
    if (config.readiness.enabled) {
      this.readiness = startReadiness(config, { controller, notifier, targets, runbooks: () => this.currentSet?.runbooks ?? new Map(), logger });
      this.readiness.loop.setServers(this.monitoredDocs);
    }
    // An incident journaled just before a crash was perhaps never told: tell what is open (a no-op for what was).
    await this.announceOpenIncidents();
    this.startAlertmanager(config, logger);

    if (config.statusWriteBack && source instanceof GitSource && config.source.type === 'git') {
      // With replicas one elected publisher commits what the owners published in etcd; alone, the
      // replica commits its own status folder.
      const publisher = this.cluster !== undefined ? new StatusPublisher(this.cluster, logger.child({ component: 'status-publisher' }), () => this.desired?.appliedRevision) : undefined;
      this.publisher = publisher;
      this.writeBack = new StatusWriteBack({
        source,
        url: config.source.url,
        branch: config.statusWriteBack.branch,
        statusDir: publisher !== undefined ? await publisher.folder() : statusDirOf(config.stateDir),
        intervalMs: config.statusWriteBack.intervalSeconds * 1000,
        logger,
        revision: () => this.desired?.appliedRevision,
        ...(publisher !== undefined ? { hooks: publisher.hooks } : {}),
      });
      publisher?.start();
      this.writeBack.start();
    }
    logger.info({ source: source.description, revision: desired.appliedRevision, servers: desired.status().servers }, 'mamori running');
  }

  private async buildSource(): Promise<Source> {
    const { config, logger } = this;
    const s = config.source;
    if (s.type === 'folder') {
      return new FolderSource({ root: s.path, debounceMs: s.debounceMs, logger, ...(config.operatorDir ? { operatorDir: config.operatorDir } : {}) });
    }
    const credentials = s.credentials ? credentialsFromSecret(await resolveSecret(s.credentials, config)) : undefined;
    const source = new GitSource({
      url: s.url,
      ref: s.ref,
      path: s.path,
      cacheDir: s.cacheDir,
      ...(credentials ? { credentials } : {}),
      ...(config.signing ? { signing: structuredClone(config.signing) as SigningConfig } : {}),
      logger,
    });
    // Bad keys stop the start here (MAMORI_SIGNING_KEYS names the field), not at the first sync.
    if (config.signing) await source.setSigning(structuredClone(config.signing) as SigningConfig);
    return source;
  }

  /** The loader on a revision's files; operator documents from operatorDir, else the revision's, else mamori's own. */
  private async validate(files: SourceFile[], revision: string): Promise<ManifestSet> {
    let all = files;
    const operatorDir = this.config.operatorDir ?? (files.some((f) => f.path.startsWith('operator/')) ? undefined : SHIPPED_OPERATOR_DIR);
    if (operatorDir !== undefined && this.source?.kind === 'git') {
      const tree = await readManifestTree(join(operatorDir, '..', '.mamori-no-customers'), { operatorDir });
      all = [...files.filter((f) => !f.path.startsWith('operator/')), ...tree.files];
    }
    const checks = await manifestChecks(all, this.shellParser);
    // The target networks applied (a held reload's new ones wait for mamori confirm, here too).
    const config = { ...this.config, targetNetworks: [...this.targets.current.networks] } as MamoriConfig;
    const set = validateDocuments(all, { config, selectRunbook: runbookSelector, checks, cache: this.fileChecks });
    this.sets.set(revision, set);
    // Keep the sets a last-known-good server may still need, and a few more.
    if (this.sets.size > 8) {
      const keep = new Set([revision, ...(this.desired?.appliedServers().map((s) => s.revision) ?? [])]);
      for (const key of [...this.sets.keys()]) if (!keep.has(key) && this.sets.size > 8) this.sets.delete(key);
    }
    return set;
  }

  private applyDesired(revision: string, servers: readonly AppliedServer[]): void {
    this.currentSet = this.sets.get(revision);
    const manifestInvalid = new Map<string, string>();
    for (const s of servers) if (s.condition) manifestInvalid.set(s.name, summariseFindings(s));
    // Never probed: servers outside the target networks (a last-good manifest from before they
    // were narrowed, a reload). Their status says so.
    const outside = outsideTargets(servers, this.targets.current);
    const notMonitored = new Map([...outside].map(([name, o]) => [name, { reason: 'OutsideTargetNetworks' as const, message: o.message, ...(o.customer !== undefined ? { customer: o.customer } : {}) }]));
    this.probesPerRound = 0;
    for (const s of servers) if (!outside.has(s.name)) this.probesPerRound += s.document.doc.spec.services.length;
    this.applyInterval();
    this.monitoredDocs = servers.filter((s) => !outside.has(s.name)).map((s) => s.document.doc);
    this.controller?.setDesired(revision, this.monitoredDocs, { manifestInvalid, notMonitored });
    // A server gone from the desired state: its owner deletes what it published.
    this.cluster?.statusBoard.retain(new Set(this.monitoredDocs.map((d) => serverKey(serverIdOf(d), undefined))));
    this.readiness?.loop.setServers(this.monitoredDocs);
    const names = new Set(servers.map((s) => s.name));
    this.coverage?.desired(revision, servers.map((s) => monitoredServerOf(s.document.doc)));
    this.recordShard();
    this.page.retain(names);
    this.controller?.transcripts.retain(names);
    for (const name of this.desiredNames) if (!names.has(name)) this.metrics.serverRemoved(name);
    this.desiredNames = names;
  }

  /**
   * `probe.intervalSeconds: auto`: the interval (and the power wait, kept above its floor) for the
   * fleet as it is now, set in the policy the controller holds before it schedules the new fleet.
   */
  private applyInterval(): void {
    const auto = this.probeConfig.auto;
    if (auto === undefined) {
      this.autoInterval = undefined;
      this.metrics.probeInterval(this.probeConfig.intervalSeconds, 'fixed', 'fixed');
      return;
    }
    const next = autoInterval(this.probesPerRound, auto);
    const before = this.autoInterval;
    this.autoInterval = next;
    this.policy.intervalMs = next.seconds * 1000;
    this.policy.destructiveWaitMs = autoPowerWaitSeconds(next.seconds, auto, auto.explicitPowerWaitSeconds) * 1000;
    this.metrics.probeInterval(next.seconds, 'auto', next.limitedBy);
    if (before?.seconds !== next.seconds || before.limitedBy !== next.limitedBy) {
      this.logger.info({ intervalSeconds: next.seconds, limitedBy: next.limitedBy, probesPerRound: next.probesPerRound, budgetPerSecond: next.budgetPerSecond, powerWaitSeconds: this.policy.destructiveWaitMs / 1000 }, 'probe interval computed');
    }
  }

  private onControllerEvent(e: ControllerEvent): void {
    this.page.onEvent(e);
    if (this.cluster !== undefined && this.controller !== undefined) publishOnEvent(this.cluster.statusBoard, (server) => this.controller?.statusOf(server), e);
    // A transition into a failing state hands over what holds for its server right now: a repair
    // faster than the alerts' rounds must still reach Alertmanager (firing, then resolved). Only
    // those: a fleet's start is 60,000 transitions to Healthy, each a status computed for nothing.
    if (e.type !== 'probe' && this.alertmanager !== undefined) this.alertmanager.nudge(e.type === 'transition' && isAlertingState(e.to) ? this.alertsOfServer(e.server) : []);
    const m = this.metrics;
    switch (e.type) {
      case 'probe':
        m.probeResult(e.result.service, e.unknown ? 'unknown' : e.result.up, e.result.latencyMs, e.server);
        break;
      case 'transition':
        m.serviceStateChanged(e.server, e.service, e.to);
        break;
      case 'incident-opened':
        m.incidentOpened(e.target);
        this.tellWebhooks(incidentOpenedEvent({ server: e.server, ...this.customerOf(e.server), service: e.target === 'host' ? 'ping' : e.target, incidentId: e.incidentId, openedAt: new Date().toISOString() }));
        break;
      case 'mass-failure-paused':
        this.tellWebhooks(massFailureEvent(e.episode));
        break;
      case 'pass-failed':
        m.passFailed();
        break;
      case 'remediation-finished':
        m.remediation(e.target, remediationOutcome(e.verdict), e.durationMs);
        break;
      default:
        break;
    }
  }

  /** The reconciler's view; with replicas the whole fleet: this replica's servers live, the others as their owners published them. */
  private fleetSnapshot(): ControllerSnapshot | undefined {
    const snap = this.controller?.status();
    const cluster = this.cluster;
    if (snap === undefined || cluster === undefined) return snap;
    const merged = mergeFleetStatus({ self: cluster.options.replica, local: snap.servers, ownerOf: (key) => cluster.membership.ownerOf(key), published: cluster.statusBoard });
    return { ...snap, servers: merged.servers };
  }

  private clusterStatus(): Record<string, unknown> | undefined {
    const cluster = this.cluster;
    if (cluster === undefined) return undefined;
    const board = cluster.statusBoard;
    return {
      replica: cluster.options.replica,
      phase: cluster.phase(),
      members: cluster.membership.members(),
      status: { published: board.size, revision: board.revision, writes: { ...board.counters } },
      ...(this.publisher !== undefined ? { publisher: this.publisher.status() } : {}),
    };
  }

  private updateDesiredMetrics(): void {
    const d = this.desired?.status();
    if (!d) return;
    this.metrics.desiredState({
      revision: d.revision,
      servers: d.servers,
      manifestInvalid: Object.keys(d.manifestInvalid).length,
      held: d.held !== undefined || this.targets.held !== undefined,
      refused: d.refused !== undefined,
    });
  }

  /** The webhook outbox (config alerting.webhooks), started; none without endpoints. Secrets that do not resolve stop the start. */
  private async openWebhooks(config: MamoriConfig, logger: Logger): Promise<WebhookOutbox | undefined> {
    if (config.alerting.webhooks.length === 0) return undefined;
    const endpoints = await webhookEndpointsOf(config.alerting.webhooks, (ref) => resolveSecret(ref, config), config.configFile);
    const outbox = await WebhookOutbox.open(
      { dir: join(config.stateDir, 'outbox', 'webhooks'), endpoints, userAgent: `mamori/${buildInfo().version}` },
      { logger, ...(this.ledgers !== undefined ? { ledger: this.ledgers.webhook } : {}) },
    );
    outbox.start();
    return outbox;
  }

  private customerOf(server: string): { customer?: string } {
    const customer = this.desired?.appliedServers().find((s) => s.name === server)?.document.doc.metadata.customer;
    return customer !== undefined ? { customer } : {};
  }

  /** Queues an event the controller told (its record is journaled already); a failure is logged, the next start re-derives open incidents. */
  private tellWebhooks(event: WebhookEvent): void {
    if (this.webhooks === undefined) return;
    this.webhooks.enqueue(event).catch((err: unknown) => this.logger.error({ err, event: event.id, type: event.type }, 'webhook event not queued'));
  }

  private async announceOpenIncidents(): Promise<void> {
    if (this.webhooks === undefined) return;
    for (const s of this.controller?.status().servers ?? []) {
      for (const incident of s.incidents.open) {
        const event = incidentOpenedEvent({ server: s.metadata.name, ...(s.metadata.customer !== undefined ? { customer: s.metadata.customer } : {}), service: incident.service, incidentId: incident.id, openedAt: incident.openedAt });
        await this.webhooks.enqueue(event).catch((err: unknown) => this.logger.error({ err, event: event.id }, 'webhook event not queued'));
      }
    }
  }

  /** The alerts that hold for one server now (its status as the controller computes it). */
  private alertsOfServer(server: string): AlertState[] {
    const status = this.controller?.statusOf(server);
    return status !== undefined ? alertsOfStatus([status]) : [];
  }

  /** Level-based alerts from the controller's own view (and the state folder's health), when configured. */
  private startAlertmanager(config: MamoriConfig, logger: Logger): void {
    const am = config.alerting.alertmanager;
    if (am === undefined) return;
    this.alertmanager = new AlertmanagerClient({
      urls: am.urls,
      resendMs: am.resendSeconds * 1000,
      timeoutMs: am.timeoutSeconds * 1000,
      logger: logger.child({ component: 'alertmanager' }),
      collect: () => [
        ...alertsOfStatus(this.controller?.status().servers ?? []),
        ...daemonAlerts({ stateWritable: this.health?.writable ?? true, since: this.health?.status().condition.lastTransitionTime ?? new Date().toISOString() }),
      ],
    });
    this.alertmanager.start();
  }

  ready(): ReadyState {
    const checks = {
      sourceSynced: this.syncer?.status().synced ?? false,
      lockHeld: this.lock !== undefined,
      stopping: this.stopping !== undefined,
      // A full or failing state folder: probing goes on, but nothing is journaled and no runbook starts.
      stateWritable: this.health?.writable ?? true,
      // Replicas: without a fresh lease in etcd probing goes on, no runbook starts.
      ...(this.cluster !== undefined ? { clusterLease: this.cluster.canRemediate() } : {}),
    };
    return { ready: checks.sourceSynced && checks.lockHeld && !checks.stopping && checks.stateWritable && checks.clusterLease !== false, checks };
  }

  status(): Record<string, unknown> {
    const c = this.config;
    return {
      daemon: {
        pid: process.pid,
        startedAt: this.startedAt,
        configFile: c.configFile ?? null,
        configLoadedAt: this.configLoadedAt,
        logLevel: this.logger.level,
        probe: c.probe,
        probeInterval: this.autoInterval !== undefined
          ? { mode: 'auto', ...this.autoInterval, powerWaitSeconds: this.policy.destructiveWaitMs / 1000 }
          : { mode: 'fixed', seconds: c.probe.intervalSeconds, probesPerRound: this.probesPerRound, powerWaitSeconds: this.policy.destructiveWaitMs / 1000 },
        remediation: c.remediation,
        holds: c.holds,
        source: c.source.type === 'git' ? { type: 'git', ref: c.source.ref, path: c.source.path, pollSeconds: c.source.pollSeconds } : { type: 'folder', path: c.source.path },
        ready: this.ready(),
      },
      state: this.health?.status(),
      source: this.syncer?.status(),
      desired: this.desired?.status(),
      targetNetworks: { applied: this.targets.current.networks, ...(this.targets.held !== undefined ? { held: this.targets.held } : {}) },
      writeBack: this.writeBack?.status(),
      ...(this.webhooks ? { webhooks: this.webhooks.stats() } : {}),
      reconciler: this.fleetSnapshot(),
      ...(this.cluster !== undefined ? { cluster: this.clusterStatus() } : {}),
      ...(this.vantages !== undefined ? { vantages: this.vantages.status(Date.now()) } : {}),
    };
  }

  private api(): DaemonApi {
    return {
      ready: () => this.ready(),
      status: () => this.status(),
      fleet: () => ({ snapshot: this.fleetSnapshot(), desired: this.desired?.status() }),
      resume: async (server, service, origin = {}) => {
        const controller = this.controller;
        if (!controller) throw new MamoriError('MAMORI_CLI_USAGE', 'the reconciler is not running');
        // customer/name, or a bare name that one customer alone has (every replica applies the same servers).
        const found = lookupServer(server, this.monitoredDocs.map(serverIdOf));
        if (!found.ok) throw new MamoriError('MAMORI_CLI_USAGE', found.message);
        const svc = service as ServiceName | undefined;
        const local = async (): Promise<ResumeResult> => {
          const r = await controller.resume(found.id, svc);
          if (r.resumed.length > 0) await this.coordinator?.resumed(found.id, undefined, r.resumed);
          return r;
        };
        return this.router !== undefined ? this.router.resume(found.id, svc, origin, local) : local();
      },
      reconcile: async ({ dryRun }, origin = {}) => {
        const controller = this.controller;
        if (!controller) throw new MamoriError('MAMORI_CLI_USAGE', 'the reconciler is not running');
        const cluster = this.cluster;
        if (cluster === undefined || this.router === undefined) return controller.reconcileOnce({ dryRun });
        // Each replica its own shard; the router asks the others and adds their summaries.
        return this.router.reconcile(dryRun, origin, () => controller.reconcileOnce({ dryRun, only: (id) => cluster.owns(serverKey(id, undefined)) }));
      },
      confirm: async (revision, origin = {}) => {
        const local = async (): Promise<{ result: string; revision: string }> => {
          if (revision.startsWith('targets-')) return this.confirmTargets(revision);
          if (!this.syncer) throw new MamoriError('MAMORI_DAEMON_NOT_HELD', 'no source is running');
          const outcome = await this.syncer.confirm(revision);
          this.updateDesiredMetrics();
          return outcome;
        };
        return this.router !== undefined ? this.router.confirm(revision, origin, local) : local();
      },
      syncNow: () => {
        void this.syncer?.trigger('webhook');
      },
    };
  }

  /** The router's view of the cluster, and this replica's operator token for a socket client's forwards. */
  private replicaRouter(cluster: Cluster, config: MamoriConfig, logger: Logger): ReplicaRouter {
    const membership = cluster.membership;
    return new ReplicaRouter({
      cluster: {
        replica: membership.replica,
        ownerOf: (id) => membership.ownerOf(serverKey(id, undefined)),
        peers: () => membership.members().filter((r) => r !== membership.replica).map((r) => ({ replica: r, api: membership.member(r)?.api ?? '' })),
        apiOf: (r) => membership.member(r)?.api,
      },
      operatorToken: async () => {
        const ref = this.config.http.token ?? this.config.http.tokens.find((t) => t.scope === 'operator');
        return ref === undefined ? undefined : resolveSecret({ secretRef: ref.secretRef }, config).catch(() => undefined);
      },
      logger: logger.child({ component: 'cluster' }),
    });
  }

  /** Replicas: the servers this replica watches now (its shard), journaled for the monthly report. */
  private recordShard(): void {
    const cluster = this.cluster;
    if (cluster === undefined || this.coverage === undefined) return;
    const owned = this.monitoredDocs.map(serverIdOf).filter((id) => cluster.owns(serverKey(id, undefined)));
    this.coverage.shard(cluster.membership.members(), owned);
  }

  /** `mamori confirm targets-…`: the held target networks apply now. */
  private confirmTargets(id: string): { result: 'applied'; revision: string } {
    const held = this.targets.held;
    if (held === undefined || !this.targets.confirm(id)) {
      throw new MamoriError('MAMORI_DAEMON_NOT_HELD', `${id} is not waiting for confirmation`, { details: { revision: id, held: held?.id } });
    }
    this.logger.warn({ id: held.id, affected: held.affected.length }, 'held target networks confirmed');
    this.reapplyDesired();
    this.updateDesiredMetrics();
    return { result: 'applied', revision: held.id };
  }

  /** The applied desired state again (new target networks or probe numbers): every server re-checked at once. */
  private reapplyDesired(): void {
    if (this.desired?.appliedRevision !== undefined) this.applyDesired(this.desired.appliedRevision, this.desired.appliedServers());
  }

  /** SIGHUP: load and validate the config again; a bad one is refused and the running one kept. */
  async reload(): Promise<ReloadResult> {
    const log = this.logger;
    let next: MamoriConfig;
    try {
      next = await loadEffectiveConfig(this.options);
      await checkSecretsFolder(next.secretsDir);
    } catch (err) {
      const error = isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
      log.error({ err }, 'config reload refused; the running config is kept');
      return { applied: false, changed: [], restartRequired: [], error };
    }
    const before = this.config;
    // Keys are read again on every reload (a keyring file may change under the same config): a key
    // removed is refused from the next revision on. Bad keys refuse the reload; the old ones stay.
    let signingChanged = false;
    if (this.source instanceof GitSource) {
      try {
        await this.source.setSigning(next.signing ? (structuredClone(next.signing) as SigningConfig) : undefined);
        signingChanged = JSON.stringify(next.signing) !== JSON.stringify(before.signing);
      } catch (err) {
        const error = isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
        log.error({ err }, 'config reload refused; the running config is kept');
        return { applied: false, changed: [], restartRequired: [], error };
      }
    }
    const changed: string[] = [];
    const restartRequired: string[] = [];
    const differs = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b);
    if (next.log.level !== before.log.level) {
      this.logger.level = next.log.level;
      changed.push('log.level');
    }
    for (const key of ['probe', 'remediation', 'massFailure'] as const) if (differs(next[key], before[key])) changed.push(key);
    // The controller holds this object: new numbers apply from its next scheduling decision.
    Object.assign(this.policy, policyOf(next));
    this.probeConfig = next.probe;
    this.applyInterval();
    let reapply = changed.includes('probe');
    if (differs(next.targetNetworks, before.targetNetworks) || this.targets.held !== undefined) {
      // Every applied server is judged against the new networks at once: the excluded ones stop
      // being probed now — unless that would drop more than holds.maxRemovedFraction of the fleet.
      const outcome = this.targets.propose(next.targetNetworks, this.desired?.appliedServers() ?? [], next.holds.maxRemovedFraction);
      if (outcome.result === 'applied') {
        changed.push('targetNetworks');
        reapply = true;
        if (outcome.excluded.length > 0) log.warn({ excluded: outcome.excluded.length }, 'servers outside the new target networks are no longer probed');
      } else if (outcome.result === 'held') {
        changed.push('targetNetworks (held)');
        log.warn({ id: outcome.held.id, affected: outcome.held.affected.length, message: outcome.held.message }, 'target networks change held until an operator confirms it');
      }
      this.updateDesiredMetrics();
    }
    // Re-apply the same desired state: every server is scheduled again now, on the new interval,
    // instead of waiting out the old one, and judged against the target networks.
    if (reapply) this.reapplyDesired();
    if (differs(next.holds, before.holds)) {
      this.desired?.setHolds({ ...next.holds });
      changed.push('holds');
    }
    if (next.source.type === 'git' && before.source.type === 'git' && next.source.pollSeconds !== before.source.pollSeconds) {
      this.syncer?.setPollMs(next.source.pollSeconds * 1000);
      changed.push('source.pollSeconds');
    }
    const sourceIdentity = (c: MamoriConfig): unknown => (c.source.type === 'git' ? { ...c.source, pollSeconds: 0 } : c.source);
    if (differs(sourceIdentity(next), sourceIdentity(before))) restartRequired.push('source');
    if (differs(next.http, before.http)) restartRequired.push('http');
    // The same certificate files: read again now (a renewal is served without waiting for the minute).
    else if (this.tlsReloader !== undefined && (await this.tlsReloader.check()) === 'reloaded') changed.push('http.tls (certificate renewed)');
    // The semaphores are sized once, when the reconciler is built.
    if (next.probe.concurrency !== before.probe.concurrency) restartRequired.push('probe.concurrency');
    if (next.remediation.concurrency !== before.remediation.concurrency) restartRequired.push('remediation.concurrency');
    if (next.stateDir !== before.stateDir) restartRequired.push('stateDir');
    if (signingChanged) changed.push('signing');
    if (differs(next.statusWriteBack, before.statusWriteBack)) restartRequired.push('statusWriteBack');
    if (differs(next.mail, before.mail)) restartRequired.push('mail');
    if (differs(next.alerting, before.alerting)) restartRequired.push('alerting');
    this.config = next;
    this.configLoadedAt = new Date().toISOString();
    log.info({ changed, restartRequired }, 'config reloaded');
    if (restartRequired.length > 0) log.warn({ restartRequired }, 'some settings take effect only after a restart');
    return { applied: true, changed, restartRequired };
  }

  /**
   * SIGTERM: stop taking revisions and scheduling; in-flight runbooks get the deadline to reach a
   * safe point (the controller journals the rest interrupted); flush status and mail; release the lock.
   */
  stop(reason = 'stop requested'): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    const log = this.logger;
    log.info({ reason }, 'mamori stopping');
    const step = async (what: string, fn: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log.warn({ err, step: what }, 'shutdown step failed');
      }
    };
    await step('source', () => this.syncer?.stop());
    await step('write-back timer', () => this.writeBack?.stop());
    await step('alertmanager', () => this.alertmanager?.stop());
    await step('readiness', () => this.readiness?.stop());
    await step('reconciler', () => this.controller?.stop({ deadlineMs: this.options.stopDeadlineMs ?? 10_000 }));
    await step('status', () => this.controller?.writeAllStatus());
    if (this.ledgers !== undefined) {
      // Replicas: nothing is sent once the lease is given back; the servers' new owners take over
      // what is still queued (its holder keys go with the lease). A second stop below is a no-op.
      await step('send ledgers', () => this.ledgers?.stop());
      await step('outbox', () => this.outbox?.stop());
      await step('webhooks', () => this.webhooks?.stop());
    }
    // With replicas: the last statuses published, committed by this replica if it is the publisher,
    // then the election given up so that another replica publishes from now on.
    await step('published status', () => this.cluster?.statusBoard.flush(5000));
    await step('write-back', () => (this.writeBack ? withTimeout(this.writeBack.flush(), 10_000) : undefined));
    await step('status publisher', () => this.publisher?.stop());
    await step('cluster', () => this.cluster?.stop());
    await step('waiting writes', () => this.health?.flushAll());
    this.health?.stop();
    const unwritten = this.health?.unwrittenTotal() ?? 0;
    if (unwritten > 0) log.error({ unwritten }, 'state changes lost at stop: the state folder could not be written');
    await step('outbox', () => this.outbox?.stop());
    await step('webhooks', () => this.webhooks?.stop());
    await step('coverage', () => this.coverage?.stop());
    await step('journal', () => this.journal?.close());
    this.tlsReloader?.stop();
    await step('http', () => this.http?.close());
    await step('policy parser', () => this.shellParser.close());
    this.page.close();
    await step('lock', () => this.lock?.release());
    this.lock = undefined;
    log.info('mamori stopped');
    await new Promise<void>((resolve) => this.logger.flush(() => resolve()));
  }
}


function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())]);
}
