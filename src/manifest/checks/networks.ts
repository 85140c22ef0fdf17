/**
 * mamori connects only inside the operator's target networks, from its management
 * networks: a server's address (and BMC) must lie in the first, and its firewall
 * (allowedNetworks) must accept the second.
 */
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import { findingAt } from '../finding.ts';
import { addressInAny, networksCover } from '../networks.ts';

export const networksCheck: SemanticCheck = {
  name: 'networks',
  check({ servers, config }: CheckInput): Finding[] {
    const out: Finding[] = [];
    const targets = config.targetNetworks;
    const management = config.managementNetworks;
    for (const s of servers) {
      const spec = s.doc.spec;
      if (!addressInAny(spec.address, targets)) {
        out.push(findingAt(s, 'spec.address', 'network-target', `${spec.address} is outside the operator's target networks (${targets.join(', ')}): mamori never connects anywhere else`));
      }
      if (spec.console?.bmc !== undefined && !addressInAny(spec.console.bmc, targets)) {
        out.push(findingAt(s, 'spec.console.bmc', 'network-target', `${spec.console.bmc} is outside the operator's target networks (${targets.join(', ')}): mamori never connects anywhere else`));
      }
      const missing = management.filter((m) => !networksCover(spec.allowedNetworks, m));
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
