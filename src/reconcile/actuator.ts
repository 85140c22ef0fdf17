/**
 * The actuator: carries out decide's actions — journal first, act second. A batch's records are
 * written in one append (all or none) before anything of it happens; then transitions and
 * incidents become events and log lines, mass-failure scopes rewrite their servers' status files,
 * notifications go to the outbox, and run-runbook actions are handed to the remediations.
 */
import type { Notification } from '../notify/types.ts';
import { formatTarget } from '../probe/result.ts';
import { DEFAULT_PORTS, type TcpServiceName } from '../probe/types.ts';
import type { Transcript } from '../runbook/execution.ts';
import { appendAll, type JournalEntry } from '../status/journal.ts';
import { recordsOf } from './action-records.ts';
import { serviceOfTarget } from './decide-outcome.ts';
import type { ControllerEvent, LoopContext, RunbookRun } from './loop-types.ts';
import { CANARY_KEY, FLEET_KEY, scopeKey } from './mass-failure.ts';
import { certificateFindings, certificateNotifications, certificateSignature, DEFAULT_WARNING_DAYS } from './certificates.ts';
import type { ServerEntry } from './fleet-state.ts';
import { probeTargetOf } from './probe-target.ts';
import { buildIncidentNotification, buildMassFailureNotification, buildProviderNotification, buildVantageNotification } from './notifications.ts';
import { isFailingState } from './decide.ts';
import type { Action, Incident, ServerHistory } from './types.ts';
import type { ServiceName } from '../manifest/types.ts';

export interface ActuatorDeps {
  writeStatus(server: string): Promise<void>;
  /** Starts a runbook attempt in the background (remediations.ts). */
  launch(a: Extract<Action, { type: 'run-runbook' }>, pass?: number): Promise<RunbookRun>;
  /** The transcript of an incident's newest attempt, for its e-mail. */
  transcript(incidentId: string): Transcript | undefined;
  /** One message per fault per server (fault-side ToldCauses): false when another teller told it. */
  claimCause?(server: string, reason: string | undefined, teller: string): boolean;
  /** The incident closed: what it told may be told again. */
  releaseCauses?(server: string, teller: string): void;
}

export interface PerformOptions {
  /** Wait for the runbooks started (reconcileOnce). */
  awaitRemediation?: boolean;
  /** The records are already journaled by the caller (with the commit they belong to). */
  journaled?: boolean;
  /** The pass the actions come from (log lines carry it). */
  pass?: number;
}

export class Actuator {
  constructor(
    private readonly ctx: LoopContext,
    private readonly deps: ActuatorDeps,
  ) {}

  async journal(entry: JournalEntry): Promise<void> {
    try {
      await this.ctx.o.journal.append(entry);
    } catch (err) {
      this.ctx.o.logger.error({ err, type: entry.type }, 'journal append failed');
      throw err;
    }
  }

