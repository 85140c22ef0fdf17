import { createDialogProber } from './banner.ts';
import { BANNER_DIALOGS } from './dialogs.ts';
import { createHttpProber } from './http.ts';
import { createPingProber, type PingProberOptions } from './icmp.ts';
import type { Prober, ProbeResult, ProbeTarget, ServiceName } from './types.ts';

export interface ProberRegistryOptions {
  ping?: PingProberOptions;
}

export interface ProberRegistry {
  proberFor(service: ServiceName): Prober;
  /** Probe one target with its service's prober; never throws. */
  probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult>;
}

/**
 * One line per protocol (blackbox_exporter's prober map). A registry holds the ping prober's
 * batching queue, so one process should share one registry.
 */
export function createProberRegistry(options: ProberRegistryOptions = {}): ProberRegistry {
  const probers: Record<ServiceName, Prober> = {
    ping: createPingProber(options.ping),
    http: createHttpProber(false),
    https: createHttpProber(true),
    ftp: createDialogProber(BANNER_DIALOGS.ftp),
    ssh: createDialogProber(BANNER_DIALOGS.ssh),
    telnet: createDialogProber(BANNER_DIALOGS.telnet),
    smtp: createDialogProber(BANNER_DIALOGS.smtp),
    pop3: createDialogProber(BANNER_DIALOGS.pop3),
    imap: createDialogProber(BANNER_DIALOGS.imap),
  };
  return {
    proberFor: (service) => probers[service],
    probe: (target, signal) => probers[target.service].probe(target, signal),
  };
}

let shared: ProberRegistry | undefined;

/** The process's shared registry (created on first use), so that all ping probes batch together. */
export function proberFor(service: ServiceName): Prober {
  shared ??= createProberRegistry();
  return shared.proberFor(service);
}
