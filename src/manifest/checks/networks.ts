/**
 * mamori connects only inside the operator's target networks, from its management
 * networks: a server's address (and BMC) must lie in the first, and its firewall
 * (allowedNetworks) must accept the second.
 */
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import { findingAt } from '../finding.ts';
import { cidrContains, cidrCovers, parseAddress, parseCidr, type Cidr } from '../networks.ts';

export const networksCheck: SemanticCheck = {
  name: 'networks',
  check({ servers, config }: CheckInput): Finding[] {
    const out: Finding[] = [];
    const targets = config.targetNetworks;
    const management = config.managementNetworks;
    // Parsed once per load: 10,000 servers would otherwise parse the same networks 100,000 times.
    const targetCidrs = targets.map(parseCidr).filter((c): c is Cidr => c !== undefined);
    const managementCidrs = management.map((m) => ({ text: m, cidr: parseCidr(m) }));
    const inTargets = (address: string): boolean => {
      const a = parseAddress(address);
      return a !== undefined && targetCidrs.some((t) => cidrContains(t, a));
    };
    for (const s of servers) {
      const spec = s.doc.spec;
      if (!inTargets(spec.address)) {
        out.push(findingAt(s, 'spec.address', 'network-target', `${spec.address} is outside the operator's target networks (${targets.join(', ')}): mamori never connects anywhere else`));
      }
      if (spec.console?.bmc !== undefined && !inTargets(spec.console.bmc)) {
        out.push(findingAt(s, 'spec.console.bmc', 'network-target', `${spec.console.bmc} is outside the operator's target networks (${targets.join(', ')}): mamori never connects anywhere else`));
      }
      const allowed = spec.allowedNetworks.map(parseCidr).filter((c): c is Cidr => c !== undefined);
      const missing = managementCidrs.filter((m) => m.cidr === undefined || !allowed.some((a) => cidrCovers(a, m.cidr as Cidr))).map((m) => m.text);
      if (missing.length > 0) {
        out.push(
          findingAt(
            s,
            'spec.allowedNetworks',
            'network-management',
            `must include mamori's management networks ${management.join(' and ')} (missing: ${missing.join(', ')}): the server's firewall and TCP wrappers must accept them, or mamori cannot watch it`,
          ),
        );
      }
    }
    return out;
  },
};
