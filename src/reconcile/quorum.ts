/**
 * Quorum across vantage points: whether mamori may act on what it sees from its own network, given
 * what the agents see from theirs. Pure (no clock, no I/O): `decide` asks it with `now` as input.
 *
 * A vote is one vantage's newest trusted verdict on a service. The daemon's own probe is the vote
 * of `self`; an agent's report is a vote while it is fresh (taken within `freshMs` of now) and
 * trusted (not `unknown`). An agent with no fresh report is *lost*: never a vote for "down".
 *
 * - A power cycle of a host its BMC reports on (or cannot report) needs `power` failing votes
 *   taken after the destructive wait; with fewer it is held (`VantageLost`), the operator told.
 * - Powering on a host its BMC reports off needs no quorum: the BMC's word does not depend on the
 *   network path.
 * - A restart keeps today's rule, and is held while another vantage reports the service up.
 * - Down from one vantage and up from another is a disagreement: for one server it is the customer
 *   allowing only some of the management networks; for many it is mamori's own network.
 */

export type BmcPower = 'on' | 'off' | 'unknown';

export interface Vantage {
  name: string;
  /** The network its probes leave from (CIDR), named in the customer's access-blocked mail. */
  network: string;
}

export interface VantagePolicy {
  /** The vantage the daemon's own probes leave from. */
  self: Vantage;
  /** The agents' vantages. */
  remotes: readonly Vantage[];
  /** Failing votes a power cycle needs (quorum.power, default 2). */
  power: number;
  /** A remote verdict taken longer ago than this is no vote. */
  freshMs: number;
  /** Disputed servers fleet-wide from which a disagreement is mamori's own network, not one customer's firewall. */
  manyServers: number;
}

/** One vantage's newest report on one service, as received from its agent. */
export interface VantageObservation {
  vantage: string;
  up: boolean | 'unknown';
  /** When the agent's probe began (epoch ms, the agent's clock, skew-checked on receipt). */
  at: number;
  /** When the daemon received the report. */
  receivedAt: number;
  failureKind?: string;
  message?: string;
}

/** A vote a judgement used: journaled and shown in the status file. */
export interface Vote {
  vantage: string;
  network: string;
  up: boolean;
  at: number;
}

export interface Ballot {
  /** Fresh trusted votes, self first. */
  votes: Vote[];
  /** Remote vantages with no fresh trusted report. */
  lost: string[];
}

/** The self vote (the daemon's newest trusted probe) and each remote's fresh report. */
export function ballotOf(
  policy: VantagePolicy,
  self: { up: boolean; at: number } | undefined,
  reports: readonly VantageObservation[] | undefined,
  now: number,
  /** Vantages whose own mass-failure breaker tripped: their reports are no vote. */
  doubted: readonly string[] = [],
): Ballot {
  const votes: Vote[] = [];
  const lost: string[] = [];
  if (self !== undefined) votes.push({ vantage: policy.self.name, network: policy.self.network, up: self.up, at: self.at });
  for (const v of policy.remotes) {
    let newest: VantageObservation | undefined;
    for (const r of reports ?? []) if (r.vantage === v.name && (newest === undefined || r.at > newest.at)) newest = r;
    // A report from the future (beyond the skew already refused on receipt) is as good as now.
    if (newest === undefined || newest.up === 'unknown' || now - newest.at > policy.freshMs || doubted.includes(v.name)) {
      lost.push(v.name);
      continue;
    }
    votes.push({ vantage: v.name, network: v.network, up: newest.up, at: newest.at });
  }
  return { votes, lost };
}

export type HostJudgement =
  /** The BMC reports the host off: power it on now, no quorum, no wait. */
  | { kind: 'power-on' }
  /** Enough vantages saw the host fail after the wait. */
  | { kind: 'power-cycle'; votes: Vote[] }
  /** A vantage sees the host answer: no power action (see `classify`). */
  | { kind: 'disputed'; up: Vote[]; down: Vote[] }
  /** A vantage has a fresh failing vote from before the wait: one more round. */
  | { kind: 'pending'; down: Vote[] }
  /** Too few fresh vantages to be sure: no power cycle on one network's word. */
  | { kind: 'lost'; down: Vote[]; lost: string[]; needed: number };

/**
 * A host incident whose own wait is over. `after`: votes count only if taken at or after it (the
 * end of the destructive wait); `since`: an "up" counts only if taken after the failure began.
 */
export function judgeHost(policy: VantagePolicy, ballot: Ballot, bmc: BmcPower | undefined, after: number, since: number): HostJudgement {
  if (bmc === 'off') return { kind: 'power-on' };
  const up = ballot.votes.filter((v) => v.up && v.at >= since);
  const down = ballot.votes.filter((v) => !v.up && v.at >= after);
  if (up.length > 0) return { kind: 'disputed', up, down: ballot.votes.filter((v) => !v.up) };
  if (down.length >= policy.power) return { kind: 'power-cycle', votes: down };
  // A fresh vote from before the wait (or an "up" from before the failure): its next report decides.
  const early = ballot.votes.filter((v) => (!v.up && v.at < after) || (v.up && v.at < since));
  if (early.length > 0 && down.length + early.length >= policy.power) return { kind: 'pending', down };
  return { kind: 'lost', down, lost: ballot.lost, needed: policy.power };
}

export type ServiceJudgement = { kind: 'restart' } | { kind: 'pending' } | { kind: 'disputed'; up: Vote[]; down: Vote[] };

/**
 * A restart keeps today's rule (no quorum), and is held while another vantage sees the service up
 * since the failure began. A fresh "up" from before the failure waits for that vantage's next
 * report (it may still see the service answer); a lost vantage holds nothing.
 */
export function judgeRestart(ballot: Ballot, since: number): ServiceJudgement {
  const up = ballot.votes.filter((v) => v.up && v.at >= since);
  if (up.length > 0) return { kind: 'disputed', up, down: ballot.votes.filter((v) => !v.up) };
  if (ballot.votes.some((v) => v.up && v.at < since)) return { kind: 'pending' };
  return { kind: 'restart' };
}

/** Whether a server is disputed: a vantage's trusted "up" beside the daemon's own failing probe. */
export function isDisputed(ballot: Ballot, selfName: string, since: number): boolean {
  const self = ballot.votes.find((v) => v.vantage === selfName);
  return self !== undefined && !self.up && ballot.votes.some((v) => v.up && v.vantage !== selfName && v.at >= since);
}

/**
 * One disputed server among healthy neighbours is its customer allowing only some of the
 * management networks (an access-blocked mail naming the missing ones); many at once is mamori's
 * own network (the operator is told, nothing is done).
 */
export function classify(disputedServers: number, policy: VantagePolicy): 'one' | 'many' {
  return disputedServers >= policy.manyServers ? 'many' : 'one';
}

/** The networks the failing vantages leave from: those the customer's filter is missing. */
export function missingNetworks(down: readonly Vote[]): string[] {
  return [...new Set(down.map((v) => v.network))];
}
