import { execFile } from 'node:child_process';
import type { SignatureVerdict } from './types.ts';

/**
 * Signed revisions. A merged manifest decides which commands run as root on customer servers, so
 * with signing configured the tip of the tracked branch must carry an SSH signature that git itself
 * verifies against the operator's allowed_signers file — and the signer must be allowed for every
 * path the revision changes: operator documents (operator/**) only by an operator principal.
 */
export interface SigningPolicy {
  /** An ssh-keygen allowed_signers file. */
  allowedSignersFile: string;
  /** Principals who may change operator paths; without the list, any allowed signer may. */
  operatorSigners?: readonly string[];
}

export interface VerifyRequest {
  gitDir: string;
  revision: string;
  /** Paths (repository-relative) the revision changes against the one applied before. */
  changedPaths: readonly string[];
  /** The manifests folder inside the repository ('' for the root): operator paths are `<path>/operator/**`. */
  manifestsPath: string;
  policy: SigningPolicy;
  env: NodeJS.ProcessEnv;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runGit(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile('git', args, { env, maxBuffer: 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 128) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export function isOperatorPath(path: string, manifestsPath: string): boolean {
  const prefix = manifestsPath.replace(/^\/+|\/+$/g, '');
  const rel = prefix ? (path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : undefined) : path;
  return rel !== undefined && (rel === 'operator' || rel.startsWith('operator/'));
}

export async function verifyRevisionSignature(request: VerifyRequest): Promise<SignatureVerdict> {
  const config = ['-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${request.policy.allowedSignersFile}`];
  const base = ['--git-dir', request.gitDir, ...config];
  // git verify-commit is the judge (exit 0 only for a good signature by an allowed signer);
  // the log format only tells us who that signer is, and whether there was a signature at all.
  const verify = await runGit([...base, 'verify-commit', request.revision], request.env);
  const show = await runGit([...base, 'log', '-1', '--format=%G?%x00%GS', request.revision], request.env);
  const [status = 'N', principal = ''] = show.stdout.trim().split('\0');
  if (verify.code !== 0) {
    if (status === 'N') {
      return { trusted: false, reason: 'Unsigned', message: `revision ${request.revision.slice(0, 12)} is not signed` };
    }
    return {
      trusted: false,
      reason: 'UntrustedSigner',
      message: `revision ${request.revision.slice(0, 12)} is signed by a key that is not in the allowed signers file`,
    };
  }
  const operators = request.policy.operatorSigners;
  if (operators && !operators.includes(principal)) {
    const paths = request.changedPaths.filter((p) => isOperatorPath(p, request.manifestsPath));
    if (paths.length > 0) {
      return {
        trusted: false,
        reason: 'OperatorSignerRequired',
        principal,
        paths,
        message: `${principal} may not change operator documents (${paths.slice(0, 5).join(', ')}); an operator signer must sign this revision`,
      };
    }
  }
  return { trusted: true, principal };
}
