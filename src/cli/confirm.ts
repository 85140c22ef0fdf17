/**
 * `mamori confirm REVISION`: release a held revision (a rollback, or a mass removal) through the
 * running daemon's local API. The daemon decides; this command only asks. With replicas the daemon
 * asked confirms it on every live replica (each holds its own copy).
 */
import type { Command } from 'commander';
import { isMamoriError } from '../errors.ts';

export function registerConfirmCommand(program: Command): void {
  program
    .command('confirm')
    .description('Apply a held revision (a rollback or a large removal) that waits for an operator.')
    .argument('<revision>', 'the held revision (its commit SHA, or a unique prefix of at least 7 characters)')
    .option('--json', 'print the daemon answer as JSON')
    .addHelpText('after', `
Examples:
  $ mamori status --json | jq .                              # the held revision is named in the daemon's status
  $ mamori --config /etc/mamori/mamori.yaml confirm 3f2a9c1`)
    .action(async (revision: string, opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ config?: string }>();
      try {
        const [{ loadConfig }, { requestConfirm }, { localApiTarget }] = await Promise.all([
          import('../config/load-config.ts'),
          import('../reconcile/local-api-client.ts'),
          import('./local-api-target.ts'),
        ]);
        const config = await loadConfig(globals.config);
        // The bound confirm always had; the client's 10-minute default is sized for a whole reconcile pass.
        const reply = await requestConfirm<{ result?: string; revision?: string; replicas?: Array<{ replica: string; ok: boolean; result?: string; error?: string }> }>({ ...(await localApiTarget(config)), timeoutMs: 120_000 }, revision);
        if (opts.json) process.stdout.write(`${JSON.stringify(reply.body, null, 2)}\n`);
        if (reply.status === 200) {
          const result = reply.result;
          if (!opts.json) {
            process.stdout.write(`revision ${result?.revision ?? revision}: ${result?.result ?? 'done'}\n`);
            // Replicas: each holds its own copy of a held revision; each was asked.
            for (const r of result?.replicas ?? []) process.stdout.write(`  replica ${r.replica}: ${r.ok ? (r.result ?? 'done') : r.error ?? 'no answer'}\n`);
          }
          process.exitCode = result?.result === 'applied' ? 0 : 1;
          return;
        }
        if (!opts.json) process.stderr.write(`mamori confirm: ${reply.code ?? reply.status}: ${reply.error ?? ''}\n`);
        process.exitCode = 1;
      } catch (err) {
        process.stderr.write(`mamori confirm: ${isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
