/**
 * A lab fleet as `mamori run` sees it: Server manifests (YAML) for lab hosts, the secrets folder
 * (management keys, BMC passwords, pass phrases; 0700/0600), the console profiles that reach the
 * lab, and a daemon config around them. Shared by the end-to-end scenarios, the time-to-recovery
 * bench and the quick start's demo, on top of the executor's lab helpers (test/runbook/executor-lab.ts).
 *
 * Host keys are made when a lab starts, so manifests are written at run time, never committed.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ServerDocument, ServiceName } from '../../src/manifest/types.ts';
import type { Lab, LabHost } from '../lab/index.ts';
import { labSecrets, labServer } from '../runbook/executor-lab.ts';

/** The profile names of `labConsoleProfiles`: IPMI to the host's BMC with the lab console, or the console alone. */
export const LAB_IPMI_PROFILE = 'lab-ipmi';
export const LAB_CONSOLE_PROFILE = 'lab-console';

export interface FleetServerOptions {
  customer: string;
  services?: ServiceName[];
  locale?: 'ja' | 'en';
  email?: string;
  /** Custom runbooks by service (names of the customer's own Runbook documents). */
  runbooks?: Partial<Record<ServiceName, string>>;
  consoleProfile?: string;
  /** `location.site`, grouping servers for the mass-failure check. */
  site?: string;
}

/**
 * The Server document of a lab host. Secret names are `<host>-login`, `<host>-bmc`, `<host>-ssl`,
 * so a host's name must start with `<customer>-` (a customer references only its own secrets).
 * The management network is the lab's subnet: mamori's probes leave from the lab's gateway.
 */
export function fleetServer(lab: Lab, host: LabHost, o: FleetServerOptions): ServerDocument {
  if (!host.name.startsWith(`${o.customer}-`)) throw new Error(`lab host ${host.name}: its name must start with ${o.customer}- (secret names follow it)`);
  const doc = labServer(lab, host, {
    legacy: host.variant === 'legacy-ssh',
    withSslSecret: host.sslPassphrase !== undefined,
    consoleProfile: o.consoleProfile ?? LAB_IPMI_PROFILE,
    ...(o.services ? { services: o.services } : {}),
  });
  doc.metadata.customer = o.customer;
  doc.spec.contact = { email: o.email ?? `ops@${o.customer}.example`, locale: o.locale ?? 'ja' };
  doc.spec.allowedNetworks = [lab.subnet];
  if (o.site !== undefined) doc.spec.location = { site: o.site };
  if (o.runbooks !== undefined) doc.spec.runbooks = { ...o.runbooks };
  return doc;
}

export function serverPathOf(doc: ServerDocument): string {
  return `customers/${doc.metadata.customer ?? 'none'}/servers/${doc.metadata.name}.yaml`;
}

/** The manifest as a person would write it (schema comment first, then the document). */
export function serverManifestYaml(doc: ServerDocument, note?: string): string {
  const header = `# yaml-language-server: $schema=../../../../schemas/server.schema.json\n${note ? `# ${note}\n` : ''}`;
  return `${header}${stringify(doc, { lineWidth: 0 })}`;
}

/** Writes one manifest per document under `root` (a manifests folder or a git work tree). */
export async function writeServerManifests(root: string, docs: readonly ServerDocument[], note?: string): Promise<string[]> {
  const paths: string[] = [];
  for (const doc of docs) {
    const rel = serverPathOf(doc);
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), serverManifestYaml(doc, note));
    paths.push(rel);
  }
  return paths;
}

/**
 * The secrets folder the daemon reads (`secretsDir`): one file per secretRef, the folder 0700 and
 * every file 0600 (the daemon refuses anything other users could read).
 */
