/**
 * `mamori resume SERVER [SERVICE]`: releases an Escalated (or flapping-held) service: its incident
 * closes as resumed, its budgets are forgiven, and the next pass repairs it again if it still
 * fails. Through the running daemon's local API; without one, in-process under the lock (journaled,
 * so the next `mamori run` starts from it). With replicas the daemon asked passes it to the replica
 * that owns the server (src/daemon/replica-routing.ts).
 */
import type { Command } from 'commander';
import { isMamoriError, MamoriError } from '../errors.ts';
import { lookupServer, serverIdOf } from '../manifest/server-id.ts';
import { isServiceName } from '../probe/types.ts';
import type { ResumeResult } from '../reconcile/controller.ts';
import type { CliGlobals } from './reconcile.ts';

export function registerResumeCommand(program: Command): void {
  program
    .command('resume')
    .description('Release an Escalated server or service: repairs start again (within fresh budgets).')
    .argument('<server>', 'the server: customer/name, or its name alone when one customer has it')
    .argument('[service]', 'one service (ping for the host); all held services without it')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Examples:
  $ mamori resume acme-web1 http                             # one Escalated service: repairs may start again
  $ mamori resume acme-db1                                   # every held service of the server
  $ mamori --config /etc/mamori/mamori.yaml resume acme-db1 ping --json`)
    .action(async (server: string, service: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<CliGlobals>();
      try {
        if (service !== undefined && !isServiceName(service)) throw new MamoriError('MAMORI_CLI_USAGE', `not a service: ${service}`);
        const [{ loadConfig }, { requestResume }, { daemonTarget }, { withInProcessController }] = await Promise.all([
          import('../config/load-config.ts'),
          import('../reconcile/local-api-client.ts'),
          import('./local-api-target.ts'),
          import('./reconcile.ts'),
        ]);
        const config = await loadConfig(globals.config);
        const target = await daemonTarget(config);
        let result: ResumeResult & { replica?: string };
        if (target !== undefined) {
          const reply = await requestResume<ResumeResult & { replica?: string }>(target, server, service);
          if (!reply.ok || reply.result === undefined) throw new MamoriError('MAMORI_HTTP_UNREACHABLE', `the daemon refused: ${reply.code ?? reply.status} ${reply.error ?? ''}`.trim());
          result = reply.result;
        } else {
          const manifests = cmd.getOptionValueSourceWithGlobals('manifests') === 'cli' ? globals.manifests : undefined;
          result = await withInProcessController(config, manifests, 'resume', ({ controller, servers }) => {
            const found = lookupServer(server, servers.map(serverIdOf));
            if (!found.ok) throw new MamoriError('MAMORI_CLI_USAGE', found.message);
            return controller.resume(found.id, service !== undefined && isServiceName(service) ? service : undefined);
          });
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else {
          // Replicas: the owner of the server did it, whichever replica was asked.
          const by = result.replica !== undefined ? ` (by replica ${result.replica})` : '';
          process.stdout.write(result.resumed.length > 0 ? `${server}: resumed ${result.resumed.join(', ')}${by}\n` : `${server}: nothing was held${by}\n`);
        }
        process.exitCode = 0;
      } catch (err) {
        process.stderr.write(`mamori resume: ${isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
        process.exitCode = isMamoriError(err, 'MAMORI_CLI_USAGE') ? 2 : 1;
      }
    });
}
