/**
 * The fleet lab: N servers on one box, for scale (issue 28). Every server is an address of one
 * network namespace (`ml<id>-fleet`): its /16, derived from the id (`fleetRange`: 10.(240 + id mod 16).0.0/16,
 * outside the lab ids' 10.231.x and the second network's 10.232.x; fleet 154's is 10.250.0.0/16), is
 * made local there by ONE route (`ip route add local <range> dev lo`), so any address of
 * it answers with no neighbour table to overflow, and the machine reaches it by one route through
 * one veth. One event-driven responder process (assets/fleet-responder.mjs) answers every address
 * with each protocol's greeting (SSH, FTP, SMTP, POP3, IMAP, TELNET) and HTTP HEAD / HTTPS; ICMP
 * is the kernel's.
 *
 * Two fleet labs run side by side (the fleet bench, the fleet test, ttr's fleet lanes) when their
 * ids differ mod 16; ids 16 apart share a /16, and a start refuses a /16 another fleet routes.
 *
 * A few **sample servers** (the first `sample` indices, addresses 10.X.255.10+k) live in a second
 * namespace (`ml<id>-sample`, reached by the more specific route 10.X.255.0/24), each bound to
 * its own address and served by its own responder process: killing one ("a killed responder")
 * refuses that server's ports and nothing else's.
 *
 * Faults per address: `drop` (iptables DROP of everything to it: no ping either), `refuse PORT`
 * (TCP reset on one port), `slow MS [PORT…]` (the greeting waits), `kill` (sample servers only).
 * No connection tracking anywhere (plain INPUT rules, no NAT): 2,000 connections a second would
 * otherwise fill the conntrack table with TIME_WAIT entries.
 *
 * Names, all derived from the id so that a killed run is found again: netns ml<id>-fleet and
 * ml<id>-sample, veths mlv<id>-0 / mlv<id>-1 (link nets 10.231.<id>.0/30 and .4/30), folder
 * /tmp/mamori-lab/fleet-<id>, record /tmp/mamori-lab/fleet-<id>.json.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { checkLabId, labRoot } from './names.ts';
import { killAndWait } from './clean.ts';
import { run, runOk, sleep } from './run.ts';

/** The second octet of fleet lab <id>'s /16: 240..255, so that fleets of ids apart mod 16 never share addresses. */
export const fleetOctet = (id: number): number => 240 + (id % 16);
/** Fleet lab <id>'s /16 (10.240.0.0/16 … 10.255.0.0/16): its servers, and the machine's route to them. */
export const fleetRange = (id: number): string => `10.${fleetOctet(id)}.0.0/16`;
/** The sample servers' /24, routed to the second namespace. */
export const sampleRange = (id: number): string => `10.${fleetOctet(id)}.255.0/24`;
/** The most servers a fleet lab holds: 250 a /24 from 10.X.0.x to 10.X.254.x. */
export const MAX_FLEET = 250 * 255;
export const MAX_SAMPLE = 16;
/** The ports the responders answer, in the order a sample responder numbers them. */
export const FLEET_PORTS = { ftp: 21, ssh: 22, telnet: 23, smtp: 25, http: 80, pop3: 110, imap: 143, https: 443 } as const;
const RESPONDER = fileURLToPath(new URL('./assets/fleet-responder.mjs', import.meta.url));

export const fleetNetns = (id: number): string => `ml${id}-fleet`;
export const sampleNetns = (id: number): string => `ml${id}-sample`;
export const fleetVeth = (id: number, i: 0 | 1): string => `mlv${id}-${i}`;
export const fleetDir = (id: number): string => join(labRoot(), `fleet-${id}`);
export const fleetRecordPath = (id: number): string => join(labRoot(), `fleet-${id}.json`);
/** Machine side / namespace side of the two link nets. */
const linkAddr = (id: number, i: 0 | 1, side: 'machine' | 'ns'): string => `10.231.${id}.${i * 4 + (side === 'machine' ? 1 : 2)}`;

/** Server i's address in fleet lab <id>: the sample servers first (10.X.255.10+k), then 250 a /24 from 10.X.0.2. */
export function fleetAddress(id: number, i: number, sample: number): string {
  const x = fleetOctet(id);
  if (i < sample) return `10.${x}.255.${10 + i}`;
  const j = i - sample;
  return `10.${x}.${Math.floor(j / 250)}.${(j % 250) + 2}`;
}

export type FleetFault = { kind: 'drop' } | { kind: 'refuse'; port: number } | { kind: 'slow'; ms: number; ports?: number[] } | { kind: 'kill' };

export interface FleetRecord {
  id: number;
  n: number;
  sample: number;
  dir: string;
  /** The main responder's pid, and each sample server's (null while killed). */
  responder: number;
  samples: Array<number | null>;
  faults: Record<string, FleetFault[]>;
}

