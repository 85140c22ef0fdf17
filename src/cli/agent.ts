/**
 * `mamori agent`: a vantage point on another management network (src/agent/agent.ts). Probes only,
 * reports to the daemon; no config file, no runbooks, no secrets but its own token.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { X509Certificate } from 'node:crypto';
import { isMamoriError, MamoriError } from '../errors.ts';
import { normalizeCertFingerprint } from '../http/tls-client.ts';

interface AgentCliOptions {
  daemon: string;
  vantage: string;
  tokenFile: string;
  caFile?: string;
  daemonFingerprint: string[];
  insecureHttp?: boolean;
  source?: string;
  targetNetwork: string[];
  refresh: string;
  once?: boolean;
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description("Watch from another network: probe the daemon's servers from here and report each verdict to it (a vantage point). Runs nothing else.")
    .requiredOption('--daemon <url>', "the deciding daemon's address, https://host:port (http:// only on the loopback or a private lab network, --insecure-http)")
    .requiredOption('--vantage <name>', "this vantage's name, as in the daemon's config (vantages[].name)")
    .requiredOption('--token-file <file>', 'the file holding this vantage\'s token (vantages[].token\'s secret); it authenticates and signs each report')
    .option('--ca-file <file>', "PEM of the CA that signed the daemon's (or its proxy's) certificate; the certificate must also name the --daemon host")
    .option('--daemon-fingerprint <sha256>', "accept exactly the daemon certificate with this SHA-256 fingerprint (openssl x509 -noout -fingerprint -sha256; the daemon logs it at start); repeat it to accept the renewed one too", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--insecure-http', 'an http:// --daemon beyond the loopback is meant (token and reports in clear text): a private lab network only; without it such an address is warned about')
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

HTTPS: the daemon serves it with http.tls (certFile, keyFile). The agent trusts the daemon's
certificate if it chains to --ca-file and names the --daemon host, or if its SHA-256 fingerprint
is a --daemon-fingerprint (a self-signed certificate; the daemon logs its fingerprint), or both
when both are given; without either, the system's roots. Nothing, not even the token, is sent to
a daemon it does not trust (MAMORI_AGENT_TLS_REFUSED).

The daemon's config names this vantage, with the network it leaves from:
  vantages:
    - { name: tokyo-a, network: 210.224.172.0/24, self: true }
    - { name: tokyo-b, network: 210.188.224.0/24, token: { secretRef: agent-tokyo-b } }

Examples:
  $ mamori agent --daemon https://mamori.example.net:9750 --vantage tokyo-b \\
      --token-file /etc/mamori/agent-token --ca-file /etc/mamori/ca.pem --source 210.188.224.10
  $ mamori agent --daemon https://210.224.172.5:9750 --vantage tokyo-b --token-file /etc/mamori/agent-token \\
      --daemon-fingerprint 5E:0B:…:A1 --once
  $ mamori agent --daemon http://10.232.101.1:9750 --vantage lab-b --token-file token --insecure-http --once

Exit status: runs until SIGTERM/SIGINT (0); 1 when it cannot start, or with --once when the round failed.`,
    )
    .action(async (opts: AgentCliOptions) => {
      try {
        const [{ Agent }, { createLogger }] = await Promise.all([import('../agent/agent.ts'), import('../log.ts')]);
        const token = (await readFile(opts.tokenFile, 'utf8')).replace(/\r?\n$/, '');
        if (token.length < 16) throw new Error(`${opts.tokenFile}: a token has at least 16 characters`);
        const ca = opts.caFile !== undefined ? await readCa(opts.caFile) : undefined;
        const pins = opts.daemonFingerprint.map((f) => {
          const pin = normalizeCertFingerprint(f);
          if (pin === undefined) throw new MamoriError('MAMORI_CLI_USAGE', `--daemon-fingerprint ${f}: not a SHA-256 fingerprint (64 hex digits, as openssl x509 -noout -fingerprint -sha256 prints them)`);
          return pin;
        });
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
          ...(ca !== undefined ? { ca, caSource: `--ca-file ${opts.caFile ?? ''}` } : {}),
          ...(pins.length > 0 ? { pins } : {}),
          ...(opts.insecureHttp === true ? { insecureHttp: true } : {}),
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

/** The CA file, checked: at least one PEM certificate. */
async function readCa(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MamoriError('MAMORI_CLI_USAGE', `--ca-file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    new X509Certificate(text);
  } catch {
    throw new MamoriError('MAMORI_CLI_USAGE', `--ca-file ${file}: not a PEM certificate`);
  }
  return text;
}
