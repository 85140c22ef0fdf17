import { setMaxListeners } from 'node:events';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { BMC_USER, ipmitool, parsePowerStatus, startBmc, writeBmc } from './bmc.ts';
import { cleanStaleLab, killAndWait } from './clean.ts';
import { writeHost, writeLabBin } from './host-files.ts';
import {
  MANAGEMENT_USER, MAX_HOSTS, bmcPort, checkHostName, checkLabId, defaultLabDir, gatewayAddress, hostAddress,
  failedLabDir, hostMac, labRecordPath, labRoot, netnsName, secondBridgeName, secondGatewayAddress, secondHostAddress, secondSubnet,
  subnet, vantageAddress, vantageNetnsName,
} from './names.ts';
import {
  answersPing, answersPingFromVantage, createBridge, createHostNet, createHostSecondNet, createSecondBridge, createVantageNet,
  forgetNeighbour, linkPassing, linkPlugged, setLink, setPathCut,
} from './network.ts';
import { run, runOk, sleep } from './run.ts';
import { nspawnRoot, processRuns, unmountNspawnRoot } from './nspawn.ts';
import {
  LAB_SERVICES, LAB_VARIANTS, hasSslPassphrase, initOf, portsOf, releaseOf, servicesOf, type ConsoleResult, type Lab,
  type LabHost, type LabPath, type LabSecondNetwork, type LabService, type LabVariant, type PowerAction, type PowerState, type StartLabOptions,
} from './types.ts';

const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));

/** What a running lab leaves in /tmp/mamori-lab/<id>.json (0600) so another process can attach. */
interface LabRecord {
  id: number;
  dir: string;
  startedBy: number;
  hosts: Omit<LabHost, 'sslPassphrase'>[];
  bmcPids: Record<string, number>;
  /** Started with the second management network. */
  second?: boolean;
}

function secondNetworkOf(record: LabRecord): LabSecondNetwork | undefined {
  if (record.second !== true) return undefined;
  const { id } = record;
  return {
    subnet: secondSubnet(id),
    gateway: secondGatewayAddress(id),
    bridge: secondBridgeName(id),
    vantageNetns: vantageNetnsName(id),
    vantageAddress: vantageAddress(id),
    hostAddresses: Object.fromEntries(record.hosts.map((h, i) => [h.name, secondHostAddress(id, i)])),
  };
}

/** Where each daemon writes, for the reason of a failed start. */
const SERVICE_LOGS: Record<LabService, string[]> = {
  sshd: ['log/sshd.out', 'log/secure'],
  httpd: ['log/httpd.out', 'log/httpd/error_log'],
  vsftpd: ['log/vsftpd.out', 'log/vsftpd.log'],
  dovecot: ['log/dovecot.out', 'log/dovecot.log'],
  sendmail: ['log/sendmail.out', 'log/exim4/mainlog', 'log/exim4/paniclog'],
  postfix: ['log/postfix.out', 'log/maillog'],
  xinetd: ['log/xinetd.out'],
  inetd: ['log/inetd.out'],
  telnet: [],
};

/** On a systemd host: the unit of each service, and its logs on the host's disk. */
const SYSTEMD_UNIT: Partial<Record<LabService, string>> = {
  sshd: 'sshd.service', httpd: 'httpd.service', vsftpd: 'vsftpd.service', dovecot: 'dovecot.service', postfix: 'postfix.service', telnet: 'telnet.socket',
};
const SYSTEMD_LOGS: Partial<Record<LabService, string[]>> = {
  httpd: ['root/var/log/httpd/error_log'],
  vsftpd: ['root/var/log/vsftpd.log'],
  dovecot: ['root/var/log/dovecot.log'],
  postfix: ['root/var/log/maillog'],
};

