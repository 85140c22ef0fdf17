/**
 * Who owns a file, from where it lives. The tree's layout is the ownership model:
 *
 *   operator/catalog.yaml               Catalog       (operator)
 *   operator/policy.yaml                ReviewPolicy  (operator)
 *   operator/runbooks/<name>.yaml       Runbook       (operator: the standard runbooks)
 *   customers/<c>/servers/<name>.yaml   Server        (customer c)
 *   customers/<c>/runbooks/<name>.yaml  Runbook       (customer c)
 */
import type { DocumentKind, Owner } from './types.ts';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface Placement {
  owner: Owner;
  /** The one kind of document this place holds. */
  kind: DocumentKind;
  /** metadata.name must equal the file's base name. */
  expectedName: string;
}

export type PlacementResult = { ok: true; placement: Placement } | { ok: false; rule: string; message: string };

const WHERE =
  'documents live in operator/catalog.yaml, operator/policy.yaml, operator/runbooks/<name>.yaml, customers/<customer>/servers/<name>.yaml or customers/<customer>/runbooks/<name>.yaml';

/** Whether a path inside the tree is one the loader reads (YAML under operator/ or customers/). */
export function isManifestPath(path: string): boolean {
  return /^(operator|customers)\//.test(path) && /\.ya?ml$/i.test(path);
}

/**
 * A YAML file the loader never reads: outside operator/ and customers/, not hidden (.github/…),
 * and not mamori's own config at the top (mamori.yaml). Its author believes it applied.
 */
export function isStrayPath(path: string): boolean {
  if (isManifestPath(path) || !/\.ya?ml$/i.test(path)) return false;
  const parts = path.split('/');
  if (parts.some((p) => p.startsWith('.'))) return false;
  return !(parts.length === 1 && /^mamori\.ya?ml$/.test(parts[0] ?? ''));
}

export function strayMessage(): string {
  return `mamori reads no manifest here, so this file is ignored: ${WHERE}`;
}

export function placementOf(path: string): PlacementResult {
  const parts = path.split('/');
  const base = parts[parts.length - 1] ?? '';
  if (!base.endsWith('.yaml')) {
    return { ok: false, rule: 'file-name', message: 'manifest files end in .yaml (the name before it is the document name)' };
  }
  const stem = base.slice(0, -'.yaml'.length);
  if (parts[0] === 'operator') {
    if (parts.length === 2 && stem === 'catalog') return { ok: true, placement: { owner: { kind: 'operator' }, kind: 'Catalog', expectedName: stem } };
    if (parts.length === 2 && stem === 'policy') return { ok: true, placement: { owner: { kind: 'operator' }, kind: 'ReviewPolicy', expectedName: stem } };
    if (parts.length === 3 && parts[1] === 'runbooks') return { ok: true, placement: { owner: { kind: 'operator' }, kind: 'Runbook', expectedName: stem } };
    return { ok: false, rule: 'owner-location', message: `this is not a place for a document: ${WHERE}` };
  }
  if (parts[0] === 'customers') {
    const customer = parts[1] ?? '';
    if (!NAME.test(customer)) {
      return { ok: false, rule: 'owner-location', message: 'a customer folder is named by the customer: lower-case letters, digits and hyphens' };
    }
    if (parts.length === 4 && parts[2] === 'servers') return { ok: true, placement: { owner: { kind: 'customer', customer }, kind: 'Server', expectedName: stem } };
    if (parts.length === 4 && parts[2] === 'runbooks') return { ok: true, placement: { owner: { kind: 'customer', customer }, kind: 'Runbook', expectedName: stem } };
    return { ok: false, rule: 'owner-location', message: `this is not a place for a document: ${WHERE}` };
  }
  return { ok: false, rule: 'owner-location', message: `this is not a place for a document: ${WHERE}` };
}

/** The message when a document's kind does not belong where it is. */
export function wrongKindMessage(kind: DocumentKind, placement: Placement): string {
  const here = placement.owner.kind === 'operator' ? 'the operator folder' : `customer ${placement.owner.customer}'s ${placement.kind === 'Server' ? 'servers' : 'runbooks'} folder`;
  switch (kind) {
    case 'Server':
      return `a Server does not belong in ${here}: servers are owned by a customer and live in customers/<customer>/servers/<name>.yaml`;
    case 'Runbook':
      return `a Runbook does not belong in ${here}: the operator's standard runbooks live in operator/runbooks/, a customer's own in customers/<customer>/runbooks/`;
    case 'Catalog':
      return `a Catalog does not belong in ${here}: the catalog is the operator's and lives in operator/catalog.yaml`;
    case 'ReviewPolicy':
      return `a ReviewPolicy does not belong in ${here}: the review policy is the operator's and lives in operator/policy.yaml`;
  }
}
