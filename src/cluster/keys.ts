/**
 * The key layout under the cluster's prefix (pure). Server keys are `customer/name`, so two
 * customers' servers of the same name never share a claim.
 *
 *   members/<replica>                 session lease; {host, pid, startedAt}
 *   claims/<customer>/<server>        the replica's lease; {replica, incident, service, at} — its create revision is the fencing token
 *   steps/<customer>/<server>/<step>  no lease (outlives the replica); intent, then outcome; an operator's
 *                                     resume leaves resumed@<at>-<target>/closed (its budgets count from it)
 *   power/<at>-<replica>-<n>          no lease; the fleet power ledger (pruned past its window)
 *   failing/<customer>/<server>       no lease; a server judged failing (its groups), for the fleet-wide counts
 *   notify/<channel>/open/<customer>/<server>/<id>    no lease; a notification not yet settled (send-ledger.ts)
 *   notify/<channel>/holder/<customer>/<server>/<id>  the sending replica's lease
 *   notify/<channel>/done/<customer>/<server>/<id>    a retention lease; the idempotency record
 *   status/<customer>/<server>        no lease; the owner's status of the server (written on change), read by every replica
 *   status-publisher                  the elected status publisher's lease; {replica, at} — its create revision is the term
 * (`_` stands for no customer or no server: names start with a letter.)
 */
import { encodeIdPart } from '../notify/message-id.ts';
import { stableHash32 } from '../stable-hash.ts';

/** The result of the closed step record an operator's resume leaves (claims.ts markResumed, limits.ts). */
export const RESUMED_RESULT = 'resumed';

export interface ClusterKeys {
  root: string;
  members: string;
  member(replica: string): string;
  claims: string;
  claim(server: string): string;
  steps(server: string): string;
  step(server: string, step: string): string;
  power: string;
  powerEntry(at: number, replica: string, n: number): string;
  failing: string;
  failingOf(server: string): string;
  /** The three prefixes of a notification channel (`mail`, `webhook`). */
  notify(channel: string): { open: string; holder: string; done: string };
  status: string;
  statusOf(server: string): string;
  statusPublisher: string;
}

/** A key segment for any id: readable where the id is, bounded, without `/`. */
export function keySegment(id: string): string {
  const encoded = encodeIdPart(id);
  if (encoded.length <= 180) return encoded;
  const h = (s: string): string => stableHash32(s).toString(16).padStart(8, '0');
  return `${encoded.slice(0, 150)}~${h(id)}${h(`${id.length}:${id}`)}`;
}

export function clusterKeys(prefix: string): ClusterKeys {
  const root = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return {
    root,
    members: `${root}members/`,
    member: (r) => `${root}members/${r}`,
    claims: `${root}claims/`,
    claim: (s) => `${root}claims/${s}`,
    steps: (s) => `${root}steps/${s}/`,
    step: (s, step) => `${root}steps/${s}/${step}`,
    power: `${root}power/`,
    powerEntry: (at, r, n) => `${root}power/${String(at).padStart(15, '0')}-${r}-${n}`,
    failing: `${root}failing/`,
    failingOf: (s) => `${root}failing/${s}`,
    notify: (channel) => ({ open: `${root}notify/${channel}/open/`, holder: `${root}notify/${channel}/holder/`, done: `${root}notify/${channel}/done/` }),
    status: `${root}status/`,
    statusOf: (s) => `${root}status/${s}`,
    statusPublisher: `${root}status-publisher`,
  };
}
