/**
 * Which changed manifest files a new revision may carry, given every commit since the applied
 * revision: a file is refused when any commit that changed it was not signed by a signer the path
 * rules allow for it (unsigned, an unknown or removed key, a bad signature, or simply someone else's
 * file). A refused file keeps its accepted (last good) version, and stays refused in later revisions
 * while the refused commit is in the branch's history and the file differs from that version. Pure.
 */
import { isManifestPath } from '../manifest/ownership.ts';
import type { CommitVerdict, SignatureStatus } from './signing.ts';
import { ruleFor, type SignerPolicy } from './signer-policy.ts';

/** A file's content as the tree holds it: `<mode> <object id>`, or null when there is no such file. */
export type Blob = string | null;

export interface Offender {
  commit: string;
  status: SignatureStatus;
  signer?: string;
  key?: string;
}

export interface ChangeRefusal {
  /** Relative to the manifests root. */
  path: string;
  /** The version kept (null: the file did not exist, and stays absent). */
  accepted: Blob;
  /** The commits whose signer may not change this file. */
  offenders: Offender[];
  /** The signers the path rules allow for this file (empty: no rule, nobody). */
  allowed: string[];
  /** The rule that decides the file, if any. */
  glob?: string;
  /** First refused in this revision (or by a new commit): tell people; carried over: they were told. */
  isNew: boolean;
}

export interface JudgeInput {
  policy: SignerPolicy;
  /** Verdicts of the commits since the applied revision, paths relative to the manifests root. */
  commits: readonly CommitVerdict[];
  /** Verdicts, under today's keys, of the offenders of carried-over refusals still in the history. */
  carriedOffenders: readonly CommitVerdict[];
  /** Manifest files at the new tip. */
  tip: ReadonlyMap<string, string>;
  /** Manifest files at the applied revision (as applied: refused files at their kept version). */
  applied: ReadonlyMap<string, string>;
  /** Refusals of the applied revision. */
  previous: readonly ChangeRefusal[];
}

function offenderOf(v: CommitVerdict): Offender {
  return { commit: v.commit, status: v.status, ...(v.signer !== undefined ? { signer: v.signer } : {}), ...(v.key !== undefined ? { key: v.key } : {}) };
}

export function judgeChanges(input: JudgeInput): ChangeRefusal[] {
  const touching = new Map<string, CommitVerdict[]>();
  for (const v of input.commits) {
    for (const path of v.paths) {
      if (!isManifestPath(path)) continue;
      const list = touching.get(path);
      if (list) list.push(v);
      else touching.set(path, [v]);
    }
  }
  const previous = new Map(input.previous.map((r) => [r.path, r]));
  const carried = new Map(input.carriedOffenders.map((v) => [v.commit, v]));
  const candidates = new Set([...touching.keys(), ...previous.keys()]);
  const refusals: ChangeRefusal[] = [];
  for (const path of [...candidates].sort()) {
    const before = previous.get(path);
    const accepted: Blob = before ? before.accepted : (input.applied.get(path) ?? null);
    const now: Blob = input.tip.get(path) ?? null;
    if (now === accepted) continue; // back to (or still at) the accepted version: nothing to refuse
    const rule = ruleFor(input.policy, path);
    const allowed = rule?.signers ?? [];
    const may = (v: CommitVerdict): boolean => v.status === 'good' && v.signer !== undefined && allowed.includes(v.signer);
    const fresh = (touching.get(path) ?? []).filter((v) => !may(v));
    const old = (before?.offenders ?? []).flatMap((o) => {
      const v = carried.get(o.commit);
      return v && !may(v) ? [v] : [];
    });
    if (fresh.length === 0 && old.length === 0) continue;
    const seen = new Set<string>();
    const offenders: Offender[] = [];
    for (const v of [...old, ...fresh]) {
      if (seen.has(v.commit)) continue;
      seen.add(v.commit);
      offenders.push(offenderOf(v));
    }
    const known = new Set((before?.offenders ?? []).map((o) => o.commit));
    refusals.push({
      path,
      accepted,
      offenders,
      allowed: [...allowed],
      ...(rule ? { glob: rule.glob } : {}),
      isNew: offenders.some((o) => !known.has(o.commit)),
    });
  }
  return refusals;
}

const STATUS_WORDS: Record<SignatureStatus, string> = {
  good: 'signed by',
  unsigned: 'not signed',
  'unknown-key': 'signed with a key that is not in the configuration',
  bad: 'carrying a bad signature',
  expired: 'signed with an expired key',
  revoked: 'signed with a revoked key',
};

/** `signer globex-dev`, `unsigned`, … — who answers for a commit, in words. */
export function describeSigner(o: Pick<Offender, 'status' | 'signer' | 'key'>): string {
  if (o.status === 'good') return o.signer ?? '(unknown)';
  return `${STATUS_WORDS[o.status]}${o.key ? ` (${o.key})` : ''}`;
}

/** One line for a finding, a log or a mail. */
export function refusalMessage(r: ChangeRefusal): string {
  const first = r.offenders[0];
  const who = first ? (first.status === 'good' ? `signed by ${first.signer ?? '?'}` : STATUS_WORDS[first.status]) : 'unverified';
  const more = r.offenders.length > 1 ? ` (and ${r.offenders.length - 1} more commit${r.offenders.length === 2 ? '' : 's'})` : '';
  const need = r.allowed.length > 0 ? `only ${r.allowed.join(', ')} may change it (${r.glob ?? ''})` : 'no path rule lets anyone change it';
  const kept = r.accepted === null ? 'it is not applied' : 'the last good version is kept';
  return `changed by commit ${first?.commit.slice(0, 12) ?? '?'}, ${who}${more}; ${need}; ${kept}`;
}
