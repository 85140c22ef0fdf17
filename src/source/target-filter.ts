/**
 * The target networks as the daemon applies them to the desired state: a server whose address (or
 * BMC) lies outside them is not handed to the reconciler — it is not monitored, and its status says
 * so. A new set of networks (a reload) is judged like a revision: if it would stop monitoring more
 * than holds.maxRemovedFraction of the fleet, it is held until an operator confirms it
 * (`mamori confirm targets-<id>`), and the servers stay watched under the old networks meanwhile.
 */
import { createHash } from 'node:crypto';
import { targetCheck, type TargetCheck } from '../manifest/target-networks.ts';
import type { AppliedServer } from './desired.ts';

export interface OutsideServer {
  name: string;
  customer?: string;
  message: string;
}

/** Servers whose address or BMC the check refuses, with the first refusal's message. */
export function outsideTargets(servers: readonly AppliedServer[], check: TargetCheck): Map<string, OutsideServer> {
  const out = new Map<string, OutsideServer>();
  for (const s of servers) {
    const spec = s.document.doc.spec;
    const verdicts = [check.check(spec.address), ...(spec.console?.bmc !== undefined ? [check.check(spec.console.bmc)] : [])];
    const refused = verdicts.find((v) => !v.ok);
    if (refused === undefined || refused.ok) continue;
    const customer = s.document.doc.metadata.customer;
    out.set(s.name, { name: s.name, ...(customer !== undefined ? { customer } : {}), message: refused.message });
  }
  return out;
}

export interface HeldTargets {
  /** What `mamori confirm` takes: `targets-` and 12 hex digits of the networks. */
  id: string;
  networks: string[];
  /** Servers the new networks would stop monitoring. */
  affected: string[];
  message: string;
  since: string;
}

export type TargetsChange = { result: 'applied'; excluded: string[] } | { result: 'held'; held: HeldTargets } | { result: 'unchanged' };

export class TargetNetworks {
  private check: TargetCheck;
  private heldChange: HeldTargets | undefined;

  constructor(networks: readonly string[]) {
    this.check = targetCheck(networks);
  }

  get current(): TargetCheck {
    return this.check;
  }

  get held(): HeldTargets | undefined {
    return this.heldChange;
  }

  /**
   * New networks for `servers` (the applied fleet): applied at once, or held when they would stop
   * monitoring more than `maxRemovedFraction` of it.
   */
  propose(networks: readonly string[], servers: readonly AppliedServer[], maxRemovedFraction: number, now: Date = new Date()): TargetsChange {
    if (JSON.stringify([...networks]) === JSON.stringify([...this.check.networks])) {
      this.heldChange = undefined;
      return { result: 'unchanged' };
    }
    const next = targetCheck(networks);
    const before = outsideTargets(servers, this.check);
    const after = outsideTargets(servers, next);
    const excluded = [...after.keys()].filter((n) => !before.has(n));
    const fraction = servers.length === 0 ? 0 : excluded.length / servers.length;
    if (fraction > maxRemovedFraction) {
      const id = `targets-${createHash('sha256').update(JSON.stringify([...networks])).digest('hex').slice(0, 12)}`;
      const since = this.heldChange?.id === id ? this.heldChange.since : now.toISOString();
      this.heldChange = {
        id,
        networks: [...networks],
        affected: excluded,
        since,
        message: `the new target networks (${networks.join(', ')}) would stop monitoring ${excluded.length} of ${servers.length} servers, more than the ${Math.round(maxRemovedFraction * 100)} % allowed without confirmation; run mamori confirm ${id}`,
      };
      return { result: 'held', held: this.heldChange };
    }
    this.check = next;
    this.heldChange = undefined;
    return { result: 'applied', excluded };
  }

  /** `mamori confirm targets-…`: applies the held networks; false when `id` names no held change. */
  confirm(id: string): boolean {
    const held = this.heldChange;
    if (held === undefined || (held.id !== id && !(id.length >= 15 && held.id.startsWith(id)))) return false;
    this.check = targetCheck(held.networks);
    this.heldChange = undefined;
    return true;
  }
}
