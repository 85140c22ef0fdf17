/**
 * A server's identity: `customer/name`. Server names are unique within a customer's folder, not
 * across customers (two customers may each have a web01), so every key, file, journal record,
 * metric label and API path that stands for a server uses this id. A server without a customer
 * (only documents built by hand in tests; the loader always sets one) is its bare name. Pure.
 */

export interface ServerRef {
  customer?: string | undefined;
  name: string;
}

export function serverId(customer: string | undefined, name: string): string {
  return customer !== undefined && customer !== '' ? `${customer}/${name}` : name;
}

export function serverIdOf(doc: { metadata: ServerRef }): string {
  return serverId(doc.metadata.customer, doc.metadata.name);
}

/** The parts of an id: `acme/web01` → {customer: acme, name: web01}; a bare name has no customer. */
export function splitServerId(id: string): { customer?: string; name: string } {
  const i = id.indexOf('/');
  return i < 0 ? { name: id } : { customer: id.slice(0, i), name: id.slice(i + 1) };
}

export type ServerLookup = { ok: true; id: string } | { ok: false; reason: 'unknown' | 'ambiguous'; candidates: string[]; message: string };

/**
 * What an operator typed (`acme/web01`, or a bare `web01`) against the ids that exist. A bare name
 * is accepted when one customer has it; when several do, the answer lists them instead of guessing.
 */
export function lookupServer(ref: string, ids: Iterable<string>): ServerLookup {
  const all = [...new Set(ids)].sort();
  if (all.includes(ref)) return { ok: true, id: ref };
  if (ref.includes('/')) return { ok: false, reason: 'unknown', candidates: [], message: `no server ${ref} in the manifests` };
  const matches = all.filter((id) => splitServerId(id).name === ref);
  if (matches.length === 1) return { ok: true, id: matches[0] as string };
  if (matches.length === 0) return { ok: false, reason: 'unknown', candidates: [], message: `no server named ${ref} in the manifests` };
  return {
    ok: false,
    reason: 'ambiguous',
    candidates: matches,
    message: `the server name ${ref} is used by ${matches.length} customers: name one of ${matches.join(', ')}`,
  };
}

/** The one status (or document) that `ref` names among `items`; none when unknown or ambiguous. */
export function findServer<T extends { metadata: ServerRef }>(items: readonly T[], ref: string): T | undefined {
  const found = lookupServer(ref, items.map(serverIdOf));
  return found.ok ? items.find((s) => serverIdOf(s) === found.id) : undefined;
}

/** How the manifest file of `ref` (customer/name or a bare name) ends: to find its findings. */
export function manifestFileSuffix(ref: string): string {
  const { customer, name } = splitServerId(ref);
  return customer !== undefined ? `customers/${customer}/servers/${name}.yaml` : `/servers/${name}.yaml`;
}
