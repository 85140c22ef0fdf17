import { join } from 'node:path';

/**
 * Every name of lab <id> is derived here, so that cleanStaleLab(id) can find what a killed run
 * left behind: bridge mlab<id>, netns ml<id>-<host>, host-side veth mlv<id>-<index>, subnet
 * 10.231.<id>.0/24, BMC ports 9000 + id*16 + index (UDP on 127.0.0.1), folder
 * /tmp/mamori-lab/<id> and its record /tmp/mamori-lab/<id>.json.
 *
 * The second management network (a lab started with `secondNetwork`): bridge mlab<id>b,
 * 10.232.<id>.0/24, the machine 10.232.<id>.1, each host's eth1 10.232.<id>.(11 + index) behind
 * host-side veth mlv<id>-b<index>, and the vantage point's namespace ml<id>-_vantage (a host name
 * has no underscore) at 10.232.<id>.2 behind mlv<id>-v. Every name keeps its lab's prefix, so
 * cleanStaleLab finds it.
 */
export const MAX_HOSTS = 16;
export const MANAGEMENT_USER = 'mamori';
export const MANAGEMENT_UID = 4231;

export function checkLabId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 255) {
    throw new Error(`lab: id must be an integer 0..255, got ${String(id)}`);
  }
}

// A fixed root, not os.tmpdir(): a process with another TMPDIR must still find a stale lab.
export const labRoot = (): string => '/tmp/mamori-lab';
export const defaultLabDir = (id: number): string => join(labRoot(), String(id));
/** Where the folder of a start that failed is kept for its logs, until the next start. */
export const failedLabDir = (id: number): string => join(labRoot(), `${id}.failed`);
export const labRecordPath = (id: number): string => join(labRoot(), `${id}.json`);
export const bridgeName = (id: number): string => `mlab${id}`;
export const netnsPrefix = (id: number): string => `ml${id}-`;
export const netnsName = (id: number, host: string): string => `${netnsPrefix(id)}${host}`;
export const vethPrefix = (id: number): string => `mlv${id}-`;
export const vethName = (id: number, index: number): string => `${vethPrefix(id)}${index}`;
export const subnet = (id: number): string => `10.231.${id}.0/24`;
export const gatewayAddress = (id: number): string => `10.231.${id}.1`;
export const hostAddress = (id: number, index: number): string => `10.231.${id}.${11 + index}`;
export const bmcPort = (id: number, index: number): number => 9000 + id * MAX_HOSTS + index;

export const secondBridgeName = (id: number): string => `mlab${id}b`;
export const secondSubnet = (id: number): string => `10.232.${id}.0/24`;
export const secondGatewayAddress = (id: number): string => `10.232.${id}.1`;
export const secondHostAddress = (id: number, index: number): string => `10.232.${id}.${11 + index}`;
export const secondVethName = (id: number, index: number): string => `${vethPrefix(id)}b${index}`;
export const vantageNetnsName = (id: number): string => `${netnsPrefix(id)}_vantage`;
export const vantageVethName = (id: number): string => `${vethPrefix(id)}v`;
export const vantageAddress = (id: number): string => `10.232.${id}.2`;

/** Locally administered, fixed per (lab, host): no stale neighbour entries when a lab is remade. */
export function hostMac(id: number, index: number): string {
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `02:6d:6c:${hex(id)}:${hex(index)}:01`;
}
export function bridgeMac(id: number): string {
  return `02:6d:6c:${id.toString(16).padStart(2, '0')}:ff:01`;
}
/** A host's eth1 on the second management network. */
export function secondHostMac(id: number, index: number): string {
  return hostMac(id, index).replace(/01$/, '02');
}
export function secondBridgeMac(id: number): string {
  return `02:6d:6c:${id.toString(16).padStart(2, '0')}:fe:01`;
}
export function vantageMac(id: number): string {
  return `02:6d:6c:${id.toString(16).padStart(2, '0')}:fe:02`;
}

const HOST_NAME = /^[a-z][a-z0-9-]{0,19}$/;

export function checkHostName(name: string): void {
  if (!HOST_NAME.test(name)) {
    throw new Error(`lab: host name "${name}" must match ${HOST_NAME.source}`);
  }
}