/** On a FreeBSD-like host: where each daemon writes (rc.d scripts leave daemons their own logs). */
const RC_LOGS: Partial<Record<LabService, string[]>> = {
  sshd: ['log/messages'],
  httpd: ['log/httpd-error.log', 'log/messages'],
  inetd: ['log/messages'],
  dovecot: ['log/dovecot.log', 'log/messages'],
  sendmail: ['log/exim4/mainlog', 'log/exim4/paniclog', 'log/messages'],
};

/** The pid file of a daemon (FreeBSD's dovecot keeps its own under its base_dir). */
function pidFileOf(variant: LabVariant, service: LabService): string {
  return service === 'dovecot' && initOf(variant) === 'rc' ? '/var/run/dovecot/master.pid' : `/var/run/${service}.pid`;
}

async function tail(path: string, lines = 8): Promise<string> {
  try {
    const text = (await readFile(path, 'utf8')).trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * TCP ports in LISTEN inside a host, from /proc/<init>/net/tcp{,6} (the host's network
 * namespace seen from the machine): no process to spawn, so polling is cheap.
 */
export async function listeningPorts(labDir: string, host: LabHost): Promise<Set<number>> {
  const ports = new Set<number>();
  const pid = await initPid(labDir, host);
  if (pid === undefined) return ports;
  for (const f of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = await readFile(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const port = cols[1]?.split(':').pop();
      if (cols[3] === '0A' && port) ports.add(parseInt(port, 16));
    }
  }
  return ports;
}

/**
 * The machine's pid of a host's init, while it runs: init.sh of a SysV host, or the systemd
 * (PID 1 of its container) whose parent is this host's systemd-nspawn.
 */
async function initPid(labDir: string, host: LabHost): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(join(host.dir, 'init.pid'), 'utf8')).trim());
    if (!(await processRuns(pid))) return undefined;
    if (initOf(host.variant) === 'systemd') {
      const ppid = /^PPid:\s*(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
      const parent = (await readFile(`/proc/${ppid}/cmdline`, 'utf8')).split('\0');
      return (parent[0] ?? '').endsWith('systemd-nspawn') && parent.includes(nspawnRoot(host.dir)) ? pid : undefined;
    }
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return argv.includes(join(labDir, 'bin', 'init.sh')) && argv.includes(host.dir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function makeLab(record: LabRecord, passphrases: Record<string, string>): Lab {
  const { id, dir } = record;
  const hosts: LabHost[] = record.hosts.map((h) =>
    passphrases[h.name] ? { ...h, sslPassphrase: passphrases[h.name] } : { ...h },
  );
  const host = (name: string): LabHost => {
    const h = hosts.find((x) => x.name === name);
    if (!h) throw new Error(`lab ${id}: no host named "${name}" (hosts: ${hosts.map((x) => x.name).join(', ')})`);
    return h;
  };
  const indexOf = (name: string): number => hosts.indexOf(host(name));

  const consoleRun = async (name: string, command: string, opts: { timeoutMs?: number } = {}): Promise<ConsoleResult> => {
    const h = host(name);
    const pid = await initPid(dir, h);
    if (pid === undefined) throw new Error(`lab ${id}: host ${name} is powered off (no init): no console`);
    return run(
      'nsenter',
      ['-t', String(pid), '-a', '--wd=/', '--', '/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
        'HOME=/root', 'LANG=C', 'TERM=dumb', 'USER=root', '/bin/bash', '--norc', '--noprofile', '-c', command],
      { timeoutMs: opts.timeoutMs ?? 30_000 },
    );
  };

  const waitPorts = async (h: LabHost, ports: readonly number[], want: 'open' | 'closed', timeoutMs: number): Promise<number[]> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const open = await listeningPorts(dir, h);
      const pending = ports.filter((p) => open.has(p) !== (want === 'open'));
      if (pending.length === 0 || Date.now() > until) return pending;
      await sleep(100);
    }
  };

  /** Reachable from the machine (unless its cable is pulled): carrier, then an answer to ping. */
  const waitReachable = async (h: LabHost, until: number): Promise<void> => {
    const index = indexOf(h.name);
    if (!(await linkPlugged(id, index))) return;
    while (!(await linkPassing(id, index))) {
      if (Date.now() > until) throw new Error(`lab ${id}: host ${h.name} is up but its link carries no frames`);
      await sleep(50);
    }
    await forgetNeighbour(id, h.address);
    while (!(await answersPing(h.address))) {
      if (Date.now() > until) throw new Error(`lab ${id}: host ${h.name} is up but does not answer ping from ${gatewayAddress(id)}`);
      await forgetNeighbour(id, h.address);
    }
  };

  const waitReady = async (name: string, opts: { timeoutMs?: number; services?: readonly LabService[] } = {}): Promise<void> => {
    const h = host(name);
    const services = opts.services ?? servicesOf(h.variant);
    const ports = services.flatMap((s) => portsOf(h.variant, s));
    const until = Date.now() + (opts.timeoutMs ?? 30_000);
    const pending = await waitPorts(h, ports, 'open', opts.timeoutMs ?? 30_000);
    if (pending.length === 0) {
      // Ready means reachable too (unless its cable is pulled): after a power-on the NIC's
      // carrier may lag the daemons.
      await waitReachable(h, until);
      return;
    }
    const down = services.filter((s) => portsOf(h.variant, s).some((p) => pending.includes(p)));
    const parts: string[] = [];
    for (const s of down) {
      const init = initOf(h.variant);
      const files = init === 'systemd' ? (SYSTEMD_LOGS[s] ?? []) : init === 'rc' ? (RC_LOGS[s] ?? []) : SERVICE_LOGS[s];
      const logs = await Promise.all(files.map(async (f) => [f, await tail(join(h.dir, f))] as const));
      const text = logs.filter(([, t]) => t !== '').map(([f, t]) => `--- ${f}\n${t}`).join('\n');
      parts.push(`${s} (port ${portsOf(h.variant, s).join(',')}) is not listening${text ? `:\n${text}` : ' and wrote no log'}`);
    }
    const boot = await tail(join(h.dir, 'console.log'), 12);
    throw new Error(`lab ${id}: host ${name} did not come up: ${parts.join('\n')}\n--- console.log\n${boot}`);
  };

  const power = async (name: string, action: PowerAction): Promise<PowerState> => {
    const h = host(name);
    const before = await initPid(dir, h);
    const r = await ipmitool(h.bmc.port, h.bmc.user, h.bmc.passwordFile, action);
    if (r.code !== 0) {
      throw new Error(`lab ${id}: ipmitool chassis power ${action} for ${name} exited ${r.code}: ${r.stderr.trim()}`);
    }
    if (action === 'status') {
      const state = parsePowerStatus(r.stdout);
      if (!state) throw new Error(`lab ${id}: ipmitool said no power state for ${name}: ${r.stdout.trim()}`);
      return state;
    }
    const want: PowerState = action === 'off' || action === 'soft' ? 'off' : 'on';
    const until = Date.now() + (action === 'soft' ? 40_000 : 15_000);
    // A cycle or reset is done when a new init runs (ipmi_sim powers on ~1 s after the off).
    const fresh = action === 'cycle' || action === 'reset';
    for (;;) {
      const now = await initPid(dir, h);
      const on = now !== undefined && (!fresh || now !== before);
      if ((on ? 'on' : 'off') === want) return want;
      if (Date.now() > until) throw new Error(`lab ${id}: host ${name} did not power ${want} after "${action}"`);
      await sleep(50);
    }
  };

  const second = secondNetworkOf(record);
  const paths = (path: LabPath | 'both'): LabPath[] => {
    const list: LabPath[] = path === 'both' ? ['primary', 'second'] : [path];
    if (list.includes('second') && second === undefined) throw new Error(`lab ${id}: no second management network (start it with secondNetwork)`);
    return list;
  };

  return {
    id,
    subnet: subnet(id),
    ...(second !== undefined ? { second } : {}),
    async cut(name, path) {
      host(name);
      for (const p of paths(path)) await setPathCut(id, name, p, true);
    },
    async mend(name, path) {
      host(name);
      for (const p of paths(path)) await setPathCut(id, name, p, false);
    },
    async answers(name, path) {
      const h = host(name);
      paths(path);
      return path === 'primary' ? answersPing(h.address) : answersPingFromVantage(id, h.address);
    },
    gateway: gatewayAddress(id),
    dir,
    managementUser: MANAGEMENT_USER,
    managementKeyPath: join(dir, 'keys', 'mamori_ed25519'),
    legacyKeyPath: join(dir, 'keys', 'mamori_rsa'),
    knownHostsPath: join(dir, 'keys', 'known_hosts'),
    hosts,
    host,
    console: consoleRun,
    async breakService(name, service) {
      const h = host(name);
      if (!LAB_SERVICES.includes(service)) throw new Error(`lab ${id}: no service "${String(service)}"`);
      if (!servicesOf(h.variant).includes(service)) throw new Error(`lab ${id}: ${name} (${h.variant}) runs no ${service}`);
      const unit = SYSTEMD_UNIT[service];
      // A systemd host: the unit's processes die of SIGKILL (a socket unit, which systemd itself
      // holds, is stopped instead: its listener goes away as after a failed socket).
      const command = initOf(h.variant) === 'systemd' && unit
        ? (unit.endsWith('.socket') ? `systemctl stop ${unit}` : `systemctl kill -s KILL ${unit}`)
        : `p=$(cat ${pidFileOf(h.variant, service)} 2>/dev/null) && [ -n "$p" ] && kill -KILL -- "-$p" "$p" 2>/dev/null; exit 0`;
      const r = await consoleRun(name, command);
      if (r.code !== 0) throw new Error(`lab ${id}: could not kill ${service} on ${name}: ${r.stderr}`);
      const left = await waitPorts(h, portsOf(h.variant, service), 'closed', 10_000);
      if (left.length > 0) throw new Error(`lab ${id}: ${service} on ${name} still listens on ${left.join(',')} after SIGKILL`);
    },
    power,
    waitReady,
    async pull(name) {
      await setLink(id, indexOf(name), false);
    },
    async plug(name) {
      const h = host(name);
      await setLink(id, indexOf(name), true);
      // Back on the network means reachable again, when the host has power.
      if ((await initPid(dir, h)) !== undefined) await waitReachable(h, Date.now() + 15_000);
      else await forgetNeighbour(id, h.address);
    },
    async stop() {
      await stopLab(record);
    },
  };
}