  /** Several records in one write: all in the journal, or none. */
  async journalBatch(entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await appendAll(this.ctx.o.journal, entries);
    } catch (err) {
      this.ctx.o.logger.error({ err, type: entries[0]?.type, records: entries.length }, 'journal append failed');
      throw err;
    }
  }

  emit(e: ControllerEvent): void {
    try {
      this.ctx.o.onEvent?.(e);
    } catch (err) {
      this.ctx.o.logger.warn({ err }, 'event sink threw');
    }
  }

  /**
   * Carries out decide's actions in order, after their records are journaled (one batch, written
   * here unless the caller already did: `journaled`).
   */
  async perform(name: string, actions: readonly Action[], now: number, options: PerformOptions = {}): Promise<Promise<RunbookRun>[]> {
    const { awaitRemediation = false, journaled = false, pass } = options;
    if (!journaled) await this.journalBatch(recordsOf(actions, (s) => this.ctx.fleet.historyOf(s), now));
    if (this.ctx.o.onActions !== undefined && actions.length > 0) this.ctx.o.onActions(name, actions);
    const runs: Promise<RunbookRun>[] = [];
    let statusChanged = false;
    for (const a of actions) {
      switch (a.type) {
        case 'probe-again-at':
          break;
        case 'transition': {
          const entry = this.ctx.fleet.servers.get(a.server);
          if (entry !== undefined) entry.lastTransition = { service: a.service, from: a.from, to: a.to, reason: a.reason, at: new Date(a.at).toISOString() };
          this.emit({ type: 'transition', server: a.server, service: a.service, from: a.from, to: a.to, reason: a.reason, at: a.at });
          if (a.from !== 'Unknown' || a.to !== 'Healthy') this.ctx.o.logger.info({ server: a.server, service: a.service, from: a.from, to: a.to, reason: a.reason, pass }, 'service state changed');
          statusChanged = true;
          break;
        }
        case 'open-incident':
          this.emit({ type: 'incident-opened', server: a.server, incidentId: a.incident.id, target: a.incident.target });
          statusChanged = true;
          break;
        case 'close-incident':
          this.deps.releaseCauses?.(a.server, a.incidentId);
          this.emit({ type: 'incident-closed', server: a.server, incidentId: a.incidentId, target: a.target, reason: a.reason });
          statusChanged = true;
          break;
        case 'escalate':
          this.ctx.o.logger.warn({ server: a.server, target: a.target, incident: a.incidentId, reason: a.reason, pass }, 'incident escalated');
          statusChanged = true;
          break;
        case 'hold-flapping':
          statusChanged = true;
          break;
        case 'quorum':
          // The vantages' judgement is shown in the status file (and the hold it set with it).
          statusChanged = true;
          break;
        case 'pause-for-mass-failure':
          this.ctx.o.logger.warn({ scope: a.episode.scope, down: a.episode.down, total: a.episode.total, pass }, 'remediation paused: mass failure');
          this.emit({ type: 'mass-failure-paused', episode: a.episode });
          this.refreshScope(scopeKey(a.episode.scope));
          statusChanged = true;
          break;
        case 'clear-mass-failure':
          this.ctx.o.logger.info({ scope: a.scope }, 'mass failure cleared');
          this.emit({ type: 'mass-failure-cleared', scope: a.scope });
          this.refreshScope(scopeKey(a.scope));
          statusChanged = true;
          break;
        case 'notify':
          await this.notify(a, now);
          break;
        case 'run-runbook': {
          const p = this.deps.launch(a, pass);
          runs.push(p);
          break;
        }
      }
    }
    if (statusChanged) await this.deps.writeStatus(name);
    if (awaitRemediation) await Promise.allSettled(runs);
    return runs;
  }

  /**
   * Every server of a scope that paused or cleared gets its status file rewritten (the condition
   * MassFailurePaused says why nothing is repaired), in the background and one at a time.
   */
  refreshScope(key: string): void {
    const names = [...this.ctx.fleet.servers.entries()].filter(([, e]) => key === FLEET_KEY || key === CANARY_KEY || e.groupKeys.includes(key)).map(([n]) => n);
    const run = async (): Promise<void> => {
      for (const n of names) if (!this.ctx.stopping()) await this.deps.writeStatus(n);
    };
    void this.ctx.track(run());
  }

  /**
   * Certificates are judged apart from the service's state (never a Down, never a runbook): a new
   * certificate, a crossed warning threshold or a new problem rewrites the status file (the
   * conditions) and hands the outbox its mail, whose ids make each once-only across restarts.
   */
  certificates(name: string, entry: ServerEntry, now: number): void {
    const observed = entry.observed;
    if (entry.certificates === undefined && (observed === undefined || !Object.values(observed).some((o) => o?.tls !== undefined))) return;
    const o = this.ctx.o;
    const findings = certificateFindings(entry.desired.services, observed, o.certificates ?? { warningDays: DEFAULT_WARNING_DAYS }, now);
    const signature = certificateSignature(findings);
    if (signature === entry.certificates) return;
    entry.certificates = signature;
    const doc = entry.doc;
    const target = (service: ServiceName): string => {
      const t = probeTargetOf(doc, service, 0);
      return formatTarget(t.address, t.port ?? DEFAULT_PORTS[service as TcpServiceName]);
    };
    const mail = certificateNotifications(doc, findings, target, now);
    void this.ctx.track(
      (async () => {
        await this.deps.writeStatus(name);
        for (const n of mail) {
          try {
            await o.notifier.notify(n);
          } catch (err) {
            o.logger.error({ err, id: n.id, kind: n.kind, server: name }, 'notification not queued');
          }
        }
      })(),
    );
  }

  private async notify(a: Extract<Action, { type: 'notify' }>, now: number): Promise<void> {
    let n: Notification | undefined;
    if (a.kind === 'mass-failure-paused') {
      const episode = [...this.ctx.fleet.episodes().values()].find((e) => a.id.endsWith(`:${e.since}`));
      if (this.ctx.o.operatorEmail === undefined || episode === undefined) {
        this.ctx.o.logger.warn({ id: a.id }, 'mass failure not e-mailed: no mail.operator configured');
        return;
      }
      n = buildMassFailureNotification(a.id, episode, this.ctx.o.operatorEmail, now);
    } else if (a.kind === 'vantage-lost' || a.kind === 'vantage-disagreement') {
      const entry = a.server !== undefined ? this.ctx.fleet.servers.get(a.server) : undefined;
      if (entry === undefined || a.target === undefined) return;
      if (this.ctx.o.operatorEmail === undefined) {
        this.ctx.o.logger.warn({ id: a.id, server: a.server }, 'vantage hold not e-mailed: no mail.operator configured');
        return;
      }
      const service = serviceOfTarget(a.target);
      const sh = this.ctx.fleet.historyOf(entry.desired.name)?.services[service];
      n = buildVantageNotification(a.kind, a.id, { doc: entry.doc, service, history: sh, operator: this.ctx.o.operatorEmail, now });
    } else {
      const entry = a.server !== undefined ? this.ctx.fleet.servers.get(a.server) : undefined;
      if (entry === undefined || a.target === undefined || a.incidentId === undefined) return;
      const service = serviceOfTarget(a.target);
      const sh = this.ctx.fleet.historyOf(entry.desired.name);
      const incident = findIncident(sh, service, a.incidentId);
      if (incident === undefined) return;
      const transcript = this.deps.transcript(a.incidentId);
      // The readiness check found this very fault first and told it: one message per cause per server.
      if (a.kind !== 'recovered' && this.deps.claimCause?.(entry.desired.name, a.reason, a.incidentId) === false) {
        this.ctx.o.logger.info({ id: a.id, server: a.server, kind: a.kind, reason: a.reason }, 'escalation not e-mailed: the readiness check told this cause');
        return;
      }
      if (a.kind === 'provider-fault' || a.kind === 'provider-working') {
        const failing = entry.desired.services.filter((s) => isFailingState(sh?.services[s]?.state ?? 'Unknown'));
        n = buildProviderNotification(a.kind, a.id, a.reason, { doc: entry.doc, incident, services: failing, operatorEmail: this.ctx.o.operatorEmail, ...(transcript !== undefined ? { transcript } : {}) });
        if (n === undefined) {
          this.ctx.o.logger.warn({ id: a.id, server: a.server }, 'provider fault not e-mailed: no mail.operator configured');
          return;
        }
        try {
          await this.ctx.o.notifier.notify(n);
        } catch (err) {
          this.ctx.o.logger.error({ err, id: a.id, kind: a.kind }, 'notification not queued');
        }
        return;
      }
      n = buildIncidentNotification(a.kind, a.id, a.reason, {
        doc: entry.doc,
        service,
        incident,
        history: sh?.services[service],
        now,
        managementNetworks: this.ctx.o.managementNetworks ?? [],
        ...(a.missingNetworks !== undefined ? { missingNetworks: a.missingNetworks } : {}),
        ...(transcript !== undefined ? { transcript } : {}),
        ...(this.ctx.o.sourceAddress !== undefined ? { sourceAddress: this.ctx.o.sourceAddress } : {}),
      });
    }
    try {
      await this.ctx.o.notifier.notify(n);
    } catch (err) {
      this.ctx.o.logger.error({ err, id: a.id, kind: a.kind }, 'notification not queued');
    }
  }
}

function findIncident(h: ServerHistory | undefined, service: ServiceName, id: string): Incident | undefined {
  const open = h?.services[service]?.incident;
  if (open?.id === id) return open;
  return h?.recent.find((i) => i.id === id);
}
