import { stat } from 'node:fs/promises';
import { lookupServer, manifestFileSuffix } from '../manifest/server-id.ts';
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import type { MamoriConfig } from '../config/types.ts';
import { isMamoriError } from '../errors.ts';
import { serviceNames, serviceSettings } from '../manifest/services.ts';
import type { ProberRegistry } from '../probe/registry.ts';
import { SEED_SERVICE_NAMES, SERVICE_NAMES, isServiceName, type ProbeResult, type ProbeTarget, type ServiceName } from '../probe/types.ts';

export interface ProbeCommandDeps {
  registry?: ProberRegistry;
  stdout?: NodeJS.WritableStream;
  cwd?: string;
}

interface ProbeOptions {
  service: string[];
  json?: boolean;
  timeout?: string;
  source?: string;
  host?: string;
  path?: string;
  outsideTargetNetworks?: boolean;
}

interface ServiceSpec {
  service: ServiceName;
  port?: number;
  path?: string;
  host?: string;
  expectStatus?: number[];
}

/** What a server name resolves to: its address and subscribed services, as its manifest says. */
interface ServerPlan {
  address: string;
  services: ServiceSpec[];
}

class UsageError extends Error {}

async function loadCliConfig(configFile: string | undefined, cwd: string): Promise<MamoriConfig> {
  try {
    // Loaded here, not at the top: `mamori --help` should not pay for ajv and the YAML parsers.
    const { loadConfig } = await import('../config/load-config.ts');
    return await loadConfig(configFile, { cwd });
  } catch (err) {
    if (isMamoriError(err)) throw new UsageError(err.message);
    throw err;
  }
}

async function loadServer(name: string, manifests: string, config: MamoriConfig, cwd: string): Promise<ServerPlan> {
  const root = resolvePath(cwd, manifests);
  const isDir = await stat(root).then((st) => st.isDirectory(), () => false);
  if (!isDir) throw new UsageError(`"${name}" is not an IP address, and there is no manifests folder ${manifests} to find it in (give --manifests DIR)`);
  const { loadManifests } = await import('../manifest/load-manifests.ts');
  const set = await loadManifests(root, { config });
  // customer/name, or a bare name one customer alone has; two customers' web01 is refused with both named.
  const found = lookupServer(name, set.servers.keys());
  if (!found.ok && found.reason === 'ambiguous') throw new UsageError(found.message);
  const server = found.ok ? set.servers.get(found.id) : undefined;
  if (server === undefined) {
    const bad = set.findings.filter((f) => f.severity === 'error' && f.path !== undefined && f.path.endsWith(manifestFileSuffix(name))).length;
    throw new UsageError(
      bad > 0
        ? `server "${name}" has ${bad} error(s) in its manifest; run mamori validate`
        : `no server "${name}" in ${manifests} (and it is not an IP address)`,
    );
  }
  const services = serviceNames(server.doc).map((service): ServiceSpec => {
    const s = serviceSettings(server.doc, service) ?? {};
    const spec: ServiceSpec = { service };
    if (s.port !== undefined) spec.port = s.port;
    if (s.path !== undefined) spec.path = s.path;
    if (s.host !== undefined) spec.host = s.host;
    if (s.expectStatus !== undefined) spec.expectStatus = [...s.expectStatus];
    return spec;
  });
  return { address: server.doc.spec.address, services };
}

const DEFAULT_TIMEOUT_MS = 5000;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `smtp`, `smtp:2525`: a usage error names the bad value. */
export function parseServiceSpec(spec: string): ServiceSpec | string {
  const [name, port, ...rest] = spec.split(':');
  if (!isServiceName(name) || rest.length > 0) return `unknown service "${spec}" (one of ${SERVICE_NAMES.join(', ')}, optionally :PORT)`;
  if (port === undefined) return { service: name };
  if (name === 'ping') return `ping has no port ("${spec}")`;
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65535) return `bad port in "${spec}" (1-65535)`;
  return { service: name, port: n };
}

function line(r: ProbeResult): string {
  const state = r.up ? 'up' : 'DOWN';
  const why = r.failure !== undefined ? `${r.failure.kind} (${r.failure.phase}): ${r.failure.message}` : '';
  const said = r.peer !== undefined ? `"${r.peer}"` : '';
  const extra = r.icmp !== undefined ? `${r.icmp.received}/${r.icmp.sent} replies` : '';
  const warn = r.warnings !== undefined ? `warnings: ${r.warnings.join('; ')}` : '';
  return [r.service.padEnd(6), r.target.padEnd(24), state.padEnd(4), `${r.latencyMs.toFixed(1)} ms`.padStart(10), why, extra, said, warn]
    .filter((s) => s !== '')
    .join('  ');
}

/**
 * `mamori probe ADDRESS|SERVER`: probe now, print what each service said. Exit 0 when all are up,
 * 1 when any is down, 2 on a usage error (commander's error with exitCode 2).
 */
