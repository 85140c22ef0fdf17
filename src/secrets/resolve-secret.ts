/**
 * A secretRef's value: the file `<secretsDir>/<name>`, else the environment variable
 * MAMORI_SECRET_<NAME> (upper-cased, hyphens as underscores). A secrets folder or
 * file that other users can read is refused (MAMORI_SECRET_UNSAFE) rather than used:
 * a leak there is silent, a refusal is not.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MamoriError } from '../errors.ts';
import type { MamoriConfig } from '../config/types.ts';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Secrets are keys and passwords; anything larger is not one. */
const MAX_SECRET_BYTES = 64 * 1024;

export interface ResolveSecretOptions {
  /** The environment to read MAMORI_SECRET_* from (process.env by default). */
  env?: NodeJS.ProcessEnv;
}

/** MAMORI_SECRET_ACME_WEB01 for acme-web01. */
export function secretEnvName(name: string): string {
  return `MAMORI_SECRET_${name.toUpperCase().replace(/-/g, '_')}`;
}

function unsafe(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

/**
 * Resolve a secretRef (`{ secretRef: name }` or the bare name). A single trailing
 * newline (as `echo` writes it) is dropped. The value never appears in an error.
 */
export async function resolveSecret(
  ref: { secretRef: string } | string,
  config: Pick<MamoriConfig, 'secretsDir'>,
  options: ResolveSecretOptions = {},
): Promise<string> {
  const name = typeof ref === 'string' ? ref : ref.secretRef;
  if (!NAME.test(name)) {
    throw new MamoriError('MAMORI_SECRET_MISSING', 'a secretRef name is lower-case letters, digits and hyphens', { details: { secretRef: name.slice(0, 64) } });
  }
  const dir = config.secretsDir;
  let dirMode: number | undefined;
  try {
    const st = await stat(dir);
    if (st.isDirectory()) dirMode = st.mode;
  } catch {
    dirMode = undefined; // no secrets folder: the environment alone
  }
  if (dirMode !== undefined) {
    if (unsafe(dirMode)) {
      throw new MamoriError('MAMORI_SECRET_UNSAFE', `the secrets folder ${dir} is readable by other users: chmod 700 ${dir}`, { details: { secretsDir: dir, mode: (dirMode & 0o777).toString(8) } });
    }
    const file = join(dir, name);
    let fh;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new MamoriError('MAMORI_SECRET_MISSING', `the secret ${name} cannot be read`, { cause: err, details: { secretRef: name } });
      }
    }
    if (fh !== undefined) {
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw new MamoriError('MAMORI_SECRET_MISSING', `the secret ${name} is not a regular file`, { details: { secretRef: name } });
        if (unsafe(st.mode)) {
          throw new MamoriError('MAMORI_SECRET_UNSAFE', `the secret file ${file} is readable by other users: chmod 600 ${file}`, { details: { secretRef: name, mode: (st.mode & 0o777).toString(8) } });
        }
        if (st.size > MAX_SECRET_BYTES) throw new MamoriError('MAMORI_SECRET_MISSING', `the secret ${name} is larger than ${MAX_SECRET_BYTES} bytes`, { details: { secretRef: name } });
        return stripNewline((await fh.readFile()).toString('utf8'));
      } finally {
        await fh.close();
      }
    }
  }
  const env = options.env ?? process.env;
  const value = env[secretEnvName(name)];
  if (value !== undefined && value !== '') return stripNewline(value);
  throw new MamoriError('MAMORI_SECRET_MISSING', `the secret ${name} is neither a file in ${dir} nor the environment variable ${secretEnvName(name)}`, {
    details: { secretRef: name },
  });
}

function stripNewline(s: string): string {
  return s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s;
}
