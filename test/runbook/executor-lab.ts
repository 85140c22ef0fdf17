/**
 * Test helpers for the executor against the lab: a Server document for a lab host, secrets
 * from a map (as the secrets folder would give them), the standard runbooks from
 * manifests/operator/runbooks rendered for it, console profiles pointing at the lab, and
 * the real probes as the outside view.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { MamoriError } from '../../src/errors.ts';
import type { ConsoleProfiles } from '../../src/runbook/drivers/types.ts';
import type { RunbookDocument, ServerDocument, ServiceName } from '../../src/manifest/types.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import type { OutsideProbe } from '../../src/runbook/execution.ts';
import { renderRunbook } from '../../src/runbook/render.ts';
import type { RenderedRunbook } from '../../src/runbook/types.ts';
import type { Lab, LabHost } from '../lab/index.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const RUNBOOKS = fileURLToPath(new URL('../../manifests/operator/runbooks/', import.meta.url));
/** The lab's own console helper (test/lab/assets/console.sh), as an operator's argv template. */
export function labConsoleArgv(lab: Lab): string[] {
  return [`${lab.dir}/bin/console.sh`, `${lab.dir}/hosts/{{console.target}}`, '{{command}}'];
}

export interface LabServerOptions {
  family?: string;
  version?: string;
  hostKey?: string;
  legacy?: boolean;
  consoleProfile?: string;
  withSslSecret?: boolean;
  services?: ServiceName[];
}

/** The server document for a lab host; secrets named `<host>-login`, `<host>-bmc`, `<host>-ssl`. */
/** The OS a lab host's manifest declares: FreeBSD's release, the EL release of a systemd host, else the seed's CentOS 5.4. */
function osOf(host: LabHost, o: LabServerOptions): { family: string; version: string } {
  const bsd = /^FreeBSD (\d+\.\d+)/.exec(host.os)?.[1];
  if (bsd !== undefined) return { family: o.family ?? 'freebsd', version: o.version ?? bsd };
  // The seed's CentOS 5 hosts say "5.4" (the seed's version); the others their release.
  const seed = host.os === 'CentOS release 5.11 (Final)';
  return { family: o.family ?? 'centos', version: o.version ?? (seed ? '5.4' : (/release (\d+(?:\.\d+)?)/.exec(host.os)?.[1] ?? '5.4')) };
}

export function labServer(lab: Lab, host: LabHost, o: LabServerOptions = {}): ServerDocument {
  const doc: ServerDocument = {
    apiVersion: 'mamori/v1',
    kind: 'Server',
    metadata: { name: host.name, customer: 'acme' },
    spec: {
      address: host.address,
      // The seed-era hosts keep the seed's "5.4"; the others say the release they run.
      os: osOf(host, o),
      plan: 'basic',
      contact: { email: 'ops@acme.example' },
      allowedNetworks: ['210.224.172.0/24', '210.188.224.0/24'],
      services: o.services ?? ['ping', 'http', 'https', 'ftp', 'ssh', 'smtp', 'pop3', 'imap'],
      access: {
        user: lab.managementUser,
        hostKey: o.hostKey ?? host.hostKeyFingerprint,
        credentials: { secretRef: `${host.name}-login` },
        ...(o.legacy ? { legacyAlgorithms: true } : {}),
      },
      console: {
        profile: o.consoleProfile ?? 'lab-ipmi',
        bmc: host.bmc.host,
        bmcPort: host.bmc.port,
        credentials: { secretRef: `${host.name}-bmc` },
        target: host.name,
      },
    },
  };
  if (o.withSslSecret) doc.spec.secrets = { sslPassphrase: { secretRef: `${host.name}-ssl` } };
  return doc;
}

/** Secrets as the secrets folder gives them; a missing name throws MAMORI_SECRET_MISSING. */
export async function labSecrets(lab: Lab, opts: { legacyKey?: boolean } = {}): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  const key = await readFile(opts.legacyKey ? lab.legacyKeyPath : lab.managementKeyPath, 'utf8');
  for (const h of lab.hosts) {
    secrets.set(`${h.name}-login`, h.variant === 'legacy-ssh' ? await readFile(lab.legacyKeyPath, 'utf8') : key);
    secrets.set(`${h.name}-bmc`, `${h.bmc.user}:${(await readFile(h.bmc.passwordFile, 'utf8')).trim()}`);
    if (h.sslPassphrase) secrets.set(`${h.name}-ssl`, h.sslPassphrase);
  }
  return secrets;
}

export function resolverOf(secrets: Map<string, string>): (ref: string) => Promise<string> {
  return async (ref) => {
    const v = secrets.get(ref);
    if (v === undefined) throw new MamoriError('MAMORI_SECRET_MISSING', `secret ${ref} does not resolve`, { details: { secretRef: ref } });
    return v;
  };
}

/** Console profiles for the lab: the console is the lab's nsenter helper; power through the BMC (ipmi_sim). */
export function labProfiles(lab: Lab): ConsoleProfiles {
  const consoleArgv = labConsoleArgv(lab);
  return {
    'lab-ipmi': { driver: 'ipmi', cipherSuite: 3, consoleCommand: consoleArgv },
    'lab-ipmi-blind': { driver: 'ipmi', cipherSuite: 3 },
    'lab-console': { driver: 'command', console: consoleArgv },
    desk: { driver: 'manual', desk: 'noc@example.net' },
  };
}

export async function standardRunbook(name: string, server: ServerDocument, service: ServiceName): Promise<RenderedRunbook> {
  const doc = parse(await readFile(`${RUNBOOKS}${name}.yaml`, 'utf8')) as RunbookDocument;
  return renderRunbook(server, service, doc, 'standard');
}

/** The real probes from mamori's side; every call is recorded for assertions. */
export function outsideProbe(server: ServerDocument, calls: Array<{ service: ServiceName; up: boolean; at: number }> = []): OutsideProbe {
  const registry = createProberRegistry({ targets: LAB_TARGETS });
  return async (service) => {
    const r = await registry.probe({ service, address: server.spec.address, timeoutMs: 3_000 });
    calls.push({ service, up: r.up, at: Date.now() });
    return r.up ? { up: true } : { up: false, message: r.failure?.message ?? 'down' };
  };
}
