import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { buildInfo } from '../package-info.ts';

/**
 * The daemon's Prometheus metrics. Cardinality is bounded by construction: labels are service
 * types, states and outcomes from fixed lists, server and service names from the manifests (one
 * series per server × service), and one revision at a time — never an incident id, an address or
 * an error string.
 */
export const SERVICE_STATES = ['Unknown', 'Healthy', 'Suspect', 'Down', 'Remediating', 'Recovered', 'Escalated'] as const;
export const REMEDIATION_OUTCOMES = ['recovered', 'failed', 'escalated', 'blocked', 'interrupted', 'skipped', 'other'] as const;
export const SYNC_RESULTS = ['ok', 'SourceUnavailable', 'RefMissing', 'ReadFailed'] as const;
const SERVICE_TYPES = new Set(['ping', 'http', 'https', 'ftp', 'ssh', 'telnet', 'smtp', 'pop3', 'imap', 'smtps', 'pop3s', 'imaps', 'host']);

function bounded(value: string, allowed: readonly string[] | ReadonlySet<string>, fallback = 'other'): string {
  const ok = Array.isArray(allowed) ? allowed.includes(value) : (allowed as ReadonlySet<string>).has(value);
  return ok ? value : fallback;
}

const PROBE_SUCCESS_HELP = "1 if the newest probe of the server's service passed, 0 if it failed (as blackbox_exporter's probe_success).";
const PROBE_LAST_HELP = "When the newest probe of the server's service ended (Unix time): alert when it stops moving.";
const SERVICE_STATE_HELP = 'The state of each server and service (1 on the current state).';

/** One server's per-service series, by service (a handful: a linear search). NaN: no probe series yet; undefined: no state series. */
interface ServerSeries {
  services: string[];
  success: number[];
  last: number[];
  state: Array<string | undefined>;
}

const PROBE_RESULTS_HELP = 'Probe results by service type and result (up, down, unknown).';
const PROBE_DURATION_HELP = 'Probe latency by service type (per type, not per server: bounded series).';
const PROBE_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RESULTS = ['up', 'down', 'unknown'] as const;

/** One service type's probe results (up, down, unknown) and latency histogram (counts per bucket, not cumulative). */
class TypeTally {
  readonly results = [0, 0, 0];
  readonly buckets = new Float64Array(PROBE_DURATION_BUCKETS.length);
  sum = 0;
  count = 0;
  constructor(readonly type: string) {}

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < PROBE_DURATION_BUCKETS.length; i++) {
      if (seconds <= (PROBE_DURATION_BUCKETS[i] as number)) {
        (this.buckets[i] as number)++;
        return;
      }
    }
  }
}

function serviceIndex(series: ServerSeries, service: string): number {
  const services = series.services;
  for (let k = 0; k < services.length; k++) if (services[k] === service) return k;
  services.push(service);
  series.success.push(Number.NaN);
  series.last.push(Number.NaN);
  series.state.push(undefined);
  return services.length - 1;
}