export function registerProbeCommand(program: Command, deps: ProbeCommandDeps = {}): void {
  program
    .command('probe')
    .description('Probe a server (by manifest name) or an address now: every service, or those named.')
    .argument('<target>', 'a server from the manifests (customer/name, or its name alone when one customer has it), or an IPv4/IPv6 address')
    .option('-s, --service <service[:port]>', `a service to probe (repeatable; default the seed's nine: ${SEED_SERVICE_NAMES.join(', ')}; also ${SERVICE_NAMES.filter((s) => !SEED_SERVICE_NAMES.includes(s)).join(', ')})`, collect, [])
    .option('--json', 'print the results as JSON')
    .option('--timeout <ms>', `deadline for each probe (default: the config's probe timeout; ${DEFAULT_TIMEOUT_MS} without a config file)`)
    .option('--source <address>', 'local address to probe from')
    .option('--host <name>', 'Host header and TLS SNI for http/https')
    .option('--path <path>', 'path for http/https HEAD (default /)')
    .option('--outside-target-networks', "probe an address outside the config's targetNetworks (refused without it)")
    .addHelpText(
      'after',
      "\nExamples:\n  $ mamori probe 192.0.2.10 --service http --service ssh     # an address, two services\n  $ mamori probe acme-web1                                     # a server's subscribed services, from --manifests\n  $ mamori probe acme-web1 --service https --json --timeout 8000\n\nA server name is looked up in the --manifests folder (a global option) and probes its subscribed\nservices with their options; --service narrows them. An address outside the config's targetNetworks\n(--config, else the embedded defaults) is refused unless --outside-target-networks is given.\nExit status: 0 all up, 1 any down, 2 usage or refused.",
    )
    .action(async (target: string, options: ProbeOptions, command: Command) => {
      const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: 2, code: 'MAMORI_CLI_USAGE' });
      if (options.timeout !== undefined && (!/^\d+$/.test(options.timeout) || Number(options.timeout) < 1 || Number(options.timeout) > 600_000)) {
        usage(`--timeout must be 1-600000 ms, got "${options.timeout}"`);
      }
      if (options.source !== undefined && isIP(options.source) === 0) usage(`--source must be an IP address, got "${options.source}"`);
      const named: ServiceSpec[] = [];
      for (const raw of options.service.flatMap((s) => s.split(','))) {
        const spec = parseServiceSpec(raw.trim());
        if (typeof spec === 'string') usage(spec);
        else named.push(spec);
      }

      let address = target;
      let specs: ServiceSpec[];
      const globals = command.optsWithGlobals<{ manifests?: string; config?: string }>();
      const cwd = deps.cwd ?? process.cwd();
      let loaded: MamoriConfig | undefined;
      try {
        loaded = await loadCliConfig(globals.config, cwd);
      } catch (err) {
        if (err instanceof UsageError) usage(err.message);
        throw err;
      }
      const config = loaded as MamoriConfig;
      if (isIP(target) !== 0) {
        specs = named.length > 0 ? named : SEED_SERVICE_NAMES.map((service) => ({ service }));
      } else {
        let plan: ServerPlan | undefined;
        try {
          plan = await loadServer(target, globals.manifests ?? 'manifests', config, cwd);
        } catch (err) {
          if (err instanceof UsageError) usage(err.message);
          throw err;
        }
        const server = plan as ServerPlan;
        address = server.address;
        specs = server.services;
        if (named.length > 0) {
          const missing = named.filter((n) => !specs.some((s) => s.service === n.service)).map((n) => n.service);
          if (missing.length > 0) usage(`server "${target}" does not subscribe ${missing.join(', ')}`);
          specs = named.map((n) => ({ ...specs.find((s) => s.service === n.service), ...n }));
        }
      }
      const timeoutMs = options.timeout !== undefined ? Number(options.timeout) : config.probe.timeoutSeconds * 1000;

      // The same check the daemon makes; the flag widens it to any plain address, never to IPv4 written as IPv6.
      const [{ anyAddressCheck, targetCheck }, { createProberRegistry }] = await Promise.all([import('../manifest/target-networks.ts'), import('../probe/registry.ts')]);
      const check = options.outsideTargetNetworks === true ? anyAddressCheck() : targetCheck(config.targetNetworks);
      const verdict = check.check(address);
      if (!verdict.ok) {
        usage(verdict.reason === 'outside' ? `${verdict.message}; give --outside-target-networks to probe it anyway` : verdict.message);
      }
      // One ping batch: fping started from this small process costs less than starting the daemon's ping helper.
      const registry = deps.registry ?? createProberRegistry({ targets: check, ping: { helper: false } });
      const targets: ProbeTarget[] = specs.map((s) => ({
        service: s.service,
        address,
        port: s.port,
        timeoutMs,
        sourceAddress: options.source ?? config.sourceAddress,
        host: options.host ?? s.host,
        path: options.path ?? s.path,
        expectStatus: s.expectStatus,
      }));
      const results = await Promise.all(targets.map((t) => registry.probe(t)));
      const out = deps.stdout ?? process.stdout;
      if (options.json === true) out.write(`${JSON.stringify(results, null, 2)}\n`);
      else for (const r of results) out.write(`${line(r)}\n`);
      process.exitCode = results.every((r) => r.up) ? 0 : 1;
    });
}
