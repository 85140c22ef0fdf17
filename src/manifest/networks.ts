/**
 * Address and network arithmetic through ipaddr.js: the loader's checks that an
 * address lies in the target networks and that allowedNetworks cover the
 * management networks.
 */
import ipaddr from 'ipaddr.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;
export type Cidr = [Addr, number];

/** A strict IPv4 (four decimal parts) or IPv6 address; no host names, no zone ids. */
export function isIpAddress(value: string): boolean {
  if (value.length > 45) return false;
  if (value.includes(':')) return !value.includes('%') && ipaddr.IPv6.isValid(value);
  return ipaddr.IPv4.isValidFourPartDecimal(value);
}

/** A network in CIDR notation; host bits are tolerated (10.0.0.1/24 means 10.0.0.0/24), as ip(8) does. */
export function isCidr(value: string): boolean {
  return parseCidr(value) !== undefined;
}

export function parseCidr(value: string): Cidr | undefined {
  const slash = value.indexOf('/');
  if (slash < 0 || value.length > 50) return undefined;
  const addr = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(bits) || !isIpAddress(addr)) return undefined;
  try {
    // Parse as the family it looks like: ipaddr's generic parser tries IPv6 first,
    // which costs more than the rest of a manifest's checks together.
    const parsed = value.includes(':') ? ipaddr.IPv6.parseCIDR(value) : ipaddr.IPv4.parseCIDR(value);
    return [parsed[0], parsed[1]];
  } catch {
    return undefined;
  }
}

export function parseAddress(value: string): Addr | undefined {
  if (!isIpAddress(value)) return undefined;
  try {
    if (!value.includes(':')) return ipaddr.IPv4.parse(value);
    const a = ipaddr.IPv6.parse(value);
    // An IPv4-mapped IPv6 address is the IPv4 address for our containment checks.
    return a.isIPv4MappedAddress() ? a.toIPv4Address() : a;
  } catch {
    return undefined;
  }
}

export function addressInNetwork(address: string, network: string): boolean {
  const a = parseAddress(address);
  const n = parseCidr(network);
  if (a === undefined || n === undefined || a.kind() !== n[0].kind()) return false;
  return a.match(n);
}

export function addressInAny(address: string, networks: readonly string[]): boolean {
  return networks.some((n) => addressInNetwork(address, n));
}

/** true when `inner` lies wholly inside `outer`. */
export function networkCovers(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (o === undefined || i === undefined || o[0].kind() !== i[0].kind()) return false;
  return i[1] >= o[1] && i[0].match(o);
}

/** true when the union of `networks` contains `inner` (each management network must sit inside one entry). */
export function networksCover(networks: readonly string[], inner: string): boolean {
  return networks.some((n) => networkCovers(n, inner));
}

/** true when parsed `inner` lies wholly inside parsed `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer[0].kind() === inner[0].kind() && inner[1] >= outer[1] && inner[0].match(outer);
}

/** true when a parsed address lies inside a parsed network. */
export function cidrContains(network: Cidr, address: Addr): boolean {
  return network[0].kind() === address.kind() && address.match(network);
}
