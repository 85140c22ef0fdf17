/**
 * Whatever reconciles (the daemon, and the CLI when it reconciles in-process) refuses a secrets
 * folder other users can read before it starts: a leak there is silent, a refusal is not.
 * resolveSecret refuses it too, but only when a secret is asked for, which may be never.
 */
import { stat } from 'node:fs/promises';
import { MamoriError } from '../errors.ts';

export async function checkSecretsFolder(dir: string): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(dir)).mode;
  } catch {
    return; // no folder: secrets come from the environment
  }
  if ((mode & 0o077) !== 0) {
    throw new MamoriError('MAMORI_SECRET_UNSAFE', `the secrets folder ${dir} is readable by other users: chmod 700 ${dir}`, {
      details: { secretsDir: dir, mode: (mode & 0o777).toString(8) },
    });
  }
}
