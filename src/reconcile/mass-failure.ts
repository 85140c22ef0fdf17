/**
 * "Doubt yourself first": when many servers of one network, one place or the whole fleet fail at
 * once, the likely fault is between mamori and them (or mamori's own network), not in each server.
 *
 * A server counts as failing when the newest trusted probe of any of its services failed (a Suspect
 * counts: the pause should trip before anything is repaired). A group trips when at least
 * `massMinServers` of its servers fail AND they are at least `massFraction` of it; the fleet trips
 * at `fleetFraction` of all servers (and at least `massMinServers`); any canary down trips
 * everything. Pure: no clock, no I/O. The index is incremental so that the controller can update
 * one server at a time in O(groups of that server).
 */
import type { DesiredServer, MassFailureEpisode, MassFailureScope, Policy } from './types.ts';

export const FLEET_KEY = 'fleet';
export const CANARY_KEY = 'canary';
/** How many server names an episode carries (for the operator's e-mail and the status). */
export const EPISODE_SERVER_SAMPLE = 10;

export function scopeKey(scope: MassFailureScope): string {
  return scope.kind === 'fleet' ? FLEET_KEY : scope.kind === 'canary' ? CANARY_KEY : `${scope.kind}:${scope.value}`;
}

export function scopeFromKey(key: string): MassFailureScope {
  if (key === FLEET_KEY) return { kind: 'fleet', value: 'all' };
  if (key === CANARY_KEY) return { kind: 'canary', value: 'canaries' };
  const i = key.indexOf(':');
  const kind = key.slice(0, i);
  return { kind: kind === 'network' ? 'network' : 'location', value: key.slice(i + 1) };
}

