import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  bridgeMac, bridgeName, gatewayAddress, hostMac, netnsName, secondBridgeMac, secondBridgeName, secondGatewayAddress,
  secondHostAddress, secondHostMac, secondVethName, subnet, vantageAddress, vantageMac, vantageNetnsName, vantageVethName, vethName,
} from './names.ts';
import { run, runOk, sleep } from './run.ts';

/** Ports the firewall variant closes to the management network (not 22: mamori still logs in). */
export const FIREWALLED_PORTS = [21, 23, 25, 80, 110, 143, 443];

export async function createBridge(id: number, signal?: AbortSignal): Promise<void> {
  const br = bridgeName(id);
  await runOk('ip', ['link', 'add', br, 'address', bridgeMac(id), 'type', 'bridge'], { signal });
  await runOk('ip', ['addr', 'add', `${gatewayAddress(id)}/24`, 'dev', br], { signal });
  await runOk('ip', ['link', 'set', br, 'up'], { signal });
}

/** The second management network's bridge (10.232.<id>.1 on the machine). */
export async function createSecondBridge(id: number, signal?: AbortSignal): Promise<void> {
  const br = secondBridgeName(id);
  await runOk('ip', ['link', 'add', br, 'address', secondBridgeMac(id), 'type', 'bridge'], { signal });
  await runOk('ip', ['addr', 'add', `${secondGatewayAddress(id)}/24`, 'dev', br], { signal });
  await runOk('ip', ['link', 'set', br, 'up'], { signal });
}

/**
 * A host's second NIC (eth1, 10.232.<id>.(11 + index)) on the second management network. The host
 * keeps one address that matters, its primary one (the manifest's): the vantage point reaches it
 * on-link over this network, the host answering ARP for it on eth1 (Linux's default arp_ignore 0),
 * and replies leave by eth1 (the connected route). Two independent paths to one address, as two
 * management networks are to a customer's server.
 */
export async function createHostSecondNet(id: number, index: number, name: string, signal?: AbortSignal): Promise<void> {
  const ns = netnsName(id, name);
  const veth = secondVethName(id, index);
  await runOk('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth1', 'address', secondHostMac(id, index), 'netns', ns], { signal });
  await runOk('ip', ['link', 'set', veth, 'master', secondBridgeName(id), 'up'], { signal });
  await runOk('ip', ['-n', ns, '-batch', '-'], { input: `addr add ${secondHostAddress(id, index)}/24 dev eth1\nlink set eth1 up\n`, signal });
}

/**
 * The vantage point's own namespace on the second network (10.232.<id>.2): the machine (the
 * deciding daemon) at 10.232.<id>.1, every host's primary address on-link through its eth1. It has
 * no route to the primary network's bridge: its probes can only take the second path.
 */