export interface FleetLab {
  readonly id: number;
  readonly n: number;
  readonly sample: number;
  readonly dir: string;
  readonly caPath: string;
  /** The fleet's /16 (fleetRange(id)): for targetNetworks. */
  readonly range: string;
  address(i: number): string;
  addresses(): string[];
  /** The sample index of an address, or -1. */
  sampleIndex(address: string): number;
  fault(address: string, f: FleetFault): Promise<void>;
  /** Lifts every fault of the address (or all of them), restarting a killed sample responder. */
  clear(address?: string): Promise<void>;
  faults(): Record<string, FleetFault[]>;
  /** Connections each responder has served, by port (summed). */
  counts(): Promise<Record<number, number>>;
  responderPids(): number[];
  stop(): Promise<void>;
}

/** Written aside and renamed: another process attaching (the bench, the lab command) never reads half of it. */
async function writeRecord(rec: FleetRecord): Promise<void> {
  const file = fleetRecordPath(rec.id);
  await writeFile(`${file}.tmp`, JSON.stringify(rec, null, 2));
  await rename(`${file}.tmp`, file);
}

async function startResponder(id: number, dir: string, ns: string, offset: number, bind?: string, timeoutMs = 15_000): Promise<number> {
  const ready = join(dir, `ready-${offset}`);
  await rm(ready, { force: true });
  const log = openSync(join(dir, `responder-${offset}.log`), 'a');
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, RESPONDER, dir, String(offset), ...(bind ? [bind] : [])], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`fleet lab ${id}: the responder did not start`);
  const until = Date.now() + timeoutMs;
  while (!existsSync(ready)) {
    if (Date.now() > until || child.exitCode !== null) {
      const tail = await readFile(join(dir, `responder-${offset}.log`), 'utf8').catch(() => '');
      throw new Error(`fleet lab ${id}: responder ${offset} not listening within ${timeoutMs} ms: ${tail.slice(-1000)}`);
    }
    await sleep(20);
  }
  // `ip netns exec` execs the program: the pid is node's; the ready file says so too.
  return Number(await readFile(ready, 'utf8')) || pid;
}