/** The /24 of an IPv4 address, the /64 of an IPv6 one. */
export function networkOf(address: string): string {
  if (!address.includes(':')) {
    const parts = address.split('.');
    return `${parts.slice(0, 3).join('.')}.0/24`;
  }
  const [head = '', tail = ''] = address.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const full = address.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${full
    .slice(0, 4)
    .map((x) => x.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** The group keys a server belongs to: its network, and its site, rack and switch when given. */
export function groupKeysOf(server: Pick<DesiredServer, 'address' | 'location'>): string[] {
  const keys = [`network:${networkOf(server.address)}`];
  const loc = server.location;
  if (loc?.site !== undefined) keys.push(`location:site=${loc.site}`);
  if (loc?.rack !== undefined) keys.push(`location:rack=${loc.site ?? ''}/${loc.rack}`);
  if (loc?.switch !== undefined) keys.push(`location:switch=${loc.site ?? ''}/${loc.switch}`);
  return keys;
}

interface GroupCount {
  total: number;
  failing: number;
}

export interface TrippedScope {
  key: string;
  scope: MassFailureScope;
  down: number;
  total: number;
  servers: string[];
}

export class MassFailureIndex {
  private readonly groups = new Map<string, GroupCount>();
  private readonly serverGroups = new Map<string, { keys: readonly string[]; failing: boolean }>();
  private fleetFailing = 0;
  private readonly canariesDown = new Set<string>();

  /** Adds or updates a server; `keys` are its group keys (`groupKeysOf`). Returns whether anything changed. */
  set(name: string, keys: readonly string[], failing: boolean): boolean {
    const prev = this.serverGroups.get(name);
    if (prev !== undefined && prev.keys === keys) {
      if (prev.failing === failing) return false;
      // Same groups, only the flag changed: adjust the counts in place.
      prev.failing = failing;
      const d = failing ? 1 : -1;
      for (const k of keys) {
        const g = this.groups.get(k);
        if (g !== undefined) g.failing += d;
      }
      this.fleetFailing += d;
      return true;
    }
    if (prev !== undefined) this.remove(name);
    this.serverGroups.set(name, { keys, failing });
    for (const k of keys) {
      let g = this.groups.get(k);
      if (g === undefined) {
        g = { total: 0, failing: 0 };
        this.groups.set(k, g);
      }
      g.total++;
      if (failing) g.failing++;
    }
    if (failing) this.fleetFailing++;
    return true;
  }

  remove(name: string): void {
    const prev = this.serverGroups.get(name);
    if (prev === undefined) return;
    this.serverGroups.delete(name);
    for (const k of prev.keys) {
      const g = this.groups.get(k);
      if (g === undefined) continue;
      g.total--;
      if (prev.failing) g.failing--;
      if (g.total === 0) this.groups.delete(k);
    }
    if (prev.failing) this.fleetFailing--;
  }

  setCanary(address: string, down: boolean): boolean {
    const was = this.canariesDown.has(address);
    if (down) this.canariesDown.add(address);
    else this.canariesDown.delete(address);
    return was !== down;
  }

  get size(): number {
    return this.serverGroups.size;
  }

  private groupTripped(g: GroupCount, policy: Policy): boolean {
    return g.failing >= policy.massMinServers && g.total > 0 && g.failing / g.total >= policy.massFraction;
  }

  private fleetTripped(policy: Policy): boolean {
    const total = this.serverGroups.size;
    return total > 0 && this.fleetFailing >= policy.massMinServers && this.fleetFailing / total >= policy.fleetFraction;
  }

  /** Every tripped scope now. O(groups). */
  tripped(policy: Policy): TrippedScope[] {
    const out: TrippedScope[] = [];
    if (this.canariesDown.size > 0) {
      out.push({
        key: CANARY_KEY,
        scope: { kind: 'canary', value: [...this.canariesDown].join(',') },
        down: this.canariesDown.size,
        total: this.canariesDown.size,
        servers: [],
      });
    }
    if (this.fleetTripped(policy)) {
      out.push({
        key: FLEET_KEY,
        scope: { kind: 'fleet', value: 'all' },
        down: this.fleetFailing,
        total: this.serverGroups.size,
        servers: this.sample(undefined),
      });
    }
    for (const [key, g] of this.groups) {
      if (this.groupTripped(g, policy)) {
        out.push({ key, scope: scopeFromKey(key), down: g.failing, total: g.total, servers: this.sample(key) });
      }
    }
    return out;
  }

  /** A few failing servers of a group (all groups: undefined). Scans, but only when a scope trips. */
  private sample(key: string | undefined): string[] {
    const out: string[] = [];
    for (const [name, e] of this.serverGroups) {
      if (out.length >= EPISODE_SERVER_SAMPLE) break;
      if (e.failing && (key === undefined || e.keys.includes(key))) out.push(name);
    }
    return out;
  }

  /** The tripped scope that covers this server, if any (canary and fleet first). O(groups of the server). */
  pausedBy(name: string, policy: Policy): string | undefined {
    if (this.canariesDown.size > 0) return CANARY_KEY;
    if (this.fleetTripped(policy)) return FLEET_KEY;
    const entry = this.serverGroups.get(name);
    if (entry === undefined) return undefined;
    for (const k of entry.keys) {
      const g = this.groups.get(k);
      if (g !== undefined && this.groupTripped(g, policy)) return k;
    }
    return undefined;
  }
}



/**
 * Compares what is tripped now with the open episodes: new ones open (the operator is told once per
 * episode), ones no longer tripped clear by themselves.
 */
export function diffEpisodes(
  open: ReadonlyMap<string, MassFailureEpisode>,
  tripped: readonly TrippedScope[],
  now: number,
): { opened: MassFailureEpisode[]; cleared: Array<{ key: string; episode: MassFailureEpisode }>; next: Map<string, MassFailureEpisode> } {
  const next = new Map<string, MassFailureEpisode>();
  const opened: MassFailureEpisode[] = [];
  for (const t of tripped) {
    const prev = open.get(t.key);
    const episode: MassFailureEpisode = { scope: t.scope, since: prev?.since ?? now, down: t.down, total: t.total, servers: t.servers };
    next.set(t.key, episode);
    if (prev === undefined) opened.push(episode);
  }
  const cleared: Array<{ key: string; episode: MassFailureEpisode }> = [];
  for (const [key, episode] of open) if (!next.has(key)) cleared.push({ key, episode });
  return { opened, cleared, next };
}
