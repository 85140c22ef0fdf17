/**
 * `mamori agent`: a vantage point on another network. It runs the probes of the servers the daemon
 * hands it and nothing else — no runbook, no secret but its own token — and reports every round's
 * verdicts, with their evidence, to the deciding daemon: signed with its token (HMAC-SHA256 of the
 * body), timestamped (the daemon refuses a clock off by more than quorum.maxSkewSeconds).
 *
 * Every round is reported whole: a verdict is a vote only while fresh, so an unchanged "up" must
 * be said again. State changes are also logged here, with their evidence. An agent that stops
 * reporting is `VantageLost` at the daemon, never a vote for "down".
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { isMamoriError, MamoriError } from '../errors.ts';
import { isLoopbackHost } from '../http/auth.ts';
import { trustedConnector, type DaemonTrust } from '../http/tls-client.ts';
import type { Logger } from '../log.ts';
import { targetCheck } from '../manifest/target-networks.ts';
import { createProberRegistry, type ProberRegistry } from '../probe/registry.ts';
import type { ProbeResult, ProbeTarget, ServiceName } from '../probe/types.ts';
import type { AgentTargets } from '../reconcile/agent-targets.ts';
import type { AgentReport } from '../reconcile/vantage-board.ts';

export const SIGNATURE_HEADER = 'x-mamori-signature';
/** Observations per POST: well under the daemon's 64 KiB body limit. */
const CHUNK = 250;
const PROBE_CONCURRENCY = 32;

export interface AgentOptions {
  /** The daemon's base URL (https://mamori.example.net:9750; http:// only on the loopback, or with insecureHttp). */
  daemon: string;
  vantage: string;
  token: string;
  /** PEM of the CA that signed the daemon's certificate (or the proxy's in front of it). */
  ca?: string;
  /** Where `ca` came from, for messages (--ca-file FILE). */
  caSource?: string;
  /** SHA-256 fingerprints of the daemon's certificate to accept (AB:CD:…, tls-client.ts normalizeCertFingerprint). */
  pins?: readonly string[];
  /** http:// beyond the loopback (the token and the reports in clear text): a private lab network only. */
  insecureHttp?: boolean;
  /** Bind probes to this local address (the management network's). */
  sourceAddress?: string;
  /** Probe only addresses inside these networks, whatever the daemon hands out. */
  targetNetworks?: readonly string[];
  /** How often the server list is fetched again (seconds). */
  refreshSeconds?: number;
  logger: Logger;
  /** One round, then return (tests, cron). */
  once?: boolean;
  signal?: AbortSignal;
  now?: () => number;
}

interface Round {
  reported: number;
  failed: number;
}

export function signBody(token: string, body: string): string {
  return `sha256=${createHmac('sha256', token).update(body).digest('hex')}`;
}

