import type { TargetCheck } from '../manifest/target-networks.ts';
import { createDialogProber } from './banner.ts';
import { BANNER_DIALOGS, STARTTLS_DIALOGS } from './dialogs.ts';
import { createHttpProber } from './http.ts';
import { createPingProber, type PingProberOptions } from './icmp.ts';
import { formatTarget } from './result.ts';
import { createProbeTrust, type TrustOptions } from './trust.ts';
import { DEFAULT_PORTS, type Prober, type ProbeResult, type ProbeTarget, type ServiceName } from './types.ts';

export interface ProberRegistryOptions {
  ping?: PingProberOptions;
  /** The roots certificates are checked against (system roots and the operator's CAs). */
  trust?: TrustOptions;
  /** The operator's target networks: a target outside them is refused before any packet is sent. */
  targets: TargetCheck;
}

export interface ProberRegistry {
  /**
   * Probe one target with its service's prober; never throws. A target the target check refuses is
   * a failure (`error` in `connect`) and nothing is sent: this is the only way mamori probes.
   */
  probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult>;
}

/**
 * One line per protocol (blackbox_exporter's prober map). A registry holds the ping prober's
 * batching queue, so one process should share one registry.
 */
export function createProberRegistry(options: ProberRegistryOptions): ProberRegistry {
  const tls = createProbeTrust(options.trust);
  const probers: Record<ServiceName, Prober> = {
    ping: createPingProber(options.ping),
    http: createHttpProber(false),
    https: createHttpProber(true, tls),
    ftp: createDialogProber(BANNER_DIALOGS.ftp, STARTTLS_DIALOGS.ftp, tls),
    ssh: createDialogProber(BANNER_DIALOGS.ssh),
    telnet: createDialogProber(BANNER_DIALOGS.telnet),
    smtp: createDialogProber(BANNER_DIALOGS.smtp, STARTTLS_DIALOGS.smtp, tls),
    pop3: createDialogProber(BANNER_DIALOGS.pop3, STARTTLS_DIALOGS.pop3, tls),
    imap: createDialogProber(BANNER_DIALOGS.imap, STARTTLS_DIALOGS.imap, tls),
    smtps: createDialogProber(BANNER_DIALOGS.smtps, undefined, tls),
    pop3s: createDialogProber(BANNER_DIALOGS.pop3s, undefined, tls),
    imaps: createDialogProber(BANNER_DIALOGS.imaps, undefined, tls),
  };
  return {
    // Not async: the prober's own promise is handed back (one promise and one reaction less a probe).
    probe: (target, signal) => {
      let verdict: ReturnType<TargetCheck['check']>;
      try {
        verdict = options.targets.check(target.address);
        if (verdict.ok) return probers[target.service].probe(target, signal);
      } catch (err) {
        // Never a synchronous throw: callers get a rejected promise, as from an async function.
        return Promise.reject(err);
      }
      const port = target.service === 'ping' ? undefined : (target.port ?? DEFAULT_PORTS[target.service]);
      return Promise.resolve({
        service: target.service,
        target: formatTarget(target.address, port),
        up: false,
        latencyMs: 0,
        startedAt: new Date().toISOString(),
        failure: { kind: 'error', phase: 'connect', message: verdict.message },
      });
    },
  };
}
