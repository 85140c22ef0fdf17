/**
 * `mamori agent`: a vantage point on another management network (src/agent/agent.ts). Probes only,
 * reports to the daemon; no config file, no runbooks, no secrets but its own token.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { isMamoriError } from '../errors.ts';

interface AgentCliOptions {
  daemon: string;
  vantage: string;
  tokenFile: string;
  caFile?: string;
  source?: string;
  targetNetwork: string[];
  refresh: string;
  once?: boolean;
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description("Watch from another network: probe the daemon's servers from here and report each verdict to it (a vantage point). Runs nothing else.")
    .requiredOption('--daemon <url>', "the deciding daemon's address, https://host:port (http:// only on a private lab network)")
    .requiredOption('--vantage <name>', "this vantage's name, as in the daemon's config (vantages[].name)")
    .requiredOption('--token-file <file>', 'the file holding this vantage\'s token (vantages[].token\'s secret); it authenticates and signs each report')
    .option('--ca-file <file>', "PEM of the CA that signed the daemon's (or its proxy's) certificate")
    .option('--source <address>', "bind probes to this local address (this management network's)")
    .option('--target-network <cidr>', 'probe only addresses inside this network, whatever the daemon hands out (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--refresh <seconds>', 'fetch the server list again this often', '60')
    .option('--once', 'one round (probe everything once, report), then exit: 0 when the daemon took the report')
    .addHelpText(
      'after',
      `
How it works:
  The agent fetches the servers to watch from the daemon (GET /api/agent/targets, with its token),
  probes each service every probe interval (the daemon's), and POSTs every round's verdicts with
  their evidence to /api/observations, signed (X-Mamori-Signature: HMAC-SHA256 of the body with
  the token) and timestamped. The daemon refuses a report whose clock is off by more than
  quorum.maxSkewSeconds: keep the agent's time in sync (NTP). A verdict older than
  quorum.freshSeconds is no vote; an agent that stops reporting is VantageLost at the daemon —
  never a vote for "down": a power cycle then waits for enough vantages, and the operator is told.

The daemon's config names this vantage, with the network it leaves from:
  vantages:
    - { name: tokyo-a, network: 210.224.172.0/24, self: true }
    - { name: tokyo-b, network: 210.188.224.0/24, token: { secretRef: agent-tokyo-b } }

Examples:
  $ mamori agent --daemon https://mamori.example.net:9750 --vantage tokyo-b \\
      --token-file /etc/mamori/agent-token --ca-file /etc/mamori/ca.pem --source 210.188.224.10
  $ mamori agent --daemon http://10.232.101.1:9750 --vantage lab-b --token-file token --once

Exit status: runs until SIGTERM/SIGINT (0); 1 when it cannot start, or with --once when the round failed.`,
    )
    .action(async (opts: AgentCliOptions) => {
      try {
        const [{ Agent }, { createLogger }] = await Promise.all([import('../agent/agent.ts'), import('../log.ts')]);
        const token = (await readFile(opts.tokenFile, 'utf8')).replace(/\r?\n$/, '');
        if (token.length < 16) throw new Error(`${opts.tokenFile}: a token has at least 16 characters`);
        const ca = opts.caFile !== undefined ? await readFile(opts.caFile, 'utf8') : undefined;
        const refresh = Number(opts.refresh);
        if (!Number.isInteger(refresh) || refresh < 1) throw new Error(`--refresh ${opts.refresh}: whole seconds, at least 1`);
        const logger = createLogger({ pretty: false }).child({ vantage: opts.vantage });
        const abort = new AbortController();
        const stop = (): void => abort.abort();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        const agent = new Agent({
          daemon: opts.daemon,
          vantage: opts.vantage,
          token,
          ...(ca !== undefined ? { ca } : {}),
          ...(opts.source !== undefined ? { sourceAddress: opts.source } : {}),
          ...(opts.targetNetwork.length > 0 ? { targetNetworks: opts.targetNetwork } : {}),
          refreshSeconds: refresh,
          logger,
          signal: abort.signal,
          ...(opts.once === true ? { once: true } : {}),
        });
        logger.info({ daemon: new URL(opts.daemon).origin }, 'agent started');
        if (opts.once === true) {
          const r = await agent.round();
          process.exitCode = r.failed === 0 ? 0 : 1;
          return;
        }
        await agent.run();
        logger.info('agent stopped');
      } catch (err) {
        process.stderr.write(`mamori agent: ${isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
