import { Command, InvalidArgumentError } from 'commander';
import { attachLab, listeningPorts, startLab } from './lab.ts';
import { cleanStaleLab } from './clean.ts';
import { LAB_SERVICES, LAB_VARIANTS, initOf, releaseOf, type LabHostSpec, type LabPath, type LabService, type LabVariant, type PowerAction } from './types.ts';
import { labRecordPath } from './names.ts';
import { existsSync } from 'node:fs';
import { run } from './run.ts';
import { attachFleet, cleanFleet, startFleet, type FleetFault } from './fleet.ts';

/** The fleet lab's id when none is given (`npm run lab -- fleet …`). */
export const DEFAULT_FLEET_LAB_ID = 154;

export function parseFault(kind: string, args: readonly string[]): FleetFault {
  const num = (v: string | undefined, what: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) throw new Error(`fault ${kind}: ${what} must be a whole number, got ${String(v)}`);
    return n;
  };
  switch (kind) {
    case 'drop':
    case 'kill':
      return { kind };
    case 'refuse':
      return { kind, port: num(args[0], 'PORT') };
    case 'slow': {
      const ports = args.slice(1).map((p) => num(p, 'PORT'));
      return { kind, ms: num(args[0], 'MS'), ...(ports.length > 0 ? { ports } : {}) };
    }
    default:
      throw new Error('fault must be drop, refuse PORT, slow MS [PORT…] or kill');
  }
}

/** The lab id people get when they give none; tests use their own ids. */
export const DEFAULT_CLI_LAB_ID = 100;

function parseId(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new InvalidArgumentError('an integer 0..255');
  return n;
}

export function parseHosts(v: string): LabHostSpec[] {
  return v.split(',').filter(Boolean).map((item) => {
    const [name = '', variant] = item.split(':');
    if (variant !== undefined && !LAB_VARIANTS.includes(variant as LabVariant)) {
      throw new InvalidArgumentError(`host "${name}": variant must be one of ${LAB_VARIANTS.join(', ')}`);
    }
    return variant === undefined ? { name } : { name, variant: variant as LabVariant };
  });
}

const POWER_ACTIONS: readonly PowerAction[] = ['on', 'off', 'status', 'cycle', 'reset', 'soft'];

