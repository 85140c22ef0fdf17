import { isIP } from 'node:net';
import type { Command } from 'commander';
import { createProberRegistry, type ProberRegistry } from '../probe/registry.ts';
import { SERVICE_NAMES, isServiceName, type ProbeResult, type ProbeTarget, type ServiceName } from '../probe/types.ts';

export interface ProbeCommandDeps {
  registry?: ProberRegistry;
  stdout?: NodeJS.WritableStream;
}

interface ProbeOptions {
  service: string[];
  json?: boolean;
  timeout: string;
  source?: string;
  host?: string;
  path?: string;
  manifests?: string;
}

interface ServiceSpec {
  service: ServiceName;
  port?: number;
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
    .argument('<target>', 'a server name from the manifests, or an IPv4/IPv6 address')
    .option('-s, --service <service[:port]>', `a service to probe (repeatable; default all: ${SERVICE_NAMES.join(', ')})`, collect, [])
    .option('--json', 'print the results as JSON')
    .option('--timeout <ms>', 'deadline for each probe', String(DEFAULT_TIMEOUT_MS))
    .option('--source <address>', 'local address to probe from')
    .option('--host <name>', 'Host header and TLS SNI for http/https')
    .option('--path <path>', 'path for http/https HEAD', '/')
    .option('--manifests <dir>', 'the manifests folder (for a server name)')
    .action(async (target: string, options: ProbeOptions, command: Command) => {
      const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: 2, code: 'MAMORI_CLI_USAGE' });
      const timeoutMs = Number(options.timeout);
      if (!/^\d+$/.test(options.timeout) || timeoutMs < 1 || timeoutMs > 600_000) usage(`--timeout must be 1-600000 ms, got "${options.timeout}"`);
      if (options.source !== undefined && isIP(options.source) === 0) usage(`--source must be an IP address, got "${options.source}"`);
      if (isIP(target) === 0) {
        usage(`"${target}" is not an IP address; server names need --manifests; not yet supported`);
      }
      const specs: ServiceSpec[] = [];
      for (const raw of options.service.flatMap((s) => s.split(','))) {
        const spec = parseServiceSpec(raw.trim());
        if (typeof spec === 'string') usage(spec);
        else specs.push(spec);
      }
      if (specs.length === 0) for (const service of SERVICE_NAMES) specs.push({ service });

      const registry = deps.registry ?? createProberRegistry();
      const targets: ProbeTarget[] = specs.map((s) => ({
        service: s.service,
        address: target,
        port: s.port,
        timeoutMs,
        sourceAddress: options.source,
        host: options.host,
        path: options.path,
      }));
      const results = await Promise.all(targets.map((t) => registry.probe(t)));
      const out = deps.stdout ?? process.stdout;
      if (options.json === true) out.write(`${JSON.stringify(results, null, 2)}\n`);
      else for (const r of results) out.write(`${line(r)}\n`);
      process.exitCode = results.every((r) => r.up) ? 0 : 1;
    });
}
