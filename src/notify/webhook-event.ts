/**
 * Webhook events: what an operator's chat or paging hook is told, as JSON. Pure: built from the
 * same facts the e-mails are built from (a Notification) or from the controller's own events, with
 * no secret, no server address and no command output in them — a chat channel is wider than a
 * customer's inbox. The event id is the idempotency key: derived from the notification's or the
 * incident's id, so a re-sent or re-derived event carries the same id and a receiver can drop it.
 */
import type { Notification, NotificationOf, ServerRef } from './types.ts';
import { splitServerId } from '../manifest/server-id.ts';

export const WEBHOOK_EVENT_TYPES = ['incident.opened', 'incident.escalated', 'incident.recovered', 'mass-failure.paused', 'revision.refused', 'revision.held'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The version of the payload's shape (bumped on an incompatible change). */
export const WEBHOOK_EVENT_VERSION = 1;

export interface WebhookEvent {
  version: typeof WEBHOOK_EVENT_VERSION;
  /** The idempotency key: the same event always has the same id (also the `webhook-id` header). */
  id: string;
  type: WebhookEventType;
  /** When the thing told happened (RFC 3339), not when it was sent. */
  occurredAt: string;
  server?: { name: string; customer: string };
  service?: string;
  incident?: { id: string; openedAt?: string };
  /** A one-line summary in English, for a chat message. */
  summary: string;
  /** The type's own facts. */
  data: Record<string, unknown>;
}

function serverOf(s: ServerRef | undefined): WebhookEvent['server'] | undefined {
  return s === undefined ? undefined : { name: s.name, customer: s.customer };
}

function base(n: Notification, id: string, type: WebhookEventType, summary: string, data: Record<string, unknown>): WebhookEvent {
  const e: WebhookEvent = { version: WEBHOOK_EVENT_VERSION, id, type, occurredAt: n.occurredAt, summary, data };
  const server = serverOf(n.server);
  if (server) e.server = server;
  if (n.service) e.service = n.service;
  if (n.incident) e.incident = { id: n.incident.id, openedAt: n.incident.openedAt };
  return e;
}

/** How the probe failed, without the target or the probe's words: both carry the server's address. */
function failureOf(f: NotificationOf<'recovered'>['facts']['failure']): Record<string, unknown> {
  return { kind: f.kind };
}

/** Bounded text from facts: a chat message is not a log. */
function clip(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The webhook event a notification is, or undefined for kinds that are not webhook events (the
 * customer's own mails: certificates, not-ready, reports, digests) and for copies addressed to a
 * customer of an operator event (change-refused). Mass failures come from the controller's event
 * (`massFailureEvent`), which holds with or without an operator's address.
 */
export function eventOfNotification(n: Notification): WebhookEvent | undefined {
  const where = n.server ? `${n.service ? `${n.service} on ` : ''}${n.server.name}` : '';
  switch (n.kind) {
    case 'recovered': {
      const f = n.facts;
      return base(n, `${n.id}`, 'incident.recovered', `${where} recovered${f.remedy.type === 'restart-service' ? ` (${f.remedy.unit} restarted)` : f.remedy.type === 'power-cycle' ? ' (power cycle)' : ''}`, {
        detectedAt: f.detectedAt,
        recoveredAt: f.recoveredAt,
        failure: failureOf(f.failure),
        remedy: f.remedy,
        ...(f.runbook !== undefined ? { runbook: f.runbook } : {}),
      });
    }
    case 'could-not-recover':
    case 'access-blocked': {
      const facts = n.kind === 'could-not-recover' ? n.facts : undefined;
      const reason = facts?.reason ?? 'access-blocked';
      return base(n, n.id, 'incident.escalated', `${where} escalated: ${reason}; a person is needed`, {
        reason,
        detectedAt: n.facts.detectedAt,
        failure: failureOf(n.kind === 'could-not-recover' ? n.facts.failure : n.facts.external),
        ...(facts ? { stateNow: { up: facts.stateNow.up, checkedAt: facts.stateNow.checkedAt }, remediationHeld: facts.remediationHeld } : {}),
        ...(facts?.runbook !== undefined ? { runbook: facts.runbook } : {}),
      });
    }
    case 'revision-refused':
      return base(n, n.id, 'revision.refused', `revision ${n.facts.revision.slice(0, 12)} refused (${n.facts.errors.length} error${n.facts.errors.length === 1 ? '' : 's'})`, {
        revision: n.facts.revision,
        ...(n.facts.keptRevision !== undefined ? { keptRevision: n.facts.keptRevision } : {}),
        errors: n.facts.errors.slice(0, 20).map((e) => ({ file: e.file, ...(e.line !== undefined ? { line: e.line } : {}), ...(e.field !== undefined ? { field: e.field } : {}), message: clip(e.message) })),
      });
    case 'revision-held':
      return base(n, n.id, 'revision.held', `revision ${n.facts.revision.slice(0, 12)} held: ${n.facts.reason}`, {
        revision: n.facts.revision,
        reason: n.facts.reason,
        message: clip(n.facts.message),
        affected: (n.facts.affected ?? []).slice(0, 50),
        ...(n.facts.keptRevision !== undefined ? { keptRevision: n.facts.keptRevision } : {}),
        ...(n.facts.releaseCommand !== undefined ? { releaseCommand: n.facts.releaseCommand } : {}),
      });
    default:
      return undefined;
  }
}

/** An incident the controller opened (journaled before it is told). */
export function incidentOpenedEvent(input: { server: string; customer?: string; service: string; incidentId: string; openedAt: string }): WebhookEvent {
  const e: WebhookEvent = {
    version: WEBHOOK_EVENT_VERSION,
    id: `${input.incidentId}:opened`,
    type: 'incident.opened',
    occurredAt: input.openedAt,
    service: input.service,
    incident: { id: input.incidentId, openedAt: input.openedAt },
    summary: `${input.service} on ${input.server} is down; incident ${input.incidentId} opened`,
    data: {},
  };
  // The controller names servers by id (customer/name); the event says the two apart.
  const { name } = splitServerId(input.server);
  if (input.customer !== undefined) e.server = { name, customer: input.customer };
  else e.data = { server: input.server };
  return e;
}

/** A mass failure paused remediation in a scope (one event per episode: the scope and its start). */
export function massFailureEvent(input: { scope: { kind: string; value: string }; since: number; down: number; total: number; servers: readonly string[] }): WebhookEvent {
  const since = new Date(input.since).toISOString();
  return {
    version: WEBHOOK_EVENT_VERSION,
    id: `mass-failure:${input.scope.kind}:${input.scope.value}:${input.since}`,
    type: 'mass-failure.paused',
    occurredAt: since,
    summary: `mass failure in ${input.scope.kind} ${input.scope.value}: ${input.down} of ${input.total} down; remediation paused`,
    data: { scope: { ...input.scope }, down: input.down, total: input.total, servers: input.servers.slice(0, 50) },
  };
}