export async function main(argv: readonly string[], out: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const program = new Command('lab')
    .description('Simulated customer servers in network namespaces, with a console and a BMC each')
    .option('--id <n>', `lab id: subnet 10.231.<id>.0/24 (default ${DEFAULT_CLI_LAB_ID})`, parseId, DEFAULT_CLI_LAB_ID)
    .exitOverride();
  const id = (): number => program.opts<{ id: number }>().id;
  let exitCode = 0;

  program
    .command('up')
    .description('start a fleet (stays up until `down`)')
    .option('--hosts <list>', 'name[:variant],... variants: ' + LAB_VARIANTS.join(', '), parseHosts, parseHosts('web1,web2'))
    .option('--dir <path>', 'the lab folder (default /tmp/mamori-lab/<id>)')
    .option('--timeout <ms>', 'bound on the start', (v) => Number(v), 60_000)
    .option('--second-network', 'a second management network (10.232.<id>.0/24) to every host, with a namespace for a vantage point (mamori agent)')
    .action(async (o: { hosts: LabHostSpec[]; dir?: string; timeout: number; secondNetwork?: boolean }) => {
      const t0 = Date.now();
      const lab = await startLab({ id: id(), hosts: o.hosts, timeoutMs: o.timeout, ...(o.dir ? { dir: o.dir } : {}), ...(o.secondNetwork === true ? { secondNetwork: true } : {}) });
      out(`lab ${lab.id} up in ${Date.now() - t0} ms: subnet ${lab.subnet}, gateway (mamori's source) ${lab.gateway}`);
      if (lab.second !== undefined) {
        out(`second network ${lab.second.subnet}: the machine ${lab.second.gateway}, a vantage point: ip netns exec ${lab.second.vantageNetns} … (${lab.second.vantageAddress})`);
      }
      out(`folder ${lab.dir}; login: ssh -i ${lab.managementKeyPath} -o UserKnownHostsFile=${lab.knownHostsPath} ${lab.managementUser}@ADDRESS`);
      out(`legacy key ${lab.legacyKeyPath}`);
      for (const h of lab.hosts) {
        out(
          `${h.name.padEnd(10)} ${h.variant.padEnd(10)} ${h.address.padEnd(13)} ${h.hostKeyFingerprint} (${h.hostKeyAlgorithm}) ` +
            `bmc 127.0.0.1:${h.bmc.port} user ${h.bmc.user} password file ${h.bmc.passwordFile}` +
            ` ${h.init} "${h.os}"` +
            (h.sslPassphrase ? ` pass phrase file ${h.dir}/ssl-passphrase` : ''),
        );
      }
    });

  program.command('down').description('tear down the lab and everything it left').action(async () => {
    if (existsSync(labRecordPath(id()))) await (await attachLab(id())).stop();
    else await cleanStaleLab(id());
    out(`lab ${id()} down`);
  });

  program.command('status').description('power, listening ports and link of every host').action(async () => {
    const lab = await attachLab(id());
    out(`lab ${lab.id}: ${lab.subnet} folder ${lab.dir}`);
    for (const h of lab.hosts) {
      const power = await lab.power(h.name, 'status').catch((e: unknown) => `bmc error: ${String(e)}`);
      const ports = [...(await listeningPorts(lab.dir, h))];
      const link = await run('ip', ['-n', h.netns, '-o', 'link', 'show', 'eth0']);
      const carrier = /LOWER_UP/.test(link.stdout) ? 'link up' : 'link down';
      out(
        `${h.name.padEnd(10)} ${h.address.padEnd(13)} ${h.variant.padEnd(10)} ${(h.init ?? initOf(h.variant)).padEnd(7)} ${(h.os ?? releaseOf(h.variant)).padEnd(38)} ` +
          `power ${power} ${carrier} listening ${ports.sort((a, b) => a - b).join(',') || '-'}`,
      );
    }
  });

  program.command('break <host> <service>').description(`kill a daemon (${LAB_SERVICES.join(', ')})`).action(
    async (host: string, service: string) => {
      if (!LAB_SERVICES.includes(service as LabService)) {
        throw new InvalidArgumentError(`service must be one of ${LAB_SERVICES.join(', ')}`);
      }
      await (await attachLab(id())).breakService(host, service as LabService);
      out(`${service} on ${host} killed; its ports are closed`);
    },
  );

  program.command('power <host> <action>').description(`through the BMC: ${POWER_ACTIONS.join('|')}`).action(
    async (host: string, action: string) => {
      if (!POWER_ACTIONS.includes(action as PowerAction)) {
        throw new InvalidArgumentError(`action must be one of ${POWER_ACTIONS.join(', ')}`);
      }
      out(`${host}: power ${await (await attachLab(id())).power(host, action as PowerAction)}`);
    },
  );

  program.command('pull <host>').description('take the host off the network (link down)').action(async (host: string) => {
    await (await attachLab(id())).pull(host);
    out(`${host}: link down`);
  });
  program.command('plug <host>').description('put the host back on the network').action(async (host: string) => {
    await (await attachLab(id())).plug(host);
    out(`${host}: link up`);
  });
  const pathArg = (path: string): LabPath | 'both' => {
    if (path !== 'primary' && path !== 'second' && path !== 'both') throw new InvalidArgumentError('path must be primary, second or both');
    return path;
  };
  program.command('cut <host> <path>').description('cut a management path to the host (primary|second|both): iptables in the host drops what arrives on it').action(
    async (host: string, path: string) => {
      await (await attachLab(id())).cut(host, pathArg(path));
      out(`${host}: ${path} path cut`);
    },
  );
  program.command('mend <host> <path>').description('mend a cut management path (primary|second|both)').action(async (host: string, path: string) => {
    await (await attachLab(id())).mend(host, pathArg(path));
    out(`${host}: ${path} path mended`);
  });
  program.command('console <host> <command>').description('run a command as root inside the host').action(
    async (host: string, command: string) => {
      const r = await (await attachLab(id())).console(host, command);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      exitCode = r.code;
    },
  );

  const fleetId = (): number => (program.getOptionValueSource('id') === 'default' ? DEFAULT_FLEET_LAB_ID : id());
  const fleet = program.command('fleet').description(`N servers as addresses of one namespace (10.(240 + id mod 16).0.0/16), for scale (default id ${DEFAULT_FLEET_LAB_ID})`);
  fleet
    .command('up <n>')
    .description('start N servers (stays up until `fleet down`)')
    .option('--sample <k>', 'sample servers with a responder of their own (killable)', (v) => Number(v), 4)
    .action(async (n: string, o: { sample: number }) => {
      const t0 = Date.now();
      const f = await startFleet({ id: fleetId(), n: Number(n), sample: o.sample });
      out(`fleet ${f.id} up in ${Date.now() - t0} ms: ${f.n} servers ${f.address(0)} … ${f.address(f.n - 1)} (route ${f.range}), folder ${f.dir}`);
      out(`sample servers (fault kill): ${Array.from({ length: f.sample }, (_, k) => f.address(k)).join(' ') || '-'}; CA for tls.caFiles: ${f.caPath}`);
    });
  fleet.command('down').description('stop the fleet and remove everything it made').action(async () => {
    await cleanFleet(fleetId());
    out(`fleet ${fleetId()} down`);
  });
  fleet.command('status').description('servers, responders, connections served, faults').action(async () => {
    const f = await attachFleet(fleetId());
    const alive = f.responderPids().filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    });
    out(`fleet ${f.id}: ${f.n} servers ${f.address(0)} … ${f.address(f.n - 1)}, ${f.sample} sample, folder ${f.dir}`);
    out(`responders alive: ${alive.length} of ${1 + f.sample} (pids ${alive.join(' ')})`);
    out(`connections by port: ${Object.entries(await f.counts()).map(([p, c]) => `${p}:${c}`).join(' ')}`);
    for (const [a, fs] of Object.entries(f.faults())) out(`fault ${a.padEnd(15)} ${fs.map((x) => JSON.stringify(x)).join(' ')}`);
  });
  fleet
    .command('fault <address> <kind> [args...]')
    .description('drop | refuse PORT | slow MS [PORT…] | kill (sample servers)')
    .action(async (address: string, kind: string, args: string[]) => {
      const fault = parseFault(kind, args);
      await (await attachFleet(fleetId())).fault(address, fault);
      out(`${address}: ${JSON.stringify(fault)}`);
    });
  fleet.command('clear [address]').description("lift an address's faults (all without one)").action(async (address?: string) => {
    await (await attachFleet(fleetId())).clear(address);
    out(`${address ?? 'every address'}: faults lifted`);
  });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    const e = err as { code?: unknown; exitCode?: unknown; message?: unknown };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    console.error(`lab: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
