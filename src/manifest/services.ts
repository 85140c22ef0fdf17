/**
 * A server's services, as written (`http` or `{ https: { path: /health } }`), read as one list.
 * The one place that reads spec.services: every caller (validation, the reconciler's desired state
 * and probe targets, runbook rendering, the CLI, coverage records, plan) goes through here, so a
 * default (ssh's port is spec.access.port) is applied the same way everywhere.
 */
import type { ServerDocument, ServiceName } from './types.ts';
import { SERVICE_NAMES } from './types.ts';
import type { ServiceOptions } from './generated/server.ts';

export interface SubscribedService {
  name: ServiceName;
  options: NonNullable<ServiceOptions>;
  /** Its index in spec.services, for findings. */
  index: number;
}

/** What a server sets for one of its services, with the server-wide defaults applied. */
export interface ServiceSettings {
  /** The port when not the service's standard one; ssh's is spec.access.port unless the service sets its own. */
  port?: number;
  path?: string;
  host?: string;
  expectStatus?: readonly number[];
  starttls?: boolean;
  process?: string;
}

/**
 * The plain service an implicit-TLS port belongs to: one daemon serves both (exim listens on 25
 * and 465, dovecot on 110/995 and 143/993), so one runbook repairs both.
 */
export const PLAIN_SERVICE: Readonly<Partial<Record<ServiceName, ServiceName>>> = Object.freeze({ smtps: 'smtp', pop3s: 'pop3', imaps: 'imap' });

/** The service whose runbook, process and daemon this one shares: itself, or its plain service. */
export function daemonServiceOf(service: ServiceName): ServiceName {
  return PLAIN_SERVICE[service] ?? service;
}

/** A runbook repairs `service` when it lists it, or lists the plain service of an implicit-TLS port. */
export function repairsService(services: readonly string[], service: ServiceName): boolean {
  return services.includes(service) || services.includes(daemonServiceOf(service));
}

/** Every entry of spec.services, as written (unknown names and repeats included: validation reports them). */
export function listServices(server: Pick<ServerDocument, 'spec'>): SubscribedService[] {
  return server.spec.services.map((item, index) => {
    if (typeof item === 'string') return { name: item, options: {}, index };
    const [name, options] = Object.entries(item)[0] as [ServiceName, ServiceOptions | null | undefined];
    return { name, options: options ?? {}, index };
  });
}

/** The services a server subscribes to: known names, each once, in the manifest's order. */
export function serviceNames(server: Pick<ServerDocument, 'spec'>): ServiceName[] {
  const out: ServiceName[] = [];
  for (const { name } of listServices(server)) {
    if ((SERVICE_NAMES as readonly string[]).includes(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

/** The service's entry, when the server subscribes to it. */
export function subscribedService(server: Pick<ServerDocument, 'spec'>, service: ServiceName): SubscribedService | undefined {
  return listServices(server).find((s) => s.name === service);
}

/**
 * The settings of one service (undefined when the server does not subscribe to it): its options,
 * and for ssh the management port (spec.access.port) unless the ssh entry names its own.
 */
export function serviceSettings(server: Pick<ServerDocument, 'spec'>, service: ServiceName): ServiceSettings | undefined {
  const entry = subscribedService(server, service);
  if (entry === undefined) return undefined;
  const o = entry.options;
  const out: ServiceSettings = {};
  const port = o.port ?? (service === 'ssh' ? server.spec.access?.port : undefined);
  if (port !== undefined) out.port = port;
  if (o.path !== undefined) out.path = o.path;
  if (o.host !== undefined) out.host = o.host;
  if (o.expectStatus !== undefined) out.expectStatus = [...o.expectStatus];
  if (o.starttls === true) out.starttls = true;
  if (o.process !== undefined) out.process = o.process;
  return out;
}

/** The port the server sets for a service (ssh: spec.access.port), even when not subscribed; undefined means the standard port. */
export function servicePort(server: Pick<ServerDocument, 'spec'>, service: ServiceName): number | undefined {
  return serviceSettings(server, service)?.port ?? (service === 'ssh' ? server.spec.access?.port : undefined);
}
