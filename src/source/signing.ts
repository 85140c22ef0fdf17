/**
 * Signed changes: every commit between the applied revision and a new tip is verified by git
 * itself (`git log` with %G?, against the allowed signers file and the GNUPGHOME built from the
 * config in signing-keys.ts), and its changed paths listed (`git diff-tree`; a merge answers only
 * for what differs from all of its parents, the combined diff). What may be changed by whom is
 * judged in judge-changes.ts; this file only asks git.
 */
import { execFile } from 'node:child_process';
import type { SigningKeys } from './signing-keys.ts';

/** How git judged one commit's signature, reduced to what decides trust. */
export type SignatureStatus = 'good' | 'unsigned' | 'unknown-key' | 'bad' | 'expired' | 'revoked';

export interface CommitVerdict {
  commit: string;
  status: SignatureStatus;
  /** The signer's name (status good only). */
  signer?: string;
  /** The key's fingerprint as git gives it (SSH `SHA256:…`, OpenPGP hex), when there is a signature. */
  key?: string;
  /** Paths the commit changes, relative to the repository root. */
  paths: string[];
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runGit(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile('git', args, { env, maxBuffer: 256 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 128) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

/** The git options and environment under which signatures are checked: ours only, never a user's gpg or ssh config. */
export function verifyGitArgs(keys: SigningKeys): string[] {
  return ['-c', `gpg.ssh.allowedSignersFile=${keys.allowedSignersFile}`, '-c', 'gpg.program=gpg', '-c', 'gpg.x509.program=false', '-c', 'log.showSignature=false'];
}

const FIELD = '\x1f';

/** One `git log -z` record: %H %G? %GF %GP %GS, separated by 0x1f (the user id last: it is free text). */
export function parseSignatureRecord(record: string, keys: Pick<SigningKeys, 'openpgp' | 'ssh'>): Omit<CommitVerdict, 'paths'> | undefined {
  const parts = record.replace(/^\n/, '').split(FIELD);
  const [commit = '', code = 'N', fingerprint = '', primary = '', ...rest] = parts;
  if (!/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  const principal = rest.join(FIELD);
  const key = fingerprint || undefined;
  const withKey = key ? { key } : {};
  switch (code) {
    case 'G':
    case 'U': {
      if (fingerprint.startsWith('SHA256:')) {
        // SSH: G only when the key is in the allowed signers file under a principal (a signer name).
        if (code === 'G' && keys.ssh.has(principal)) return { commit, status: 'good', signer: principal, ...withKey };
        return { commit, status: 'unknown-key', ...withKey };
      }
      const signer = keys.openpgp.get(primary.toUpperCase()) ?? keys.openpgp.get(fingerprint.toUpperCase());
      return signer !== undefined ? { commit, status: 'good', signer, ...withKey } : { commit, status: 'unknown-key', ...withKey };
    }
    case 'N':
      return { commit, status: 'unsigned' };
    case 'B':
      return { commit, status: 'bad', ...withKey };
    case 'X':
    case 'Y':
      return { commit, status: 'expired', ...withKey };
    case 'R':
      return { commit, status: 'revoked', ...withKey };
    default:
      // E: the key is not ours (or git could not check it).
      return { commit, status: 'unknown-key', ...withKey };
  }
}

/**
 * `git diff-tree --stdin -r -z -c --root` output: a commit id, then for each path a `:`-led raw
 * line and the path. A path always follows its raw line, so a file named like a commit id is
 * never taken for one.
 */
export function parseDiffTree(out: string): Map<string, string[]> {
  const byCommit = new Map<string, string[]>();
  const tokens = out.split('\0');
  let current: string[] | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if (token === '') continue;
    if (token.startsWith(':')) {
      const path = tokens[++i];
      if (path !== undefined && current) current.push(path);
    } else {
      current = [];
      byCommit.set(token.trim(), current);
    }
  }
  return byCommit;
}

export interface VerifyRangeRequest {
  gitDir: string;
  /** Commits to verify: reachable from `include`, not from `exclude` (revisions; `--no-walk` for `only`). */
  include: readonly string[];
  exclude: readonly string[];
  keys: SigningKeys;
  env: NodeJS.ProcessEnv;
}

/** Verify every commit of a range: its signature and the paths it changes. */
export async function verifyCommits(request: VerifyRangeRequest): Promise<CommitVerdict[]> {
  if (request.include.length === 0) return [];
  const env = { ...request.env, GNUPGHOME: request.keys.gnupgHome };
  const base = ['--git-dir', request.gitDir, ...verifyGitArgs(request.keys)];
  const revs = [...request.include, ...request.exclude.map((r) => `^${r}`)];
  const log = await runGit([...base, 'log', '-z', '--no-color', '--format=%H%x1f%G?%x1f%GF%x1f%GP%x1f%GS', '--stdin'], env, `${revs.join('\n')}\n`);
  if (log.code !== 0) throw new Error(`git log could not list the commits to verify: ${log.stderr.trim()}`);
  const verdicts: Omit<CommitVerdict, 'paths'>[] = [];
  for (const record of log.stdout.split('\0')) {
    const v = parseSignatureRecord(record, request.keys);
    if (v) verdicts.push(v);
  }
  if (verdicts.length === 0) return [];
  const tree = await runGit(['--git-dir', request.gitDir, 'diff-tree', '--stdin', '-r', '-z', '-c', '--root', '--no-renames', '--no-abbrev'], request.env, `${verdicts.map((v) => v.commit).join('\n')}\n`);
  if (tree.code !== 0) throw new Error(`git diff-tree could not list the changed paths: ${tree.stderr.trim()}`);
  const paths = parseDiffTree(tree.stdout);
  return verdicts.map((v) => ({ ...v, paths: paths.get(v.commit) ?? [] }));
}