/** The daemon's address, checked: http:// or https://, no credentials in it. */
export function checkDaemonUrl(daemon: string): URL {
  let url: URL;
  try {
    url = new URL(daemon);
  } catch {
    throw new MamoriError('MAMORI_CLI_USAGE', `--daemon ${daemon}: not a URL (https://host:port)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new MamoriError('MAMORI_CLI_USAGE', `--daemon ${daemon}: http:// or https://`);
  if (url.username !== '' || url.password !== '') throw new MamoriError('MAMORI_CLI_USAGE', `--daemon: no user:password@ in the URL; the agent authenticates with its token`);
  return url;
}

/** Whether the agent's token and reports would cross a network in clear text (http:// beyond the loopback). */
export function isClearText(url: URL): boolean {
  return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
}

async function call(o: AgentOptions, method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; text: string }> {
  const url = new URL(path, checkDaemonUrl(o.daemon));
  const https = url.protocol === 'https:';
  const request = https ? httpsRequest : httpRequest;
  const trust: DaemonTrust = {
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...(o.pins !== undefined ? { pins: o.pins } : {}),
    describe: [o.ca !== undefined ? (o.caSource ?? 'the CA given') : undefined, (o.pins?.length ?? 0) > 0 ? '--daemon-fingerprint' : undefined].filter((x) => x !== undefined).join(' and ') || "the system's trusted roots",
  };
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${o.token}`, accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers[SIGNATURE_HEADER] = signBody(o.token, body);
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    // HTTPS: the connection is handed over only once the daemon's certificate is trusted.
    const req = request(url, { method, headers, timeout: 15_000, ...(https ? { createConnection: trustedConnector(trust) } : {}), ...(o.signal !== undefined ? { signal: o.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', (err) => reject(isMamoriError(err) ? err : new MamoriError('MAMORI_AGENT_UNREACHABLE', `${url.origin}: ${err.message}`, { cause: err })));
    req.end(body);
  });
}

function refusal(status: number, text: string): string {
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === 'string') return `${status}: ${j.error}`;
  } catch {
    // not JSON
  }
  return `${status}: ${text.slice(0, 200)}`;
}

function isTargets(v: unknown): v is AgentTargets {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Record<string, unknown>;
  return typeof t.intervalSeconds === 'number' && typeof t.timeoutSeconds === 'number' && Array.isArray(t.servers);
}

export class Agent {
  private readonly o: AgentOptions;
  private readonly now: () => number;
  private readonly registry: ProberRegistry;
  private targets: AgentTargets | undefined;
  private fetchedAt = 0;
  private readonly last = new Map<string, boolean | 'unknown'>();

  constructor(options: AgentOptions) {
    const url = checkDaemonUrl(options.daemon);
    if (isClearText(url) && options.insecureHttp !== true) {
      options.logger.warn({ daemon: url.origin }, 'agent reports in clear text: the token and every report cross the network unencrypted; use https:// (the daemon\'s http.tls) with --ca-file or --daemon-fingerprint, or say --insecure-http on a private lab network');
    }
    this.o = options;
    this.now = options.now ?? Date.now;
    const allowed = options.targetNetworks;
    // Only what the daemon handed out (each address exactly), and inside --target-network when given.
    this.registry = createProberRegistry({
      targets: {
        networks: allowed ?? [],
        check: (address) => {
          const handed = this.targets?.servers.some((s) => s.targets.some((t) => t.address === address)) === true;
          if (!handed) return { ok: false, reason: 'outside', message: `${address} is not a target the daemon handed out` };
          return allowed === undefined || allowed.length === 0 ? { ok: true } : targetCheck(allowed).check(address);
        },
      },
    });
  }

  /** Rounds until the signal aborts (or one, with `once`). */
  async run(): Promise<void> {
    for (;;) {
      const started = this.now();
      try {
        await this.round();
      } catch (err) {
        if (this.o.signal?.aborted === true) return;
        this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'agent round failed');
        if (this.o.once === true) throw err;
      }
      if (this.o.once === true || this.o.signal?.aborted === true) return;
      const interval = (this.targets?.intervalSeconds ?? 30) * 1000;
      const wait = Math.max(1000, started + interval - this.now());
      const aborted = await sleep(wait, this.o.signal);
      if (aborted) return;
    }
  }

  async round(): Promise<Round> {
    const refreshMs = (this.o.refreshSeconds ?? 60) * 1000;
    if (this.targets === undefined) await this.fetchTargets();
    else if (this.now() - this.fetchedAt >= refreshMs) {
      // A failed refresh keeps the list it has: probing and reporting go on.
      await this.fetchTargets().catch((err: unknown) => this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'agent server list not refreshed'));
    }
    const targets = this.targets;
    if (targets === undefined) return { reported: 0, failed: 0 };
    const jobs: Array<{ server: string; target: ProbeTarget }> = [];
    for (const s of targets.servers) for (const t of s.targets) jobs.push({ server: s.id, target: { ...t, timeoutMs: targets.timeoutSeconds * 1000, ...(this.o.sourceAddress !== undefined ? { sourceAddress: this.o.sourceAddress } : {}) } });
    const observations: AgentReport['observations'] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const job = jobs[next++] as { server: string; target: ProbeTarget };
        const at = this.now();
        const result = await this.registry.probe(job.target, this.o.signal);
        observations.push(this.observe(job.server, job.target.service, at, result));
      }
    };
    await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, jobs.length) }, worker));
    let failed = 0;
    for (let i = 0; i < observations.length || i === 0; i += CHUNK) {
      const report: AgentReport = { vantage: this.o.vantage, sentAt: this.now(), observations: observations.slice(i, i + CHUNK) };
      const r = await call(this.o, 'POST', '/api/observations', JSON.stringify(report));
      if (r.status !== 202) {
        failed += report.observations.length;
        this.o.logger.warn({ status: r.status, reason: refusal(r.status, r.text) }, 'agent report refused');
      }
      if (observations.length === 0) break;
    }
    return { reported: observations.length - failed, failed };
  }

  private observe(server: string, service: ServiceName, at: number, r: ProbeResult): AgentReport['observations'][number] {
    const key = `${server}/${service}`;
    const prev = this.last.get(key);
    this.last.set(key, r.up);
    if (prev !== r.up) this.o.logger.info({ server, service, up: r.up, was: prev ?? 'unknown', failureKind: r.failure?.kind, reason: r.failure?.message }, 'service state changed');
    return { server, service, up: r.up, at, latencyMs: r.latencyMs, ...(r.failure !== undefined ? { failureKind: r.failure.kind, message: r.failure.message.slice(0, 300) } : {}) };
  }

  private async fetchTargets(): Promise<void> {
    const r = await call(this.o, 'GET', '/api/agent/targets');
    if (r.status !== 200) throw new MamoriError('MAMORI_AGENT_UNREACHABLE', `the daemon refused the server list (${refusal(r.status, r.text)})`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.text);
    } catch {
      throw new MamoriError('MAMORI_AGENT_UNREACHABLE', 'the daemon answered the server list with something other than JSON');
    }
    if (!isTargets(parsed)) throw new MamoriError('MAMORI_AGENT_UNREACHABLE', 'the daemon answered the server list in an unknown shape');
    // Plain IP literals only: the agent never resolves a name.
    parsed.servers = parsed.servers.map((s) => ({ id: s.id, targets: s.targets.filter((t) => isIP(t.address) !== 0) }));
    if (this.targets === undefined || this.targets.servers.length !== parsed.servers.length) this.o.logger.info({ servers: parsed.servers.length, intervalSeconds: parsed.intervalSeconds }, 'agent server list');
    this.targets = parsed;
    this.fetchedAt = this.now();
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve(true);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(true);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
