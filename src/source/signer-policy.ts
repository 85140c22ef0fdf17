/**
 * Who may change which manifest file: path rules from the config (`customers/acme/** → acme-dev,
 * operators`), groups expanded to signer names. The last rule whose glob matches a file decides, as
 * in CODEOWNERS; a file no rule matches may be changed by nobody. Pure.
 */
import { globMatch } from './glob.ts';

export interface PathRule {
  glob: string;
  /** Signer names (groups expanded), sorted. */
  signers: readonly string[];
}

export interface SignerPolicy {
  rules: readonly PathRule[];
}

/** The rule that decides a path, if any. */
export function ruleFor(policy: SignerPolicy, path: string): PathRule | undefined {
  for (let i = policy.rules.length - 1; i >= 0; i--) {
    const rule = policy.rules[i];
    if (rule && globMatch(rule.glob, path)) return rule;
  }
  return undefined;
}

export function mayChange(policy: SignerPolicy, signer: string | undefined, path: string): boolean {
  if (signer === undefined) return false;
  return ruleFor(policy, path)?.signers.includes(signer) ?? false;
}

export interface PolicyInput {
  /** Every signer's name (from the config and from an allowed signers file). */
  signers: readonly string[];
  groups: Readonly<Record<string, readonly string[]>>;
  paths: ReadonlyArray<{ glob: string; signers: readonly string[] }> | undefined;
  operatorSigners: readonly string[];
}

/** Names in a rule resolved to signers; an unknown name allows nobody (the config check reports it). */
export function buildSignerPolicy(input: PolicyInput): SignerPolicy {
  const known = new Set(input.signers);
  const expand = (names: readonly string[]): string[] => {
    const out = new Set<string>();
    for (const name of names) {
      const group = input.groups[name];
      if (group) for (const member of group) if (known.has(member)) out.add(member);
      if (known.has(name)) out.add(name);
    }
    return [...out].sort();
  };
  if (input.paths !== undefined) return { rules: input.paths.map((r) => ({ glob: r.glob, signers: expand(r.signers) })) };
  // The allowed-signers form: any signer for the customers' files, operatorSigners (else any) for operator/**.
  const all = [...known].sort();
  const operators = input.operatorSigners.length > 0 ? expand(input.operatorSigners) : all;
  return {
    rules: [
      { glob: '**', signers: all },
      { glob: 'operator/**', signers: operators },
    ],
  };
}

/** Which signers a change to each file needs (`mamori validate --signers`, `mamori plan`). */
export interface SignerNeed {
  file: string;
  /** The rule that decides; absent when none matches (nobody may change the file). */
  glob?: string;
  signers: string[];
}

export function signersNeeded(policy: SignerPolicy, files: readonly string[]): SignerNeed[] {
  return [...new Set(files)].sort().map((file) => {
    const rule = ruleFor(policy, file);
    return rule ? { file, glob: rule.glob, signers: [...rule.signers] } : { file, signers: [] };
  });
}

/** Paths whose content differs between two sets of files (added, removed or changed). */
type FileContent = { path: string; content: Uint8Array | string };

export function changedFiles(before: readonly FileContent[], after: readonly FileContent[]): string[] {
  const old = new Map(before.map((f) => [f.path, f.content]));
  const out: string[] = [];
  const same = (a: Uint8Array | string, b: Uint8Array | string): boolean => {
    if (typeof a === 'string' || typeof b === 'string') return a === b;
    return a.length === b.length && a.every((x, i) => x === b[i]);
  };
  for (const f of after) {
    const o = old.get(f.path);
    if (o === undefined || !same(o, f.content)) out.push(f.path);
    old.delete(f.path);
  }
  out.push(...old.keys());
  return out.sort();
}

/** One line for a person: `a, b (customers/acme/**)`, or why nobody may. */
export function describeNeed(need: SignerNeed): string {
  if (need.glob === undefined) return 'nobody: no path rule matches this file';
  if (need.signers.length === 0) return `nobody: the rule ${need.glob} names no known signer`;
  return `one of ${need.signers.join(', ')} (${need.glob})`;
}
