/** A server's services, as written (`http` or `{ https: { path: /health } }`), read as one list. */
import type { ServerDocument, ServiceName } from './types.ts';
import type { ServiceOptions } from './generated/server.ts';

export interface SubscribedService {
  name: ServiceName;
  options: NonNullable<ServiceOptions>;
  /** Its index in spec.services, for findings. */
  index: number;
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

export function listServices(server: Pick<ServerDocument, 'spec'>): SubscribedService[] {
  return server.spec.services.map((item, index) => {
    if (typeof item === 'string') return { name: item, options: {}, index };
    const [name, options] = Object.entries(item)[0] as [ServiceName, ServiceOptions | null | undefined];
    return { name, options: options ?? {}, index };
  });
}
