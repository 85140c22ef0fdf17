/**
 * `mamori confirm REVISION`: release a held revision (a rollback, or a mass removal) through the
 * running daemon's local API. The daemon decides; this command only asks.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.ts';
import type { MamoriConfig } from '../config/types.ts';
import { isMamoriError, MamoriError } from '../errors.ts';
import { resolveSecret } from '../secrets/resolve-secret.ts';

export interface LocalApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** POST to the daemon's local API at config.http.listen, with the token when one is configured. */
export async function postLocalApi(config: MamoriConfig, path: string, payload: unknown): Promise<LocalApiAnswer> {
  const listen = config.http.listen;
  const host = listen.slice(0, listen.lastIndexOf(':'));
  const port = listen.slice(listen.lastIndexOf(':') + 1);
  const client = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  const token = config.http.token ? await resolveSecret(config.http.token, config) : undefined;
  let res: Response;
  try {
    res = await fetch(`http://${client}:${port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (err) {
    throw new MamoriError('MAMORI_HTTP_UNREACHABLE', `no mamori daemon answers on ${listen}: is \`mamori run\` running?`, { cause: err });
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { error: text.slice(0, 200) };
  }
  return { status: res.status, body };
}

export function registerConfirmCommand(program: Command): void {
  program
    .command('confirm')
    .description('Apply a held revision (a rollback or a large removal) that waits for an operator.')
    .argument('<revision>', 'the held revision (its commit SHA, or a unique prefix of at least 7 characters)')
    .option('--json', 'print the daemon answer as JSON')
    .action(async (revision: string, opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ config?: string }>();
      try {
        const config = await loadConfig(globals.config);
        const answer = await postLocalApi(config, '/api/confirm', { revision });
        if (opts.json) process.stdout.write(`${JSON.stringify(answer.body, null, 2)}\n`);
        if (answer.status === 200) {
          const result = answer.body.result as { result?: string; revision?: string } | undefined;
          if (!opts.json) process.stdout.write(`revision ${result?.revision ?? revision}: ${result?.result ?? 'done'}\n`);
          process.exitCode = result?.result === 'applied' ? 0 : 1;
          return;
        }
        if (!opts.json) process.stderr.write(`mamori confirm: ${String(answer.body.code ?? answer.status)}: ${String(answer.body.error ?? '')}\n`);
        process.exitCode = 1;
      } catch (err) {
        process.stderr.write(`mamori confirm: ${isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
