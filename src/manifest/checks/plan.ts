/** The plan must be an eligible plan of the catalog ("Entry, Celeron model" is not). */
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import { findingAt } from '../finding.ts';

export const planCheck: SemanticCheck = {
  name: 'plan',
  check({ servers, catalog }: CheckInput): Finding[] {
    const out: Finding[] = [];
    const plans = catalog.doc.spec.plans;
    const eligible = plans.filter((p) => p.eligible).map((p) => p.name);
    for (const s of servers) {
      const plan = plans.find((p) => p.name === s.doc.spec.plan);
      if (plan === undefined) {
        out.push(findingAt(s, 'spec.plan', 'plan-unknown', `must be one of the catalog's plans: ${eligible.join(', ')}`));
      } else if (!plan.eligible) {
        out.push(findingAt(s, 'spec.plan', 'plan-ineligible', `${plan.displayName} cannot subscribe${plan.reason ? `: ${plan.reason}` : ''} (eligible plans: ${eligible.join(', ')})`));
      }
    }
    return out;
  },
};