/** A CA and a server certificate it signed (the HTTPS port), so that mamori can trust the fleet (tls.caFiles). */
async function makeCertificates(dir: string): Promise<void> {
  const ca = join(dir, 'ca');
  await runOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30', '-subj', '/CN=mamori fleet lab CA', '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`]);
  await runOk('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=fleet.lab', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.csr')]);
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=DNS:fleet.lab,DNS:*.fleet.lab\nbasicConstraints=CA:FALSE\n');
  await runOk('openssl', ['x509', '-req', '-in', join(dir, 'cert.csr'), '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial', '-days', '30', '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'cert.pem')]);
}

async function makeNamespace(id: number, i: 0 | 1, ns: string, route: string): Promise<void> {
  const veth = fleetVeth(id, i);
  await runOk('ip', ['netns', 'add', ns]);
  await runOk('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await runOk('ip', ['addr', 'add', `${linkAddr(id, i, 'machine')}/30`, 'dev', veth]);
  await runOk('ip', ['link', 'set', veth, 'up']);
  const batch = [`addr add ${linkAddr(id, i, 'ns')}/30 dev eth0`, 'link set eth0 up', 'link set lo up', `route add default via ${linkAddr(id, i, 'machine')}`];
  await runOk('ip', ['-n', ns, '-batch', '-'], { input: `${batch.join('\n')}\n` });
  // The fault chain: every fault is a rule here, nothing tracks connections.
  await runOk('ip', ['netns', 'exec', ns, 'iptables', '-N', 'FLEET']);
  await runOk('ip', ['netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-j', 'FLEET']);
  await runOk('ip', ['route', 'replace', route, 'via', linkAddr(id, i, 'ns'), 'dev', veth]);
}

/** Everything the fleet lab <id> may have left: processes, namespaces, links, folder, record. */
export async function cleanFleet(id: number): Promise<void> {
  checkLabId(id);
  for (let pass = 0; pass < 2; pass += 1) {
    const pids: number[] = [];
    for (const ns of [fleetNetns(id), sampleNetns(id)]) {
      const r = await run('ip', ['netns', 'pids', ns]);
      for (const p of r.stdout.split(/\s+/)) if (/^\d+$/.test(p)) pids.push(Number(p));
    }
    await killAndWait(pids.filter((p) => p !== process.pid));
  }
  for (const i of [0, 1] as const) await run('ip', ['link', 'del', fleetVeth(id, i)]);
  for (const ns of [fleetNetns(id), sampleNetns(id)]) await run('ip', ['netns', 'del', ns]);
  await rm(fleetDir(id), { recursive: true, force: true });
  await rm(fleetRecordPath(id), { force: true });
  await rm(`${fleetRecordPath(id)}.tmp`, { force: true });
}

/** What of fleet lab <id> is still on the machine (empty after `stop`/`cleanFleet`). */
export async function fleetLeftovers(id: number): Promise<string[]> {
  const found: string[] = [];
  const ns = await run('ip', ['netns', 'list']);
  for (const l of ns.stdout.split('\n')) {
    const name = l.split(/\s+/)[0] ?? '';
    if (name === fleetNetns(id) || name === sampleNetns(id)) found.push(`netns ${name}`);
  }
  const links = await run('ip', ['-o', 'link', 'show']);
  for (const m of links.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm)) if (m[1] === fleetVeth(id, 0) || m[1] === fleetVeth(id, 1)) found.push(`link ${m[1]}`);
  const routes = await run('ip', ['route', 'show']);
  for (const l of routes.stdout.split('\n')) if (l.includes(`dev ${fleetVeth(id, 0)} `) || l.includes(`dev ${fleetVeth(id, 1)} `)) found.push(`route ${l}`);
  const dir = fleetDir(id);
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    const cwd = await readlink(`/proc/${e}/cwd`).catch(() => '');
    if (cmd.includes(RESPONDER) && cmd.includes(dir)) found.push(`process ${e} ${cmd.replace(/\0/g, ' ')}`);
    else if (cwd.startsWith(`${dir}/`)) found.push(`process ${e} (cwd ${cwd})`);
  }
  if (existsSync(dir)) found.push(`folder ${dir}`);
  if (existsSync(fleetRecordPath(id))) found.push(`record ${fleetRecordPath(id)}`);
  return found;
}

export interface StartFleetOptions {
  id: number;
  n: number;
  /** Sample servers with a responder of their own (default 4; at most 16, at most n). */
  sample?: number;
}

/** Brings fleet lab <id> up with N servers (whatever a killed run left is removed first). */
export async function startFleet(o: StartFleetOptions): Promise<FleetLab> {
  checkLabId(o.id);
  if (!Number.isInteger(o.n) || o.n < 1 || o.n > MAX_FLEET) throw new Error(`fleet lab: N must be an integer 1..${MAX_FLEET}, got ${String(o.n)}`);
  const sample = Math.min(o.n, o.sample ?? 4);
  if (!Number.isInteger(sample) || sample < 0 || sample > MAX_SAMPLE) throw new Error(`fleet lab: sample must be 0..${MAX_SAMPLE}`);
  // Ids 16 apart share a /16: a route to it through another device than ours means another fleet
  // lab is up there. Checked before anything of ours is cleaned or made, so a refused start touches nothing.
  const taken = (await run('ip', ['route', 'show', fleetRange(o.id)])).stdout.trim();
  if (taken !== '' && !taken.includes(`dev ${fleetVeth(o.id, 0)} `) && !taken.endsWith(`dev ${fleetVeth(o.id, 0)}`)) {
    throw new Error(`fleet lab ${o.id}: its range ${fleetRange(o.id)} is routed already (${taken}): another fleet lab (an id ≡ ${o.id % 16} mod 16) is up; take another id`);
  }
  await cleanFleet(o.id);
  const dir = fleetDir(o.id);
  await mkdir(dir, { recursive: true });
  const rec: FleetRecord = { id: o.id, n: o.n, sample, dir, responder: 0, samples: [], faults: {} };
  try {
    await writeRecord(rec);
    await makeCertificates(dir);
    await writeFile(join(dir, 'faults.json'), '{}');
    await makeNamespace(o.id, 0, fleetNetns(o.id), fleetRange(o.id));
    await runOk('ip', ['-n', fleetNetns(o.id), 'route', 'add', 'local', fleetRange(o.id), 'dev', 'lo']);
    await makeNamespace(o.id, 1, sampleNetns(o.id), sampleRange(o.id));
    for (let k = 0; k < sample; k += 1) await runOk('ip', ['-n', sampleNetns(o.id), 'addr', 'add', `${fleetAddress(o.id, k, sample)}/32`, 'dev', 'lo']);
    rec.responder = await startResponder(o.id, dir, fleetNetns(o.id), 0);
    for (let k = 0; k < sample; k += 1) rec.samples.push(await startResponder(o.id, dir, sampleNetns(o.id), k + 1, fleetAddress(o.id, k, sample)));
    await writeRecord(rec);
  } catch (err) {
    await cleanFleet(o.id);
    throw err;
  }
  return fleetOf(rec);
}

/** The fleet lab another process started (`npm run lab -- fleet up N`). */
export async function attachFleet(id: number): Promise<FleetLab> {
  let rec: FleetRecord;
  try {
    rec = JSON.parse(await readFile(fleetRecordPath(id), 'utf8')) as FleetRecord;
  } catch {
    throw new Error(`fleet lab ${id} is not up (no ${fleetRecordPath(id)})`);
  }
  return fleetOf(rec);
}

function fleetOf(rec: FleetRecord): FleetLab {
  const id = rec.id;
  const x = fleetOctet(id);
  const nsOf = (address: string): string => (address.startsWith(`10.${x}.255.`) ? sampleNetns(id) : fleetNetns(id));
  const sampleIndex = (address: string): number => {
    for (let k = 0; k < rec.sample; k += 1) if (fleetAddress(id, k, rec.sample) === address) return k;
    return -1;
  };
  const checkAddress = (address: string): void => {
    const m = /^10\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(address);
    if (m === null || Number(m[1]) !== x) throw new Error(`fleet lab ${id}: ${address} is not a fleet address (${fleetRange(id)})`);
  };
  const signalAll = (sig: NodeJS.Signals): void => {
    for (const pid of [rec.responder, ...rec.samples]) {
      if (pid === null || pid === 0) continue;
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
  };
  const writeSlow = async (): Promise<void> => {
    const slow: Record<string, { slowMs: number; ports?: number[] }> = {};
    for (const [addr, fs] of Object.entries(rec.faults)) {
      for (const f of fs) if (f.kind === 'slow') slow[addr] = { slowMs: f.ms, ...(f.ports ? { ports: f.ports } : {}) };
    }
    await writeFile(join(rec.dir, 'faults.json'), JSON.stringify(slow));
    signalAll('SIGHUP');
  };
  const iptables = (address: string, args: string[]): Promise<string> => runOk('ip', ['netns', 'exec', nsOf(address), 'iptables', ...args]);
  const ruleOf = (address: string, f: FleetFault): string[] | undefined =>
    f.kind === 'drop' ? ['-d', `${address}/32`, '-j', 'DROP'] : f.kind === 'refuse' ? ['-d', `${address}/32`, '-p', 'tcp', '--dport', String(f.port), '-j', 'REJECT', '--reject-with', 'tcp-reset'] : undefined;

  const lab: FleetLab = {
    id,
    n: rec.n,
    sample: rec.sample,
    dir: rec.dir,
    caPath: join(rec.dir, 'ca.pem'),
    range: fleetRange(id),
    address: (i) => fleetAddress(id, i, rec.sample),
    addresses: () => Array.from({ length: rec.n }, (_, i) => fleetAddress(id, i, rec.sample)),
    sampleIndex,
    async fault(address, f) {
      checkAddress(address);
      if (f.kind === 'kill') {
        const k = sampleIndex(address);
        if (k < 0) throw new Error(`fleet lab: ${address} is not a sample server (only they have a responder of their own to kill)`);
        const pid = rec.samples[k];
        if (pid !== null && pid !== undefined) await killAndWait([pid]);
        rec.samples[k] = null;
      } else {
        const rule = ruleOf(address, f);
        if (rule) await iptables(address, ['-A', 'FLEET', ...rule]);
      }
      rec.faults[address] = [...(rec.faults[address] ?? []), f];
      await writeRecord(rec);
      if (f.kind === 'slow') await writeSlow();
    },
    async clear(address) {
      const targets = address === undefined ? Object.keys(rec.faults) : [address];
      for (const a of targets) {
        for (const f of rec.faults[a] ?? []) {
          const rule = ruleOf(a, f);
          if (rule) await iptables(a, ['-D', 'FLEET', ...rule]).catch(() => '');
          if (f.kind === 'kill') {
            const k = sampleIndex(a);
            if (rec.samples[k] === null) rec.samples[k] = await startResponder(id, rec.dir, sampleNetns(id), k + 1, a);
          }
        }
        delete rec.faults[a];
      }
      await writeRecord(rec);
      await writeSlow();
    },
    faults: () => structuredClone(rec.faults),
    async counts() {
      const sum: Record<number, number> = {};
      const offsets = [0, ...rec.samples.map((p, k) => (p === null ? -1 : k + 1))].filter((o) => o >= 0);
      for (const o of offsets) await rm(join(rec.dir, `counts-${o}.json`), { force: true });
      signalAll('SIGUSR2');
      for (const o of offsets) {
        const file = join(rec.dir, `counts-${o}.json`);
        const until = Date.now() + 5_000;
        while (!existsSync(file) && Date.now() < until) await sleep(10);
        const c = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Record<string, number>;
        for (const [p, v] of Object.entries(c)) sum[Number(p)] = (sum[Number(p)] ?? 0) + v;
      }
      return sum;
    },
    responderPids: () => [rec.responder, ...rec.samples].filter((p): p is number => typeof p === 'number' && p > 0),
    stop: () => cleanFleet(id),
  };
  return lab;
}
