/**
 * `mamori cluster status`: the replicas sharing the fleet as etcd sees them — members and their
 * leases, claims held, steps in doubt (an intent without an outcome whose claim is gone). Reads
 * only; it does not join.
 */
import type { Command } from 'commander';
import { isMamoriError } from '../errors.ts';

const HELP = `
Reads the etcd named by the config's cluster section; joins nothing, writes nothing.

Examples:
  $ mamori cluster status --config /etc/mamori/mamori.yaml
  $ mamori cluster status --json | jq '.inDoubt'

Exit status: 0 read, 1 etcd unreachable, 2 usage (no cluster in the config, an invalid config).`;

export function registerClusterCommand(program: Command): void {
  const cluster = program
    .command('cluster')
    .description('Replicas sharing the fleet through etcd.')
    .addHelpText('after', '\nExamples:\n  $ mamori cluster status --config /etc/mamori/mamori.yaml');
  cluster
    .command('status')
    .description('Members, leases, claims and steps in doubt, as etcd holds them.')
    .option('--json', 'print as JSON')
    .addHelpText('after', HELP)
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ config?: string }>();
      const [{ loadConfig }, { Cluster }, { createLogger }] = await Promise.all([import('../config/load-config.ts'), import('../cluster/cluster.ts'), import('../log.ts')]);
      let config;
      try {
        config = await loadConfig(globals.config);
      } catch (err) {
        if (!isMamoriError(err)) throw err;
        process.stderr.write(`mamori cluster status: ${err.code}: ${err.message}\n`);
        process.exitCode = 2;
        return;
      }
      if (config.cluster === undefined) {
        process.stderr.write('mamori cluster status: MAMORI_CLI_USAGE: the config has no cluster section (mamori runs alone)\n');
        process.exitCode = 2;
        return;
      }
      const c = config.cluster;
      const observer = new Cluster({ endpoints: c.endpoints, prefix: c.prefix, replica: `${c.replica}-status`, ttlSeconds: c.leaseSeconds, callTimeoutMs: 3000 }, createLogger({ level: 'error' }));
      try {
        const s = await observer.status();
        const out = { members: s.members, claims: s.claims, inDoubt: s.inDoubt };
        if (opts.json === true) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        else {
          process.stdout.write(`members (${s.members.length}):\n`);
          for (const m of s.members) process.stdout.write(`  ${m.replica}  host ${m.host} pid ${m.pid} lease ${m.lease} since ${m.startedAt}${m.api !== '' ? ` api ${m.api}` : ''}\n`);
          process.stdout.write(`claims (${s.claims.length}):\n`);
          for (const cl of s.claims) process.stdout.write(`  ${cl.server}  ${cl.service}  by ${cl.replica} (token ${cl.token})\n`);
          process.stdout.write(`steps in doubt (${s.inDoubt.length}):\n`);
          for (const d of s.inDoubt) process.stdout.write(`  ${d.server}  ${d.incident} ${d.step}  by ${d.replica} at ${d.intentAt}\n`);
        }
        process.exitCode = 0;
      } catch (err) {
        if (!isMamoriError(err, 'MAMORI_CLUSTER_UNAVAILABLE')) throw err;
        process.stderr.write(`mamori cluster status: ${err.code}: ${err.message}\n`);
        process.exitCode = 1;
      } finally {
        await observer.session.close();
      }
    });
}