export async function writeLabSecrets(dir: string, lab: Lab, extra: Record<string, string> = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const secrets = await labSecrets(lab);
  for (const [k, v] of Object.entries(extra)) secrets.set(k, v);
  for (const [name, value] of secrets) {
    const file = join(dir, name);
    await writeFile(file, value, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  return [...secrets.keys()];
}

/**
 * Console profiles for a lab: the console is the lab's own nsenter helper (it works with sshd dead
 * or the link down, and fails on a powered-off host); power goes through the host's BMC (ipmi_sim).
 */
export function labConsoleProfiles(lab: Lab): Record<string, unknown> {
  const consoleArgv = [`${lab.dir}/bin/console.sh`, `${lab.dir}/hosts/{{console.target}}`, '{{command}}'];
  return {
    [LAB_IPMI_PROFILE]: { driver: 'ipmi', cipherSuite: 3, consoleCommand: consoleArgv },
    [LAB_CONSOLE_PROFILE]: { driver: 'command', console: consoleArgv },
  };
}

/** Probe settings. FAST_PROBE: what the scenario tests run at (confirmation kept: two failures make Down). */
export interface ProbeSettings {
  intervalSeconds: number;
  timeoutSeconds: number;
  retryIntervalSeconds: number;
  failuresToDown: number;
  jitter?: number;
}

export const FAST_PROBE: ProbeSettings = { intervalSeconds: 0.5, timeoutSeconds: 2, retryIntervalSeconds: 0.2, failuresToDown: 2, jitter: 0.1 };

export interface FleetConfigOptions {
  lab: Lab;
  /** The manifests: a folder (relative to the config's folder, or absolute) or a git URL. */
  source: { type: 'folder'; path: string } | { type: 'git'; url: string; pollSeconds?: number };
  httpPort: number;
  stateDir?: string;
  secretsDir?: string;
  probe?: ProbeSettings;
  /** Merged over the config's `remediation` section. */
  remediation?: Record<string, unknown>;
  massFailure?: Record<string, unknown>;
  /** The config's `readiness` section (the scheduled readiness check), when set. */
  readiness?: Record<string, unknown>;
  /** The config's `vantages` and `quorum` sections (two vantage points), when set. */
  vantages?: Array<Record<string, unknown>>;
  quorum?: Record<string, unknown>;
  /** http.listen's address (default 127.0.0.1): a vantage point on a lab network reports to the machine's address on it. */
  httpHost?: string;
  /** http.tls: the daemon serves HTTPS with this pair (a vantage point's reports cross a network). */
  httpTls?: { certFile: string; keyFile: string };
  /** A real SMTP relay on the loopback; without it the outbox writes .eml files. */
  smtpPort?: number;
  operatorEmail?: string;
  webhookSecretRef?: string;
  logLevel?: string;
  pretty?: boolean;
}

/** The daemon config (YAML) for a lab fleet: target and management networks are the lab's subnet. */
export function fleetConfigYaml(o: FleetConfigOptions): string {
  const doc: Record<string, unknown> = {
    apiVersion: 'mamori/v1',
    kind: 'Config',
    source: o.source.type === 'folder' ? { type: 'folder', path: o.source.path, debounceMs: 100 } : { type: 'git', url: o.source.url, ref: 'main', pollSeconds: o.source.pollSeconds ?? 1 },
    stateDir: o.stateDir ?? 'state',
    secretsDir: o.secretsDir ?? 'secrets',
    managementNetworks: [o.lab.subnet],
    // The lab's BMCs (ipmi_sim) listen on the loopback.
    targetNetworks: [o.lab.subnet, '127.0.0.1/32'],
    probe: { ...(o.probe ?? FAST_PROBE) },
    remediation: { ...(o.remediation ?? {}) },
    ...(o.massFailure ? { massFailure: o.massFailure } : {}),
    ...(o.readiness ? { readiness: o.readiness } : {}),
    ...(o.vantages ? { vantages: o.vantages } : {}),
    ...(o.quorum ? { quorum: o.quorum } : {}),
    consoleProfiles: labConsoleProfiles(o.lab),
    http: { listen: `${o.httpHost ?? '127.0.0.1'}:${o.httpPort}`, ...(o.httpTls ? { tls: o.httpTls } : {}), ...(o.webhookSecretRef ? { webhookSecret: { secretRef: o.webhookSecretRef } } : {}) },
    mail: {
      from: 'mamori@provider.example',
      ...(o.operatorEmail ? { operator: o.operatorEmail } : {}),
      ...(o.smtpPort ? { smtp: { host: '127.0.0.1', port: o.smtpPort } } : {}),
      maxPerServerPerHour: 20,
    },
    log: { level: o.logLevel ?? 'info', ...(o.pretty !== undefined ? { pretty: o.pretty } : {}) },
  };
  return `# yaml-language-server: $schema=../schemas/config.schema.json\n${stringify(doc, { lineWidth: 0 })}`;
}
