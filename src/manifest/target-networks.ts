/**
 * The one target check: mamori connects only to addresses inside the operator's target networks
 * (config `targetNetworks`). Manifest validation, the config's canaries, every probe, every SSH
 * session (runbooks and the readiness check), the BMC and console drivers and the CLI ask here,
 * so that what validation accepted and what a connection reaches can never be judged apart.
 *
 * An address is refused when it is not a plain IP literal, when it is IPv4 written as IPv6
 * (`::a.b.c.d`, `::ffff:a.b.c.d`: see ipv4EmbeddedForm), or when no target network holds it.
 */
import { MamoriError } from '../errors.ts';
import { cidrContains, ipv4EmbeddedForm, parseAddress, parseCidr, type Cidr } from './networks.ts';

export type TargetRefusal = 'not-an-address' | 'ipv4-embedded' | 'outside';

export type TargetVerdict = { ok: true } | { ok: false; reason: TargetRefusal; message: string };

export interface TargetCheck {
  /** The networks as configured, for messages (empty when any address is allowed). */
  readonly networks: readonly string[];
  check(address: string): TargetVerdict;
}

type Refused = Extract<TargetVerdict, { ok: false }>;

/** Why `address` is no plain IP literal, or undefined when it is one. */
function notPlain(address: string): Refused | undefined {
  const embedded = ipv4EmbeddedForm(address);
  if (embedded !== undefined) {
    return { ok: false, reason: 'ipv4-embedded', message: `${address} is ${embedded}: write the IPv4 address itself; mamori refuses IPv4 written as IPv6, which parsers read differently` };
  }
  if (parseAddress(address) === undefined) {
    return { ok: false, reason: 'not-an-address', message: `${JSON.stringify(address.slice(0, 60))} is not an IP address (host names are never resolved)` };
  }
  return undefined;
}

/** A check against `networks` (CIDR texts; parsed once, so a fleet of 10,000 servers parses them once). */
/** Addresses a check remembers as allowed (a fleet's servers); past this it starts over. */
const ALLOWED_CACHE = 100_000;
const ALLOWED: TargetVerdict = Object.freeze({ ok: true });

export function targetCheck(networks: readonly string[]): TargetCheck {
  const list = [...networks];
  const cidrs = list.map(parseCidr).filter((c): c is Cidr => c !== undefined);
  // The daemon checks every probe's address (2,000 a second at 10,000 servers), always the same
  // few thousand: a check's networks never change, so an allowed address stays allowed (parsing
  // it was 0.4 % of the main thread). A reload makes a new check, with an empty memory.
  const allowed = new Set<string>();
  return {
    networks: list,
    check(address) {
      if (allowed.has(address)) return ALLOWED;
      const refused = notPlain(address);
      if (refused !== undefined) return refused;
      const a = parseAddress(address);
      if (a !== undefined && cidrs.some((c) => cidrContains(c, a))) {
        if (allowed.size >= ALLOWED_CACHE) allowed.clear();
        allowed.add(address);
        return ALLOWED;
      }
      return { ok: false, reason: 'outside', message: outsideMessage(address, list) };
    },
  };
}

/** `mamori probe --outside-target-networks`: any plain IP address, still never IPv4 in IPv6 clothing. */
export function anyAddressCheck(): TargetCheck {
  return {
    networks: [],
    check(address) {
      return notPlain(address) ?? { ok: true };
    },
  };
}

/**
 * The daemon's check: one object handed to the prober, the executor and the drivers, whose
 * networks a reload replaces at once (every later connection is judged by the new ones).
 */
export interface ReloadableTargetCheck extends TargetCheck {
  replace(networks: readonly string[]): void;
}

export function reloadableTargetCheck(networks: readonly string[]): ReloadableTargetCheck {
  let current = targetCheck(networks);
  return {
    get networks() {
      return current.networks;
    },
    check: (address) => current.check(address),
    replace(next) {
      current = targetCheck(next);
    },
  };
}

export function outsideMessage(address: string, networks: readonly string[]): string {
  return `${address} is outside the operator's target networks (${networks.join(', ')}): mamori never connects anywhere else`;
}

/** Throws MAMORI_TARGET_REFUSED before a connection to `address` (`what`: "SSH", "the BMC") is opened. */
export function assertTarget(targets: TargetCheck, address: string, what: string): void {
  const v = targets.check(address);
  if (!v.ok) throw new MamoriError('MAMORI_TARGET_REFUSED', `${what}: ${v.message}`, { details: { address, reason: v.reason } });
}
