/** The operating system must be one the catalog accepts (the seed refuses all others, naming Ubuntu and Windows). */
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import type { CatalogDocument } from '../generated/catalog.ts';
import { findingAt } from '../finding.ts';
import { compareVersions, versionInRange } from '../version.ts';

type Entry = CatalogDocument['spec']['operatingSystems'][number];

function describeEntry(e: Entry): string {
  return `${e.displayName} ${e.minVersion} or later${e.belowVersion ? ` (below ${e.belowVersion})` : ''}`;
}

/** "FreeBSD 6.3 or later, …; Ubuntu and Windows Server are refused". */
export function supportedSystemsSentence(catalog: CatalogDocument): string {
  const ok = catalog.spec.operatingSystems.map(describeEntry).join(', ');
  const refused = (catalog.spec.refusedOperatingSystems ?? []).map((r) => r.displayName);
  const no = refused.length > 0 ? `; every other system is refused (${refused.join(', ')} among them)` : '; every other system is refused';
  return `mamori accepts ${ok}${no}`;
}

export const osCheck: SemanticCheck = {
  name: 'os',
  check({ servers, catalog }: CheckInput): Finding[] {
    const out: Finding[] = [];
    const cat = catalog.doc;
    const entries = cat.spec.operatingSystems;
    for (const s of servers) {
      const { family, variant, version } = s.doc.spec.os;
      const refused = cat.spec.refusedOperatingSystems?.find((r) => r.family === family);
      if (refused) {
        out.push(findingAt(s, 'spec.os.family', 'os-refused', `${refused.displayName} is not supported: ${supportedSystemsSentence(cat)}`));
        continue;
      }
      const family_ = entries.filter((e) => e.family === family);
      if (family_.length === 0) {
        out.push(findingAt(s, 'spec.os.family', 'os-unsupported', `${family} is not in the catalog: ${supportedSystemsSentence(cat)}`));
        continue;
      }
      const variants = [...new Set(family_.map((e) => e.variant).filter((v): v is string => v !== undefined))];
      if (variants.length > 0 && variant === undefined) {
        // Without a variant, a version decides it only when exactly one entry fits.
        const fits = family_.filter((e) => versionInRange(version, e.minVersion, e.belowVersion));
        if (fits.length !== 1) {
          out.push(findingAt(s, 'spec.os', 'os-variant', `spec.os.variant is required for ${family}: one of ${variants.join(', ')}`));
          continue;
        }
      }
      const candidates = variant === undefined ? family_ : family_.filter((e) => e.variant === variant);
      if (candidates.length === 0) {
        out.push(findingAt(s, 'spec.os.variant', 'os-unsupported', `${family} has no variant ${variant} in the catalog: one of ${variants.join(', ') || '(none: leave it out)'}`));
        continue;
      }
      if (candidates.some((e) => versionInRange(version, e.minVersion, e.belowVersion))) continue;
      const lowest = candidates.reduce((a, b) => (compareVersions(a.minVersion, b.minVersion) <= 0 ? a : b));
      const name = lowest.displayName;
      const message =
        compareVersions(version, lowest.minVersion) < 0
          ? `${name} ${version} is older than ${lowest.minVersion}, the first supported version (versions compare number by number: 10.0 is later than 6.3)`
          : `${name} ${version} is not in the catalog: ${candidates.map(describeEntry).join(', ')}; a newer release is added to the catalog, with its standard runbooks, by the operator`;
      out.push(findingAt(s, 'spec.os.version', 'os-version', message));
    }
    return out;
  },
};
