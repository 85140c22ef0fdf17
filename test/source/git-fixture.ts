/**
 * Real git for the source tests: a bare repository in a temp folder is the remote, a working
 * clone pushes to it, and ssh-keygen makes signing keys at run time (nothing committed).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

export interface GitFixture {
  dir: string;
  bare: string;
  work: string;
  git(...args: string[]): string;
  write(path: string, text: string): void;
  remove(path: string): void;
  /** `signWith`: an SSH private key's path, or a signer made by signing-fixture.ts (SSH or OpenPGP). */
  commit(message: string, options?: { signWith?: string | CommitSigner }): string;
  push(options?: { force?: boolean; branch?: string }): void;
  head(): string;
  cleanup(): void;
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.test',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'author@example.test',
  GIT_CONFIG_NOSYSTEM: '1',
};

export function gitIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('git', args, { cwd, env: { ...GIT_ENV, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** What `git commit -S` needs to sign as someone: its -c options and environment. */
export interface CommitSigner {
  gitConfig: string[];
  env?: NodeJS.ProcessEnv;
}

function signerOf(signWith: string | CommitSigner): CommitSigner {
  return typeof signWith === 'string' ? { gitConfig: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${signWith}`] } : signWith;
}

/** A bare remote and a working clone whose manifests include the operator documents shipped in manifests/operator. */
export function createGitFixture(options: { withOperator?: boolean; manifestsPath?: string } = {}): GitFixture {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-git-'));
  const bare = join(dir, 'remote.git');
  const work = join(dir, 'work');
  gitIn(dir, ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  gitIn(dir, ['init', '--quiet', '--initial-branch=main', work]);
  gitIn(work, ['remote', 'add', 'origin', bare]);
  // No background gc: it would race the cleanup of the temp folder.
  gitIn(work, ['config', 'gc.auto', '0']);
  gitIn(bare, ['config', 'gc.auto', '0']);
  gitIn(bare, ['config', 'receive.autogc', 'false']);
  const prefix = options.manifestsPath ?? '';
  if (options.withOperator !== false) {
    cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(work, prefix, 'operator'), { recursive: true });
  }
  const fixture: GitFixture = {
    dir,
    bare,
    work,
    git: (...args) => gitIn(work, args),
    write(path, text) {
      const full = join(work, prefix, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
    },
    remove(path) {
      rmSync(join(work, prefix, path), { force: true, recursive: true });
    },
    commit(message, commitOptions = {}) {
      gitIn(work, ['add', '-A']);
      const signer = commitOptions.signWith !== undefined ? signerOf(commitOptions.signWith) : undefined;
      gitIn(work, [...(signer?.gitConfig ?? []), 'commit', '--quiet', '--allow-empty', ...(signer ? ['-S'] : ['--no-gpg-sign']), '-m', message], signer?.env);
      return fixture.head();
    },
    push(pushOptions = {}) {
      gitIn(work, ['push', '--quiet', ...(pushOptions.force ? ['--force'] : []), 'origin', `HEAD:refs/heads/${pushOptions.branch ?? 'main'}`]);
    },
    head: () => gitIn(work, ['rev-parse', 'HEAD']).trim(),
    // Retried: a daemon's git child killed with it may still be finishing a write into the folder (ENOTEMPTY).
    cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }),
  };
  return fixture;
}

/**
 * A loopback address of its own for each server (127.1.x.y, from its customer and name): two
 * servers may never share an address (duplicate-address), and a test's peer can listen on it.
 */
export function loopbackFor(name: string, customer = 'acme'): string {
  let h = 0x811c9dc5;
  for (const ch of `${customer}/${name}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return `127.1.${(h >>> 8) & 255}.${(h & 255) % 254 + 1}`;
}

export function serverYaml(name: string, options: { customer?: string; address?: string; services?: string[]; port?: number } = {}): string {
  const customer = options.customer ?? 'acme';
  const services = options.services ?? ['http'];
  const rendered = services.map((s) => (options.port && s === 'http' ? `{ http: { port: ${options.port} } }` : s)).join(', ');
  return `apiVersion: mamori/v1
kind: Server
metadata: { name: ${name}, customer: ${customer} }
spec:
  address: ${options.address ?? loopbackFor(name, customer)}
  os: { family: centos, version: "5.4" }
  plan: basic
  contact: { email: ops@${customer}.example }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: [${rendered}]
  access: { user: mamori, hostKey: "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", credentials: { secretRef: ${customer}-${name} } }
`;
}

export function serverPath(name: string, customer = 'acme'): string {
  return `customers/${customer}/servers/${name}.yaml`;
}

export interface SigningKey {
  path: string;
  publicKey: string;
  principal: string;
}

export function makeSigningKey(dir: string, principal: string): SigningKey {
  const path = join(dir, `key-${principal.replace(/[^a-z0-9]/gi, '_')}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', principal, '-f', path]);
  return { path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim(), principal };
}

export function writeAllowedSigners(path: string, keys: readonly SigningKey[]): void {
  writeFileSync(path, keys.map((k) => `${k.principal} namespaces="git" ${k.publicKey}\n`).join(''));
}

/** Every file of a folder, relative, for asserting what a status branch holds. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const f = join(d, e);
      if (statSync(f).isDirectory()) walk(f);
      else out.push(relative(root, f));
    }
  };
  walk(root);
  return out.sort();
}