async function stopLab(record: LabRecord, opts: { keepFailed?: boolean } = {}): Promise<void> {
  // The BMCs first (a power-on hook must not boot a host we are tearing down), then the hosts'
  // inits (PID 1: the whole host ends with it), then the rest by namespace and folder.
  const bmc: number[] = [];
  for (const pid of Object.values(record.bmcPids)) {
    try {
      const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (argv.includes(`${record.dir}/`)) bmc.push(pid);
    } catch {
      // gone
    }
  }
  await killAndWait(bmc);
  const inits: number[] = [];
  for (const h of record.hosts) {
    const p = await initPid(record.dir, h);
    if (p !== undefined) inits.push(p);
  }
  await killAndWait(inits);
  await cleanStaleLab(record.id, record.dir, opts);
}

async function readPassphrases(hosts: readonly LabHost[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of hosts) {
    if (!hasSslPassphrase(h.variant)) continue;
    out[h.name] = (await readFile(join(h.dir, 'ssl-passphrase'), 'utf8')).trim();
  }
  return out;
}

/** A Lab object for a lab another process started (`npm run lab -- up`). */
export async function attachLab(id: number): Promise<Lab> {
  checkLabId(id);
  let record: LabRecord;
  try {
    record = JSON.parse(await readFile(labRecordPath(id), 'utf8')) as LabRecord;
  } catch (err) {
    throw new Error(`lab ${id}: not running (no ${labRecordPath(id)})`, { cause: err });
  }
  return makeLab(record, await readPassphrases(record.hosts));
}

