/**
 * mamori connects only inside the operator's target networks, from its management
 * networks: a server's address (and BMC) must lie in the first, and its firewall
 * (allowedNetworks) must accept the second.
 */
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import { findingAt } from '../finding.ts';
import { cidrCovers, parseCidr, type Cidr } from '../networks.ts';
import { targetCheck } from '../target-networks.ts';

export const networksCheck: SemanticCheck = {
  name: 'networks',
  check({ servers, config }: CheckInput): Finding[] {
    const out: Finding[] = [];
    const management = config.managementNetworks;
    // Parsed once per load: 10,000 servers would otherwise parse the same networks 100,000 times.
    const targets = targetCheck(config.targetNetworks);
    const managementCidrs = management.map((m) => ({ text: m, cidr: parseCidr(m) }));
    for (const s of servers) {
      const spec = s.doc.spec;
      for (const [field, address] of [['spec.address', spec.address], ['spec.console.bmc', spec.console?.bmc]] as const) {
        if (address === undefined) continue;
        const v = targets.check(address);
        if (!v.ok) out.push(findingAt(s, field, v.reason === 'ipv4-embedded' ? 'network-ipv4-embedded' : 'network-target', v.message));
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
