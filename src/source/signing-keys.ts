/**
 * The signers' keys as git verifies them: an ssh-keygen allowed_signers file whose principals are
 * signer names, and a GNUPGHOME holding the OpenPGP keys (imported with Debian's gpg). Built fresh
 * from the config each time it is loaded, so a key removed from the config is gone from the next
 * verification on (key rotation); OpenPGP signatures are attributed by primary-key fingerprint only,
 * never by the user id a key claims.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MamoriError } from '../errors.ts';
import type { SigningConfig } from '../config/types.ts';
import { buildSignerPolicy, type SignerPolicy } from './signer-policy.ts';

export interface SigningKeys {
  /** The folder built for this config (removed when the next one is built). */
  dir: string;
  allowedSignersFile: string;
  gnupgHome: string;
  /** OpenPGP primary-key fingerprint (upper-case hex) → signer name. */
  openpgp: ReadonlyMap<string, string>;
  /** Signer names with SSH keys (principals of the allowed signers file). */
  ssh: ReadonlySet<string>;
  policy: SignerPolicy;
  /** Commits reachable from this one are trusted as they are. */
  since?: string;
}

function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: options.env, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr: err && typeof err.code !== 'number' ? `${stderr}${err.message}` : stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

function keysError(field: string, message: string, cause?: unknown): MamoriError {
  return new MamoriError('MAMORI_SIGNING_KEYS', `${field}: ${message}`, { cause, details: { field } });
}

/** Principals of an allowed_signers file: the first field of each line, comma-separated. */
export function principalsOf(allowedSigners: string): string[] {
  const out = new Set<string>();
  for (const raw of allowedSigners.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const first = line.split(/\s/, 1)[0] ?? '';
    for (const p of first.split(',')) if (p !== '') out.add(p);
  }
  return [...out];
}

/** Primary-key fingerprints in a GNUPGHOME (`--with-colons`: the fpr line after each pub line). */
export function primaryFingerprints(colons: string): string[] {
  const out: string[] = [];
  let afterPub = false;
  for (const line of colons.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === 'pub') afterPub = true;
    else if (fields[0] === 'fpr' && afterPub) {
      out.push((fields[9] ?? '').toUpperCase());
      afterPub = false;
    } else if (fields[0] === 'sub') afterPub = false;
  }
  return out;
}

/** The path rules of a config, principals of its allowed signers file included (no keys are built). */
export async function signerPolicyOf(config: SigningConfig): Promise<SignerPolicy> {
  let fromFile: string[] = [];
  if (config.allowedSigners !== undefined) {
    try {
      fromFile = principalsOf(await readFile(config.allowedSigners, 'utf8'));
    } catch (err) {
      throw keysError('signing.allowedSigners', `${config.allowedSigners} cannot be read: ${(err as Error).message}`, err);
    }
  }
  return policyOf(config, fromFile);
}

function policyOf(config: SigningConfig, fromFile: readonly string[]): SignerPolicy {
  return buildSignerPolicy({
    signers: [...new Set([...Object.keys(config.signers), ...fromFile])],
    groups: config.groups,
    paths: config.paths,
    operatorSigners: config.operatorSigners,
  });
}

/**
 * Build the key material for `config` under `baseDir` (a fresh folder each time; older ones are
 * removed once this one is complete). Throws MAMORI_SIGNING_KEYS naming the config field at fault.
 */
export async function prepareSigningKeys(config: SigningConfig, baseDir: string): Promise<SigningKeys> {
  await mkdir(baseDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(baseDir, 'keys-'));
  try {
    const lines: string[] = [];
    const ssh = new Set<string>();
    for (const [name, signer] of Object.entries(config.signers)) {
      for (const key of signer.ssh) {
        lines.push(`${name} namespaces="git" ${key.trim()}`);
        ssh.add(name);
      }
    }
    const fromFile: string[] = [];
    if (config.allowedSigners !== undefined) {
      let text: string;
      try {
        text = await readFile(config.allowedSigners, 'utf8');
      } catch (err) {
        throw keysError('signing.allowedSigners', `${config.allowedSigners} cannot be read: ${(err as Error).message}`, err);
      }
      for (const raw of text.split('\n')) {
        const line = raw.trim();
        if (line !== '' && !line.startsWith('#')) lines.push(line);
      }
      for (const p of principalsOf(text)) {
        fromFile.push(p);
        ssh.add(p);
      }
    }
    const allowedSignersFile = join(dir, 'allowed_signers');
    await writeFile(allowedSignersFile, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });

    const gnupgHome = join(dir, 'gnupg');
    await mkdir(gnupgHome, { mode: 0o700 });
    // Whom to believe is the config's decision (the fingerprint → signer map), not a web of trust.
    await writeFile(join(gnupgHome, 'gpg.conf'), 'trust-model always\nno-auto-key-retrieve\nno-autostart\n', { mode: 0o600 });
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, GNUPGHOME: gnupgHome, LANG: 'C', LC_ALL: 'C' };
    const openpgp = new Map<string, string>();
    const wanted: Array<{ field: string; fingerprint: string; where: string }> = [];
    for (const [name, signer] of Object.entries(config.signers)) {
      for (const [i, key] of signer.openpgp.entries()) {
        const field = `signing.signers.${name}.openpgp[${i}]`;
        const imported =
          key.keyring !== undefined
            ? await run('gpg', ['--batch', '--no-tty', '--quiet', '--import', key.keyring], { env })
            : await run('gpg', ['--batch', '--no-tty', '--quiet', '--import'], { env, input: key.key ?? '' });
        if (imported.code !== 0 && imported.code !== 2) {
          throw keysError(field, `gpg could not import the key${key.keyring ? ` from ${key.keyring}` : ''}: ${imported.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
        }
        const other = openpgp.get(key.fingerprint);
        if (other !== undefined && other !== name) throw keysError(`${field}.fingerprint`, `the key ${key.fingerprint} is also signer ${other}'s: one key, one signer`);
        openpgp.set(key.fingerprint, name);
        wanted.push({ field, fingerprint: key.fingerprint, where: key.keyring ?? 'the key given' });
      }
    }
    if (wanted.length > 0) {
      const listed = await run('gpg', ['--batch', '--no-tty', '--with-colons', '--fingerprint', '--list-keys'], { env });
      const present = new Set(primaryFingerprints(listed.stdout));
      for (const w of wanted) {
        if (!present.has(w.fingerprint)) throw keysError(`${w.field}.fingerprint`, `no primary key ${w.fingerprint} in ${w.where}`);
      }
    }

    const policy = policyOf(config, fromFile);
    for (const entry of await readdir(baseDir)) {
      if (entry.startsWith('keys-') && join(baseDir, entry) !== dir) await rm(join(baseDir, entry), { recursive: true, force: true });
    }
    return { dir, allowedSignersFile, gnupgHome, openpgp, ssh, policy, ...(config.since !== undefined ? { since: config.since } : {}) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
