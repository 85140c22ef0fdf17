/**
 * Address and network arithmetic through ipaddr.js: what an address or a network is, and
 * whether one holds another. The target check itself is target-networks.ts.
 */
import ipaddr from 'ipaddr.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;
export type Cidr = [Addr, number];

/** A strict IPv4 (four decimal parts) or IPv6 address; no host names, no zone ids, no IPv4 written as IPv6. */
export function isIpAddress(value: string): boolean {
  if (value.length > 45) return false;
  if (value.includes(':')) return !value.includes('%') && ipaddr.IPv6.isValid(value) && ipv4EmbeddedForm(value) === undefined;
  return ipaddr.IPv4.isValidFourPartDecimal(value);
}

/**
 * Why an IPv6 text is refused as an IPv4 address in disguise, or undefined when it is not one.
 * Parsers disagree on these forms (ipaddr.js reads the IPv4-compatible `::10.0.0.1` as the mapped
 * `::ffff:10.0.0.1`, the kernel connects to the former), so a check and a connection could judge
 * two different hosts: refused, whatever the network. Refused: any dotted quad inside an IPv6 text,
 * IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96 but :: and ::1) and IPv4-translated
 * (::ffff:0:0:0/96) addresses in hex.
 */
export function ipv4EmbeddedForm(value: string): string | undefined {
  if (!value.includes(':') || value.length > 64) return undefined;
  let text = value.split('/')[0] ?? '';
  const quad = /:(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad !== null) {
    // Classified by its hex spelling: ipaddr.js reads the dotted compatible form as the mapped one.
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  let parts: number[];
  try {
    parts = ipaddr.IPv6.parse(text).parts;
  } catch {
    return value.includes('.') ? 'an IPv6 text with an IPv4 dotted quad in it' : undefined;
  }
  const zero = (from: number, to: number): boolean => parts.slice(from, to).every((p) => p === 0);
  if (zero(0, 5) && parts[5] === 0xffff) return 'an IPv4-mapped IPv6 address (::ffff:a.b.c.d)';
  if (zero(0, 4) && parts[4] === 0xffff && parts[5] === 0) return 'an IPv4-translated IPv6 address (::ffff:0:a.b.c.d)';
  if (zero(0, 6) && ((parts[6] ?? 0) !== 0 || (parts[7] ?? 0) > 1)) return 'an IPv4-compatible IPv6 address (::a.b.c.d)';
  if (value.includes('.')) return 'an IPv6 text with an IPv4 dotted quad in it';
  return undefined;
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
    // IPv4 written as IPv6 never reaches here (isIpAddress refuses it): an address is judged in
    // the one family it is connected in.
    return value.includes(':') ? ipaddr.IPv6.parse(value) : ipaddr.IPv4.parse(value);
  } catch {
    return undefined;
  }
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