export async function createVantageNet(id: number, signal?: AbortSignal): Promise<void> {
  const ns = vantageNetnsName(id);
  const veth = vantageVethName(id);
  await runOk('ip', ['netns', 'add', ns], { signal });
  await runOk('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'address', vantageMac(id), 'netns', ns], { signal });
  await runOk('ip', ['link', 'set', veth, 'master', secondBridgeName(id), 'up'], { signal });
  const batch = [
    `addr add ${vantageAddress(id)}/24 dev eth0`,
    'link set eth0 up',
    'link set lo up',
    `route add ${subnet(id)} dev eth0 src ${vantageAddress(id)}`,
  ].join('\n');
  await runOk('ip', ['-n', ns, '-batch', '-'], { input: `${batch}\n`, signal });
  const etc = join('/etc/netns', ns);
  await mkdir(etc, { recursive: true });
  await writeFile(join(etc, 'hosts'), `127.0.0.1 localhost\n${secondGatewayAddress(id)} mamori\n`);
  await writeFile(join(etc, 'resolv.conf'), 'options timeout:1 attempts:1\n');
}

/** True when the host answers one ping (1 s) from the vantage point's namespace (the second path). */
export async function answersPingFromVantage(id: number, address: string): Promise<boolean> {
  return (await run('ip', ['netns', 'exec', vantageNetnsName(id), 'ping', '-n', '-q', '-c', '1', '-W', '1', address], { timeoutMs: 3_000 })).code === 0;
}

/** The host's NIC on each management network. */
export const PATH_DEVICE = { primary: 'eth0', second: 'eth1' } as const;
export type LabPath = keyof typeof PATH_DEVICE;

/**
 * Cuts (or mends) one management path to a host inside the host's own namespace: iptables drops
 * whatever arrives on that NIC (ping and TCP alike; ARP still answers), as a customer's firewall
 * that allows only the other network would, or a broken uplink. The host keeps running; the rule
 * outlives power cycles (the namespace does). Idempotent both ways.
 */
export async function setPathCut(id: number, name: string, path: LabPath, cut: boolean): Promise<void> {
  const ns = netnsName(id, name);
  const rule = ['INPUT', '-i', PATH_DEVICE[path], '-j', 'DROP'];
  const present = async (): Promise<boolean> => (await run('ip', ['netns', 'exec', ns, 'iptables', '-w', '-C', ...rule])).code === 0;
  if (cut) {
    if (!(await present())) await runOk('ip', ['netns', 'exec', ns, 'iptables', '-w', '-I', ...rule]);
    return;
  }
  for (let i = 0; i < 8 && (await present()); i++) await runOk('ip', ['netns', 'exec', ns, 'iptables', '-w', '-D', ...rule]);
}

/** Whether a management path to the host is cut (setPathCut's rule is in place). */
export async function pathCut(id: number, name: string, path: LabPath): Promise<boolean> {
  return (await run('ip', ['netns', 'exec', netnsName(id, name), 'iptables', '-w', '-C', 'INPUT', '-i', PATH_DEVICE[path], '-j', 'DROP'])).code === 0;
}

export interface HostNet {
  id: number;
  index: number;
  name: string;
  address: string;
  firewall: boolean;
}

/** A host's network namespace, its veth on the lab bridge, and the /etc/netns files LAB.md asks for. */
export async function createHostNet(h: HostNet, signal?: AbortSignal): Promise<void> {
  const ns = netnsName(h.id, h.name);
  const veth = vethName(h.id, h.index);
  const gw = gatewayAddress(h.id);
  await runOk('ip', ['netns', 'add', ns], { signal });
  await runOk('ip', [
    'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'address', hostMac(h.id, h.index), 'netns', ns,
  ], { signal });
  await runOk('ip', ['link', 'set', veth, 'master', bridgeName(h.id), 'up'], { signal });
  const batch = [
    `addr add ${h.address}/24 dev eth0`,
    'link set eth0 up',
    'link set lo up',
    `route add default via ${gw}`,
  ].join('\n');
  await runOk('ip', ['-n', ns, '-batch', '-'], { input: `${batch}\n`, signal });
  const etc = join('/etc/netns', ns);
  await mkdir(etc, { recursive: true });
  await writeFile(join(etc, 'hosts'), `127.0.0.1 localhost\n${h.address} ${h.name}\n${gw} mamori gateway\n`);
  await writeFile(join(etc, 'resolv.conf'), 'options timeout:1 attempts:1\n');
  if (h.firewall) {
    await runOk('ip', [
      'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-s', gw, '-p', 'tcp', '-m', 'multiport',
      '--dports', FIREWALLED_PORTS.join(','), '-j', 'DROP',
    ], { signal });
  }
}

async function sysNet(dev: string, file: string): Promise<string> {
  try {
    return (await readFile(`/sys/class/net/${dev}/${file}`, 'utf8')).trim();
  } catch {
    return '';
  }
}

/** True when the host's cable is in (its veth is administratively up), whatever the power. */
export async function linkPlugged(id: number, index: number): Promise<boolean> {
  return (Number.parseInt(await sysNet(vethName(id, index), 'flags'), 16) & 1) === 1;
}

/**
 * True when frames pass between the machine and the host: its veth and the lab bridge both
 * have carrier. The kernel reports carrier up to a second after a link comes up (linkwatch),
 * and until then the lab subnet's route is "linkdown".
 */
export async function linkPassing(id: number, index: number): Promise<boolean> {
  const [veth, bridge] = await Promise.all([sysNet(vethName(id, index), 'operstate'), sysNet(bridgeName(id), 'operstate')]);
  return veth === 'up' && bridge === 'up';
}

/**
 * Makes the machine ask again for a host's MAC: an ARP resolution that ran out while the
 * host was unreachable leaves the entry FAILED, and the connections queued on it fail with
 * "No route to host" even after the host is back.
 */
export async function forgetNeighbour(id: number, address: string): Promise<void> {
  await run('ip', ['neigh', 'del', address, 'dev', bridgeName(id)]);
}

/** True when the host answers one ping (1 s) from the machine. */
export async function answersPing(address: string): Promise<boolean> {
  return (await run('ping', ['-n', '-q', '-c', '1', '-W', '1', address], { timeoutMs: 3_000 })).code === 0;
}

/** Pulls or plugs the host's cable; plugging waits until frames pass again (up to 10 s). */
export async function setLink(id: number, index: number, up: boolean): Promise<void> {
  await runOk('ip', ['link', 'set', vethName(id, index), up ? 'up' : 'down']);
  if (!up) return;
  const until = Date.now() + 10_000;
  while (!(await linkPassing(id, index)) && Date.now() < until) await sleep(50);
}

/** Removes whatever exists of these; missing parts are fine (teardown is idempotent). */
export async function deleteNetwork(id: number, namespaces: readonly string[], veths: readonly string[]): Promise<void> {
  for (const v of veths) await run('ip', ['link', 'del', v]);
  for (const ns of namespaces) {
    await run('ip', ['netns', 'del', ns]);
    await rm(join('/etc/netns', ns), { recursive: true, force: true });
  }
  await run('ip', ['link', 'del', bridgeName(id)]);
  await run('ip', ['link', 'del', secondBridgeName(id)]);
}