/** The text format's escapes (a label value: backslash, newline, double quote; HELP: the first two). */
function escapeLabelValue(value: string): string {
  return /[\\\n"]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

function familyHead(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}`;
}

/** What the gauges read at each scrape from the reconciler itself (never a copy kept from its events). */
export interface ReconcilerGauges {
  /** Incidents open now. */
  incidentsOpen(): number;
  /** Mass-failure episodes open now (remediation paused in their scope). */
  massFailureEpisodes(): number;
  /** Servers whose newest pass failed (retried with backoff). */
  passesFailing(): number;
  /** Servers nobody probes (removed, outside the target networks, no valid manifest), and why. */
  unmonitored(): ReadonlyArray<{ name: string; reason: string }>;
}

/** The state folder's health as the gauges read it (src/status/state-health.ts). */
export interface StateHealthGauges {
  readonly writable: boolean;
  status(): { failures: Partial<Record<string, number>>; unwritten: Record<string, number> };
}

export const STATE_WRITE_KINDS = ['journal', 'status', 'outbox', 'last-good', 'check'] as const;
export const UNWRITTEN_KINDS = ['status', 'notification'] as const;

/** The outbox as the gauges read it (src/notify/outbox.ts). */
/** What the replica's cluster layer shows (src/cluster/cluster.ts). */
export interface ClusterGauges {
  phase(): 'active' | 'draining' | 'fenced';
  membership: { members(): string[]; changes: number };
  claims: { counters: { claims: number; takeovers: number; fencingRefusals: number; limitRefusals: number } };
}

export interface OutboxGauges {
  deliveryStats(): { queued: number; oldestEnqueuedAt?: number; sent: number; failed: number };
}

/**
 * prom-client's defaults that break Prometheus' naming rules (`promtool check metrics`: a gauge
 * must not end in _total); `nodejs_active_handles` and `nodejs_active_requests` say the same.
 */
const NONCONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface CertificateExpiry {
  server: string;
  service: string;
  notAfterMs: number;
}

/** Servers of a per-server family written between two pauses of a scrape's answer. */
const SERVERS_A_PIECE = 500;

export class MamoriMetrics {
  readonly registry = new Registry();
  private readonly remediations: Counter<'service_type' | 'outcome'>;
  private readonly remediationDuration: Histogram<'service_type' | 'outcome'>;
  /**
   * The per server and service families (mamori_probe_success, mamori_probe_last_timestamp_seconds,
   * mamori_service_state: 60,000 series each at 10,000 servers × 6 services), kept here by server
   * and rendered at scrape time (perServerText): prom-client's gauges hashed the labels, and made
   * a new object for the series, on every probe, and formatted 180,000 label sets a scrape.
   */
  private readonly perServer = new Map<string, ServerSeries>();
  /**
   * mamori_probe_results_total and mamori_probe_duration_seconds, counted here per service type
   * (the bounded list, and `other`) and written at scrape time: prom-client hashed the labels and
   * made a closure and objects at every count (a third of the bytes a result allocated).
   */
  private readonly tallies = new Map<string, TypeTally>();
  private outbox: OutboxGauges | undefined;
  private cluster: ClusterGauges | undefined;
  private readonly incidentsOpened: Counter<'service_type'>;
  private readonly incidentsOpen: Gauge;
  private readonly massFailurePaused: Gauge;
  private readonly revisionInfo: Gauge<'revision'>;
  private readonly syncs: Counter<'result'>;
  private readonly syncErrors: Counter<'reason'>;
  private readonly lastSyncSuccess: Gauge;
  private readonly revisionHeld: Gauge;
  private readonly revisionRefused: Gauge;
  private readonly serversDesired: Gauge;
  private readonly serversManifestInvalid: Gauge;
  private certificateSource: (() => Iterable<CertificateExpiry>) | undefined;
  private revision: string | undefined;
  private reconciler: ReconcilerGauges | undefined;
  private stateHealth: StateHealthGauges | undefined;
  private readonly passFailures: Counter;
  private readonly passDuration: Histogram;
  private readonly lateness: Histogram;
  private readonly interval: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) {
      // Unprefixed: process_cpu_seconds_total, process_resident_memory_bytes… as every exporter names them.
      collectDefaultMetrics({ register: this.registry });
      for (const name of NONCONFORMING_DEFAULTS) this.registry.removeSingleMetric(name);
    }
    const build = buildInfo();
    new Gauge({ name: 'mamori_build_info', help: "mamori's version, the commit it was built from, and Node's version (value 1).", labelNames: ['version', 'revision', 'flavour', 'nodeversion'], registers }).set(
      { version: build.version, revision: build.revision, flavour: build.flavour, nodeversion: build.node },
      1,
    );
    this.remediations = new Counter({ name: 'mamori_remediations_total', help: 'Runbook runs by service type and outcome.', labelNames: ['service_type', 'outcome'], registers });
    this.remediationDuration = new Histogram({
      name: 'mamori_remediation_duration_seconds',
      help: 'How long runbook runs took, by service type and outcome.',
      labelNames: ['service_type', 'outcome'],
      buckets: [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
    const outbox = (): OutboxGauges | undefined => this.outbox;
    const cluster = (): ClusterGauges | undefined => this.cluster;
    new Gauge({
      name: 'mamori_cluster_members',
      help: 'Live replicas as this one sees them (0 without cluster in the config).',
      registers,
      collect() {
        this.set(cluster()?.membership.members().length ?? 0);
      },
    });
    new Gauge({
      name: 'mamori_cluster_lease_fresh',
      help: "1 while this replica holds a fresh lease (may remediate); 0 while draining or fenced (etcd not confirmed): probing goes on, no runbook starts.",
      registers,
      collect() {
        const c = cluster();
        this.set(c === undefined || c.phase() === 'active' ? 1 : 0);
      },
    });
    const clusterCounter = (name: string, help: string, read: (c: ClusterGauges) => number): void => {
      let last = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const c = cluster();
          const now = c === undefined ? last : read(c);
          if (now > last) this.inc(now - last);
          last = now;
        },
      });
    };
    clusterCounter('mamori_cluster_membership_changes_total', 'Membership changes this replica saw (joins and leaves).', (c) => c.membership.changes);
    clusterCounter('mamori_cluster_claims_total', 'Incident claims this replica took in etcd.', (c) => c.claims.counters.claims);
    clusterCounter('mamori_cluster_takeovers_total', "Claims that continued another replica's incident.", (c) => c.claims.counters.takeovers);
    clusterCounter('mamori_cluster_fencing_refusals_total', 'Steps refused because the claim or the lease was no longer fresh (fencing).', (c) => c.claims.counters.fencingRefusals);
    clusterCounter('mamori_cluster_limit_refusals_total', 'Steps refused by the fleet-wide limits judged in etcd (budgets, power rate, mass failure).', (c) => c.claims.counters.limitRefusals);
    new Gauge({
      name: 'mamori_outbox_queued',
      help: 'E-mails waiting in the outbox (pending, retried or folded into a digest not yet sent).',
      registers,
      collect() {
        this.set(outbox()?.deliveryStats().queued ?? 0);
      },
    });
    const now = (): number => Date.now();
    new Gauge({
      name: 'mamori_outbox_oldest_age_seconds',
      help: 'Age of the oldest e-mail not yet delivered (0 when none waits): the mail relay is down when it grows.',
      registers,
      collect() {
        const at = outbox()?.deliveryStats().oldestEnqueuedAt;
        this.set(at === undefined ? 0 : Math.max(0, (now() - at) / 1000));
      },
    });
    new Counter({
      name: 'mamori_outbox_sent_total',
      help: 'E-mails delivered to the relay (or written as files) since the start.',
      registers,
      collect() {
        this.reset();
        this.inc(outbox()?.deliveryStats().sent ?? 0);
      },
    });
    new Counter({
      name: 'mamori_outbox_failed_total',
      help: 'E-mails given up since the start (refused for good, or older than the retry limit).',
      registers,
      collect() {
        this.reset();
        this.inc(outbox()?.deliveryStats().failed ?? 0);
      },
    });
    this.incidentsOpened = new Counter({ name: 'mamori_incidents_opened_total', help: 'Incidents opened, by service type (host for a host incident).', labelNames: ['service_type'], registers });
    const reconciler = (): ReconcilerGauges | undefined => this.reconciler;
    this.incidentsOpen = new Gauge({
      name: 'mamori_incidents_open',
      help: 'Incidents open now.',
      registers,
      collect() {
        const r = reconciler();
        if (r !== undefined) this.set(r.incidentsOpen());
      },
    });
    this.massFailurePaused = new Gauge({
      name: 'mamori_mass_failure_paused',
      help: '1 while remediation is paused because many servers failed at once.',
      registers,
      collect() {
        const r = reconciler();
        if (r !== undefined) this.set(r.massFailureEpisodes() > 0 ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mamori_servers_pass_failing',
      help: 'Servers whose newest reconcile pass failed (a journal append, a bug); each is retried with backoff.',
      registers,
      collect() {
        const r = reconciler();
        this.set(r !== undefined ? r.passesFailing() : 0);
      },
    });
    const health = (): StateHealthGauges | undefined => this.stateHealth;
    new Gauge({
      name: 'mamori_state_writable',
      help: '1 while the state folder can be written; 0 on a full disk or I/O errors (probing goes on, no runbook starts).',
      registers,
      collect() {
        this.set(health()?.writable === false ? 0 : 1);
      },
    });
    new Gauge({
      name: 'mamori_state_write_failures',
      help: 'Failed writes to the state folder since the start, by kind (journal, status, outbox, last-good, check).',
      labelNames: ['kind'],
      registers,
      collect() {
        const failures = health()?.status().failures ?? {};
        for (const kind of STATE_WRITE_KINDS) this.set({ kind }, failures[kind] ?? 0);
      },
    });
    new Gauge({
      name: 'mamori_state_unwritten',
      help: 'Changes waiting in memory because the state folder cannot be written: lost if the daemon died now.',
      labelNames: ['kind'],
      registers,
      collect() {
        const unwritten = health()?.status().unwritten ?? {};
        for (const kind of UNWRITTEN_KINDS) this.set({ kind }, unwritten[kind] ?? 0);
      },
    });
    new Gauge({
      name: 'mamori_server_not_monitored',
      help: '1 for each server that has a status file but that nobody probes, by reason (Removed, OutsideTargetNetworks, ManifestInvalid, NotInDesiredState).',
      labelNames: ['server', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const u of reconciler()?.unmonitored() ?? []) this.set({ server: u.name, reason: u.reason }, 1);
      },
    });
    this.passFailures = new Counter({ name: 'mamori_reconcile_pass_failures_total', help: 'Reconcile passes of a server that failed (each retried with backoff).', registers });
    this.passDuration = new Histogram({
      name: 'mamori_reconcile_pass_duration_seconds',
      help: "A server's reconcile pass, from its first probe to its decision committed and carried out (runbooks run on in the background).",
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.lateness = new Histogram({
      name: 'mamori_probe_lateness_seconds',
      help: "How late each server's probes started against the time the schedule planned for them (jitter included): timers and a busy event loop show here first.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.interval = new Gauge({
      name: 'mamori_probe_interval_seconds',
      help: 'The probe interval in force: mode "auto" (probe.intervalSeconds: auto, recomputed as the fleet changes; limited_by says which bound decided it) or "fixed".',
      labelNames: ['mode', 'limited_by'],
      registers,
    });
    this.revisionInfo = new Gauge({ name: 'mamori_source_revision_info', help: 'The applied manifests revision (value 1).', labelNames: ['revision'], registers });
    this.syncs = new Counter({ name: 'mamori_source_syncs_total', help: 'Source syncs by result.', labelNames: ['result'], registers });
    this.syncErrors = new Counter({ name: 'mamori_source_sync_errors_total', help: 'Failed source syncs by reason.', labelNames: ['reason'], registers });
    this.lastSyncSuccess = new Gauge({ name: 'mamori_source_last_success_timestamp_seconds', help: 'When the source was last synced successfully (Unix time).', registers });
    this.revisionHeld = new Gauge({ name: 'mamori_source_revision_held', help: '1 while a revision waits for an operator to confirm it.', registers });
    this.revisionRefused = new Gauge({ name: 'mamori_source_revision_refused', help: '1 while the newest revision is refused (unsigned, untrusted, operator documents invalid).', registers });
    this.serversDesired = new Gauge({ name: 'mamori_servers_desired', help: 'Servers in the applied desired state.', registers });
    this.serversManifestInvalid = new Gauge({ name: 'mamori_servers_manifest_invalid', help: 'Servers kept on a last-known-good manifest because their new one is invalid.', registers });
    for (const result of SYNC_RESULTS) this.syncs.inc({ result }, 0);
    const source = (): (() => Iterable<CertificateExpiry>) | undefined => this.certificateSource;
    new Gauge({
      name: 'mamori_tls_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the certificate each TLS probe (https, smtps, pop3s, imaps, STARTTLS) saw last (Unix time).',
      labelNames: ['server', 'service'],
      registers,
      // Read from the owner's state at scrape time: a server or certificate that went away leaves no series.
      collect(): void {
        this.reset();
        const read = source();
        if (read === undefined) return;
        for (const c of read()) this.set({ server: c.server, service: c.service }, Math.floor(c.notAfterMs / 1000));
      },
    });
  }

  /** Where the certificate gauge reads from (the reconciler's newest observations). */
  setCertificateSource(read: () => Iterable<CertificateExpiry>): void {
    this.certificateSource = read;
  }

  /** A probe's result; with `server`, its per-target series (an unknown result — no verdict — leaves them as they were). */
  probeResult(serviceType: string, up: boolean | 'unknown', latencyMs: number, server?: string): void {
    let tally = this.tallies.get(serviceType);
    if (tally === undefined) {
      // Bounded: the service types by name, anything else as `other` (never kept by its own name).
      const type = bounded(serviceType, SERVICE_TYPES);
      tally = this.tallies.get(type);
      if (tally === undefined) this.tallies.set(type, (tally = new TypeTally(type)));
    }
    (tally.results[up === 'unknown' ? 2 : up ? 0 : 1] as number)++;
    tally.observe(Math.max(0, latencyMs) / 1000);
    if (server === undefined || up === 'unknown') return;
    const series = this.seriesOf(server);
    const k = serviceIndex(series, serviceType);
    series.success[k] = up ? 1 : 0;
    series.last[k] = Date.now() / 1000;
  }

  private seriesOf(server: string): ServerSeries {
    let series = this.perServer.get(server);
    if (series === undefined) this.perServer.set(server, (series = { services: [], success: [], last: [], state: [] }));
    return series;
  }

  readCluster(source: ClusterGauges): void {
    this.cluster = source;
  }

  /** Where the outbox gauges read from. */
  readOutbox(source: OutboxGauges): void {
    this.outbox = source;
  }

  serviceStateChanged(server: string, service: string, state: string): void {
    const series = this.seriesOf(server);
    series.state[serviceIndex(series, service)] = bounded(state, SERVICE_STATES, 'Unknown');
  }

  /** A server left the desired state: its series go with it. */
  serverRemoved(server: string): void {
    this.perServer.delete(server);
  }

  remediation(serviceType: string, outcome: string, durationMs?: number): void {
    const labels = { service_type: bounded(serviceType, SERVICE_TYPES), outcome: bounded(outcome, REMEDIATION_OUTCOMES) };
    this.remediations.inc(labels);
    if (durationMs !== undefined) this.remediationDuration.observe(labels, Math.max(0, durationMs) / 1000);
  }

  incidentOpened(serviceType: string): void {
    this.incidentsOpened.inc({ service_type: bounded(serviceType, SERVICE_TYPES) });
  }

  /** The reconciler whose state the gauges read at each scrape. */
  readReconciler(source: ReconcilerGauges): void {
    this.reconciler = source;
  }

  readStateHealth(source: StateHealthGauges): void {
    this.stateHealth = source;
  }

  passFailed(): void {
    this.passFailures.inc();
  }

  probeInterval(seconds: number, mode: 'auto' | 'fixed', limitedBy: string): void {
    this.interval.reset();
    this.interval.set({ mode, limited_by: limitedBy }, seconds);
  }

  passLate(lateMs: number): void {
    this.lateness.observe(Math.max(0, lateMs) / 1000);
  }

  passEnded(durationMs: number): void {
    this.passDuration.observe(Math.max(0, durationMs) / 1000);
  }

  syncResult(result: string): void {
    const r = bounded(result, SYNC_RESULTS, 'ReadFailed');
    this.syncs.inc({ result: r });
    if (r === 'ok') this.lastSyncSuccess.set(Date.now() / 1000);
    else this.syncErrors.inc({ reason: r });
  }

  desiredState(state: { revision?: string; servers: number; manifestInvalid: number; held: boolean; refused: boolean }): void {
    if (state.revision !== this.revision) {
      this.revisionInfo.reset();
      if (state.revision) this.revisionInfo.set({ revision: state.revision }, 1);
      this.revision = state.revision;
    }
    this.serversDesired.set(state.servers);
    this.serversManifestInvalid.set(state.manifestInvalid);
    this.revisionHeld.set(state.held ? 1 : 0);
    this.revisionRefused.set(state.refused ? 1 : 0);
  }

  async text(): Promise<string> {
    return [...(await this.pieces())].filter((p) => p !== null).join('');
  }

  /**
   * The exposition in pieces, `null` where a writer may pause (every SERVERS_A_PIECE servers of a
   * per-server family): 12 MB at 10,000 servers, written without holding the event loop for it.
   */
  async pieces(): Promise<Iterable<string | null>> {
    const head = await this.registry.metrics();
    return (function* (own: Iterable<string | null>) {
      yield `${head}\n`;
      yield* own;
    })(this.ownPieces());
  }

  /**
   * The families kept here, in the text format as prom-client wrote them (each family's HELP and
   * TYPE even with no series; series in the order they first appeared).
   */
  private *ownPieces(): Generator<string | null> {
    const results: string[] = [familyHead('mamori_probe_results_total', PROBE_RESULTS_HELP, 'counter')];
    const duration: string[] = [familyHead('mamori_probe_duration_seconds', PROBE_DURATION_HELP, 'histogram')];
    for (const t of this.tallies.values()) {
      const type = escapeLabelValue(t.type);
      for (let r = 0; r < RESULTS.length; r++) if ((t.results[r] as number) > 0) results.push(`mamori_probe_results_total{service_type="${type}",result="${RESULTS[r]}"} ${t.results[r] as number}`);
      let below = 0;
      for (let i = 0; i < PROBE_DURATION_BUCKETS.length; i++) {
        below += t.buckets[i] as number;
        duration.push(`mamori_probe_duration_seconds_bucket{le="${PROBE_DURATION_BUCKETS[i] as number}",service_type="${type}"} ${below}`);
      }
      duration.push(`mamori_probe_duration_seconds_bucket{le="+Inf",service_type="${type}"} ${t.count}`, `mamori_probe_duration_seconds_sum{service_type="${type}"} ${t.sum}`, `mamori_probe_duration_seconds_count{service_type="${type}"} ${t.count}`);
    }
    yield `${results.join('\n')}\n\n`;
    yield* this.perServerFamily(familyHead('mamori_probe_success', PROBE_SUCCESS_HELP, 'gauge'), (labels, series, k) => {
      const up = series.success[k] as number;
      return Number.isNaN(up) ? undefined : `mamori_probe_success${labels}} ${up}`;
    });
    yield '\n\n';
    yield* this.perServerFamily(familyHead('mamori_probe_last_timestamp_seconds', PROBE_LAST_HELP, 'gauge'), (labels, series, k) =>
      Number.isNaN(series.success[k] as number) ? undefined : `mamori_probe_last_timestamp_seconds${labels}} ${series.last[k] as number}`,
    );
    yield `\n\n${duration.join('\n')}\n\n`;
    yield* this.perServerFamily(familyHead('mamori_service_state', SERVICE_STATE_HELP, 'gauge'), (labels, series, k) => {
      const st = series.state[k];
      return st === undefined ? undefined : `mamori_service_state${labels},state="${st}"} 1`;
    });
    yield '\n';
  }

  /** One per-server family: its head, then a line for each server and service that has one (labels without the closing brace). */
  private *perServerFamily(head: string, line: (labels: string, series: ServerSeries, k: number) => string | undefined): Generator<string | null> {
    yield head;
    let n = 0;
    let lines: string[] = [];
    for (const [server, series] of this.perServer) {
      const s = escapeLabelValue(server);
      for (let k = 0; k < series.services.length; k++) {
        const l = line(`{server="${s}",service="${escapeLabelValue(series.services[k] as string)}"`, series, k);
        if (l !== undefined) lines.push(l);
      }
      if (++n % SERVERS_A_PIECE === 0) {
        if (lines.length > 0) yield `\n${lines.join('\n')}`;
        lines = [];
        yield null;
      }
    }
    if (lines.length > 0) yield `\n${lines.join('\n')}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
