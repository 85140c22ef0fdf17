/**
 * The runbook transcripts the controller keeps: the one copy. Indexed two ways — by incident
 * (the could-not-recover mail quotes its incident's last transcript; forgotten when the incident
 * closes) and the latest few per server and service (what the status page shows, read through
 * the controller's view). Bounded: TRANSCRIPTS_PER_SERVICE per service, and servers that left
 * are dropped by retain(). Transcripts arrive already scrubbed by the executor.
 */
import type { Transcript } from '../runbook/execution.ts';

export const TRANSCRIPTS_PER_SERVICE = 3;

export class TranscriptLog {
  private readonly byIncident = new Map<string, Transcript>();
  /** server → service → latest transcripts, oldest first. */
  private readonly byServer = new Map<string, Map<string, Transcript[]>>();

  /**
   * The transcript of an incident's latest attempt, kept for its incident and among its service's
   * recent ones. `server` is the server's id (customer/name), the key the controller and the page
   * use; the transcript itself names the host by its bare name.
   */
  set(incidentId: string, t: Transcript, server = t.server): void {
    this.byIncident.set(incidentId, t);
    const services = this.byServer.get(server) ?? new Map<string, Transcript[]>();
    const list = services.get(t.service) ?? [];
    list.push(t);
    if (list.length > TRANSCRIPTS_PER_SERVICE) list.splice(0, list.length - TRANSCRIPTS_PER_SERVICE);
    services.set(t.service, list);
    this.byServer.set(server, services);
  }

  get(incidentId: string): Transcript | undefined {
    return this.byIncident.get(incidentId);
  }

  /** The incident closed: its index entry goes; the service's recent transcripts stay for the page. */
  delete(incidentId: string): void {
    this.byIncident.delete(incidentId);
  }

  /** The latest transcripts of one service, oldest first. */
  recent(server: string, service: string): readonly Transcript[] {
    return this.byServer.get(server)?.get(service) ?? [];
  }

  /** Drops what belongs to servers no longer watched. */
  retain(servers: ReadonlySet<string>): void {
    for (const server of [...this.byServer.keys()]) if (!servers.has(server)) this.byServer.delete(server);
    for (const [id, t] of [...this.byIncident]) if (!servers.has(t.server)) this.byIncident.delete(id);
  }
}
