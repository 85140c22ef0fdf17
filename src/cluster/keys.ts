/**
 * The key layout under the cluster's prefix (pure). Server keys are `customer/name`, so two
 * customers' servers of the same name never share a claim.
 *
 *   members/<replica>                 session lease; {host, pid, startedAt}
 *   claims/<customer>/<server>        the replica's lease; {replica, incident, service, at} — its create revision is the fencing token
 *   steps/<customer>/<server>/<step>  no lease (outlives the replica); intent, then outcome
 *   power/<at>-<replica>-<n>          no lease; the fleet power ledger (pruned past its window)
 *   failing/<customer>/<server>       no lease; a server judged failing (its groups), for the fleet-wide counts
 */
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
  };
}
