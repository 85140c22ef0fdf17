/**
 * secretRefs are namespaced per customer: customer acme's documents may name only
 * secrets called acme-…, so that one customer's manifest can never pull another's
 * credentials out of the shared secrets folder.
 */
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import { findingAt } from '../finding.ts';
import { joinField } from '../field-path.ts';

export function secretRefFields(value: unknown, field = ''): Array<{ field: string; name: string }> {
  const out: Array<{ field: string; name: string }> = [];
  const stack: Array<{ node: unknown; field: string }> = [{ node: value, field }];
  while (stack.length > 0) {
    const { node, field: f } = stack.pop() as { node: unknown; field: string };
    if (Array.isArray(node)) node.forEach((v, i) => stack.push({ node: v, field: joinField(f, i) }));
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
        if (k === 'secretRef' && typeof v === 'string') out.push({ field: joinField(f, k), name: v });
        else stack.push({ node: v, field: joinField(f, k) });
      }
    }
  }
  return out.sort((a, b) => (a.field < b.field ? -1 : 1));
}

export const secretNamespaceCheck: SemanticCheck = {
  name: 'secret-namespace',
  check({ servers }: CheckInput): Finding[] {
    const out: Finding[] = [];
    for (const s of servers) {
      if (s.owner.kind !== 'customer') continue;
      const prefix = `${s.owner.customer}-`;
      for (const ref of secretRefFields(s.doc.spec, 'spec')) {
        if (!ref.name.startsWith(prefix) || ref.name.length === prefix.length) {
          out.push(
            findingAt(s, ref.field, 'owner-secret', `must name one of customer ${s.owner.customer}'s secrets, whose names start with ${prefix}: a customer document may use only its own customer's secrets`),
          );
        }
      }
    }
    return out;
  },
};
