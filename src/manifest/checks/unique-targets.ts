/**
 * What mamori connects to or acts on must belong to one server only, across all customers and
 * within one: a server's address (which no other server may give as its BMC either: that server
 * would be power-cycled by the first one's runbook), a BMC (its address and port: a BMC gateway may
 * serve several behind one address), and a console target of a console profile. Otherwise one customer's manifest could point mamori's restarts, console
 * commands or power cycles at another customer's machine. Every document involved gets a finding
 * naming the others, file:line each, as duplicate names do.
 */
import ipaddr from 'ipaddr.js';
import type { CheckInput, Finding, LoadedDocument, SemanticCheck, ServerDocument } from '../types.ts';
import { findingAt } from '../finding.ts';

type Server = LoadedDocument<ServerDocument> & { absolutePath?: string };

interface Claim {
  server: Server;
  field: 'spec.address' | 'spec.console.bmc' | 'spec.console.target';
}

/** One spelling per address: 2001:db8::1 and 2001:0db8:0:0::1 are the same host (IPv4 has one spelling already). */
function canonical(address: string): string {
  if (!address.includes(':')) return address;
  try {
    return ipaddr.IPv6.parse(address).toNormalizedString();
  } catch {
    return address;
  }
}

function valueOf(c: Claim): string {
  const spec = c.server.doc.spec;
  if (c.field === 'spec.address') return `the address ${spec.address}`;
  if (c.field === 'spec.console.bmc') return `the BMC address ${spec.console?.bmc ?? ''} (port ${spec.console?.bmcPort ?? DEFAULT_BMC_PORT})`;
  return `the console target ${spec.console?.target ?? ''} of profile ${spec.console?.profile ?? ''}`;
}

function where(c: Claim): string {
  return `${c.field} of ${c.server.file}:${c.server.positionOf(c.field).line}`;
}

/** RMCP+'s port, as the ipmi driver's default. */
const DEFAULT_BMC_PORT = 623;

function report(claims: Map<string, Claim[]>, rule: string, out: Finding[], conflicts: (list: Claim[]) => boolean = () => true): void {
  for (const list of claims.values()) {
    // One server may give its own address as its BMC's (a shared NIC): only other servers conflict.
    if (new Set(list.map((c) => c.server)).size < 2 || !conflicts(list)) continue;
    for (const c of list) {
      const others = list.filter((o) => o.server !== c.server).map(where);
      out.push(findingAt(c.server, c.field, rule, `${valueOf(c)} is also ${others.join(', ')}: what mamori connects to or acts on belongs to one server, across all customers`));
    }
  }
}

export const uniqueTargetsCheck: SemanticCheck = {
  name: 'unique-targets',
  check({ servers }: CheckInput): Finding[] {
    const addresses = new Map<string, Claim[]>();
    const bmcs = new Map<string, Claim[]>();
    const consoles = new Map<string, Claim[]>();
    const claim = (map: Map<string, Claim[]>, key: string, c: Claim): void => {
      const list = map.get(key);
      if (list) list.push(c);
      else map.set(key, [c]);
    };
    for (const s of servers) {
      const spec = s.doc.spec;
      claim(addresses, canonical(spec.address), { server: s, field: 'spec.address' });
      if (spec.console?.bmc !== undefined) {
        const bmc: Claim = { server: s, field: 'spec.console.bmc' };
        claim(addresses, canonical(spec.console.bmc), bmc);
        claim(bmcs, `${canonical(spec.console.bmc)} ${spec.console.bmcPort ?? DEFAULT_BMC_PORT}`, bmc);
      }
      if (spec.console?.target !== undefined) claim(consoles, `${spec.console.profile}\u0000${spec.console.target}`, { server: s, field: 'spec.console.target' });
    }
    const out: Finding[] = [];
    // Two BMCs on one address conflict only on one port (below); a server's address conflicts with anything.
    report(addresses, 'duplicate-address', out, (list) => list.some((c) => c.field === 'spec.address'));
    report(bmcs, 'duplicate-address', out);
    report(consoles, 'duplicate-console-target', out);
    return out;
  },
};
