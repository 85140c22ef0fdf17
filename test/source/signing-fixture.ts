/**
 * Real signers for the signed-changes tests, made at run time (nothing committed): SSH keys by
 * ssh-keygen, OpenPGP keys by gpg in batch mode, each in its own GNUPGHOME. `close()` stops the
 * gpg-agents those homes started (gpgconf, by home: never another user's agent).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommitSigner } from './git-fixture.ts';

export interface SshSigner extends CommitSigner {
  kind: 'ssh';
  name: string;
  privateKey: string;
  publicKey: string;
}

export interface OpenpgpSigner extends CommitSigner {
  kind: 'openpgp';
  name: string;
  home: string;
  fingerprint: string;
  /** ASCII-armored public key. */
  armored: string;
  /** The public key exported to a keyring file (binary). */
  keyring: string;
}

export type TestSigner = SshSigner | OpenpgpSigner;

export function makeSshSigner(dir: string, name: string): SshSigner {
  mkdirSync(dir, { recursive: true });
  const privateKey = join(dir, `ssh-${name}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', privateKey]);
  return {
    kind: 'ssh',
    name,
    privateKey,
    publicKey: readFileSync(`${privateKey}.pub`, 'utf8').trim(),
    gitConfig: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${privateKey}`],
  };
}

const homes: string[] = [];

export function makeOpenpgpSigner(dir: string, name: string, email: string): OpenpgpSigner {
  const home = join(dir, `gpg-${name}`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  homes.push(home);
  const env = { ...process.env, GNUPGHOME: home, LANG: 'C', LC_ALL: 'C' };
  const gpg = (args: string[]): string => execFileSync('gpg', ['--batch', '--no-tty', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  gpg(['--passphrase', '', '--quick-gen-key', `${name} <${email}>`, 'ed25519', 'sign', 'never']);
  const colons = gpg(['--with-colons', '--fingerprint', '--list-secret-keys']);
  const fingerprint = colons.split('\n').find((l) => l.startsWith('fpr:'))?.split(':')[9] ?? '';
  if (!/^[0-9A-F]{40}$/.test(fingerprint)) throw new Error(`no fingerprint for ${name}: ${colons}`);
  const armored = gpg(['--armor', '--export', fingerprint]);
  const keyring = join(dir, `${name}.gpg`);
  writeFileSync(keyring, execFileSync('gpg', ['--batch', '--no-tty', '--export', fingerprint], { env }));
  return {
    kind: 'openpgp',
    name,
    home,
    fingerprint,
    armored,
    keyring,
    gitConfig: ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${fingerprint}`, '-c', 'gpg.program=gpg'],
    env: { GNUPGHOME: home },
  };
}

/** Stop the gpg-agents the signers' homes started. */
export function closeSigners(): void {
  for (const home of homes.splice(0)) {
    try {
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    } catch {
      // no agent was started for this home
    }
  }
}
