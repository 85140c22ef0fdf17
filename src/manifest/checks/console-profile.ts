/** A server names one of the operator's console/power profiles; the manifest never carries a command. */
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import { findingAt } from '../finding.ts';

export const consoleProfileCheck: SemanticCheck = {
  name: 'console-profile',
  check({ servers, config }: CheckInput): Finding[] {
    const out: Finding[] = [];
    const names = Object.keys(config.consoleProfiles);
    for (const s of servers) {
      const profile = s.doc.spec.console?.profile;
      if (profile === undefined || Object.hasOwn(config.consoleProfiles, profile)) continue;
      out.push(
        findingAt(
          s,
          'spec.console.profile',
          'owner-console-profile',
          `${profile} is not one of the operator's console/power profiles (${names.join(', ') || 'none are configured'}): a manifest names a profile the operator defines, never a command`,
        ),
      );
    }
    return out;
  },
};