async function writeRecord(record: LabRecord): Promise<void> {
  await mkdir(labRoot(), { recursive: true, mode: 0o755 });
  await writeFile(labRecordPath(record.id), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

async function makeKeys(dir: string, signal: AbortSignal): Promise<string> {
  const keys = join(dir, 'keys');
  await mkdir(keys, { recursive: true, mode: 0o700 });
  await Promise.all([
    runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mamori@lab', '-f', join(keys, 'mamori_ed25519')], { signal }),
    runOk('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-C', 'mamori-legacy@lab', '-f', join(keys, 'mamori_rsa')], { signal }),
  ]);
  const pubs = await Promise.all(['mamori_ed25519.pub', 'mamori_rsa.pub'].map((f) => readFile(join(keys, f), 'utf8')));
  return pubs.map((p) => p.trim()).join('\n') + '\n';
}

function withDeadline<T>(p: Promise<T>, until: number, what: string, ac?: AbortController): Promise<T> {
  const ms = Math.max(0, until - Date.now());
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac?.abort();
      reject(new Error(`${what}: not done within the start bound`));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Starts lab <id>: cleans what a previous run left, then builds the bridge, one namespace
 * host per spec (booted in parallel) and its BMC, and waits until every daemon listens and
 * every BMC answers. Fails with the reason (which daemon, the tail of its log) and leaves
 * nothing running when it cannot start within the bound.
 */
export async function startLab(opts: StartLabOptions): Promise<Lab> {
  const { id } = opts;
  checkLabId(id);
  if (opts.hosts.length < 1 || opts.hosts.length > MAX_HOSTS) {
    throw new Error(`lab ${id}: a lab has 1..${MAX_HOSTS} hosts, got ${opts.hosts.length}`);
  }
  const seen = new Set<string>();
  for (const h of opts.hosts) {
    checkHostName(h.name);
    if (seen.has(h.name)) throw new Error(`lab ${id}: host "${h.name}" given twice`);
    seen.add(h.name);
    if (h.variant !== undefined && !LAB_VARIANTS.includes(h.variant)) {
      throw new Error(`lab ${id}: host "${h.name}" has unknown variant "${String(h.variant)}" (${LAB_VARIANTS.join(', ')})`);
    }
  }
  const mailTls = new Map(opts.hosts.flatMap((h) => (h.mailTls !== undefined ? [[h.name, h.mailTls] as const] : [])));
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  const dir = resolve(opts.dir ?? defaultLabDir(id));
  await cleanStaleLab(id, dir);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);

  const hosts: LabHost[] = opts.hosts.map((spec, index) => ({
    name: spec.name,
    variant: spec.variant ?? 'standard',
    os: releaseOf(spec.variant ?? 'standard'),
    init: initOf(spec.variant ?? 'standard'),
    address: hostAddress(id, index),
    netns: netnsName(id, spec.name),
    hostKeyFingerprint: '',
    hostKeyAlgorithm: '',
    hostPublicKey: '',
    mac: hostMac(id, index),
    bmc: { host: '127.0.0.1', port: bmcPort(id, index), user: BMC_USER, passwordFile: join(dir, 'bmc', spec.name, 'password') },
    dir: join(dir, 'hosts', spec.name),
  }));
  const record: LabRecord = { id, dir, startedBy: process.pid, hosts, bmcPids: {}, ...(opts.secondNetwork === true ? { second: true } : {}) };
  // Written first: a start that dies half-way is still found and cleaned by the next one.
  await writeRecord(record);

  const ac = new AbortController();
  const { signal } = ac;
  // Every command of the build listens on it: a fleet of 16 runs some 100 at once.
  setMaxListeners(0, signal);
  let building: Promise<void> = Promise.resolve();
  try {
    building = (async () => {
        const [, authorizedKeys] = await Promise.all([
          writeLabBin(dir, ASSETS),
          makeKeys(dir, signal),
          createBridge(id, signal),
          opts.secondNetwork === true ? createSecondBridge(id, signal).then(() => createVantageNet(id, signal)) : undefined,
        ]);
        const fleet = hosts.map((h) => ({ name: h.name, address: h.address }));
        await Promise.all(
          hosts.map(async (h, index) => {
            await createHostNet({ id, index, name: h.name, address: h.address, firewall: h.variant === 'firewall' }, signal);
            if (opts.secondNetwork === true) await createHostSecondNet(id, index, h.name, signal);
            signal.throwIfAborted();
            const keys = await writeHost({
              labDir: dir, dir: h.dir, name: h.name, index, variant: h.variant, address: h.address, netns: h.netns,
              gateway: gatewayAddress(id), fleet, authorizedKeys, ...(mailTls.get(h.name) !== undefined ? { mailTls: mailTls.get(h.name) } : {}),
            }, signal);
            signal.throwIfAborted();
            Object.assign(h, keys);
            await writeBmc({ dir: join(dir, 'bmc', h.name), name: h.name, port: h.bmc.port, hostDir: h.dir, labDir: dir });
          }),
        );
        await writeFile(
          join(dir, 'keys', 'known_hosts'),
          hosts.map((h) => `${h.address} ${h.hostPublicKey}\n`).join(''),
          { mode: 0o644 },
        );
        signal.throwIfAborted();
        for (const h of hosts) record.bmcPids[h.name] = startBmc(join(dir, 'bmc', h.name));
        record.hosts = hosts.map(({ sslPassphrase: _omit, ...rest }) => rest);
        await writeRecord(record);
        signal.throwIfAborted();
        await Promise.all(hosts.map((h) => runOk(join(dir, 'bin', 'power.sh'), [h.dir, 'on'], { signal })));
      })();
    await withDeadline(building, until, `lab ${id}: building the hosts`, ac);
    const lab = makeLab(record, await readPassphrases(hosts));
    await Promise.all(
      hosts.map(async (h) => {
        await lab.waitReady(h.name, { timeoutMs: Math.max(1_000, until - Date.now()) });
        const state = await withDeadline(lab.power(h.name, 'status'), until, `lab ${id}: the BMC of ${h.name}`);
        if (state !== 'on') throw new Error(`lab ${id}: the BMC of ${h.name} says power ${state} on a running host`);
        // The second path works too: the vantage point's namespace reaches the host's address over it.
        while (opts.secondNetwork === true && !(await answersPingFromVantage(id, h.address))) {
          if (Date.now() > until) throw new Error(`lab ${id}: host ${h.name} does not answer ping over the second network (from ${vantageAddress(id)} in ${vantageNetnsName(id)})`);
          await sleep(100);
        }
      }),
    );
    return lab;
  } catch (err) {
    // Nothing of a failed start keeps running: stop building first (its commands are killed
    // on abort), then tear down. The folder is kept as <id>.failed for the logs.
    ac.abort();
    await building.catch(() => undefined);
    const kept = await stopProcessesAndNetwork(record);
    if (err instanceof Error) err.message += `\n(the lab folder is kept in ${kept} until the next start)`;
    throw err;
  }
}

async function stopProcessesAndNetwork(record: LabRecord): Promise<string> {
  const keep = failedLabDir(record.id);
  await rm(keep, { recursive: true, force: true });
  // A systemd host's root is an overlay of the whole machine: never copy through it (its
  // writes are in upper/, which is kept).
  for (const h of record.hosts) if (initOf(h.variant) === 'systemd') await unmountNspawnRoot(h.dir).catch(() => undefined);
  await run('cp', ['-a', record.dir, keep]);
  await stopLab(record, { keepFailed: true });
  return keep;
}
