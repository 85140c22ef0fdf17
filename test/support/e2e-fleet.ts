/**
 * The whole service for an end-to-end scenario: a lab fleet, a real git remote (a bare repository
 * the test pushes to) holding the fleet's manifests, a real SMTP server on the loopback receiving
 * mamori's mail (parsed by mailparser), and `mamori run` as a child process following the remote.
 * Assertions read structured data: the journal, the status files, /api/status and parsed e-mails.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ParsedMail } from 'mailparser';
import { parse } from 'yaml';
import { signHubBody } from '../../src/http/auth.ts';
import { encodeIdPart } from '../../src/notify/message-id.ts';
import type { ServerDocument } from '../../src/manifest/types.ts';
import { readJournal, type JournalRecord } from '../../src/status/journal.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../daemon/daemon-process.ts';
import { startLab, type Lab, type LabHostSpec } from '../lab/index.ts';
import { startSmtpSink, type SmtpSink } from '../notify/smtp-sink.ts';
import { createGitFixture, type GitFixture } from '../source/git-fixture.ts';
import { startLabAgent, type LabAgent } from './lab-agent.ts';
import { makeCa, makeServerCert } from './test-certs.ts';
import { fleetConfigYaml, fleetServer, serverManifestYaml, serverPathOf, writeLabSecrets, type FleetConfigOptions, type FleetServerOptions, type ProbeSettings } from './lab-fleet.ts';

export const OPERATOR_EMAIL = 'noc@provider.example';
const WEBHOOK_SECRET_REF = 'git-webhook';
const AGENT_SECRET_REF = 'agent-second';
/** The vantage points of a fleet with `vantages`: the daemon's own, and the agent's on the second network. */
export const SELF_VANTAGE = 'primary';
export const AGENT_VANTAGE = 'second';

export interface E2eHost extends LabHostSpec {
  manifest?: Omit<FleetServerOptions, 'customer'>;
  /** false: the host runs in the lab but its manifest is not in the first commit (added by the test). */
  inFirstCommit?: boolean;
}

export interface E2eFleetOptions {
  labId: number;
  customer?: string;
  hosts: E2eHost[];
  /** Extra files committed with the first revision (custom runbooks), path → text. */
  files?: Record<string, string>;
  probe?: ProbeSettings;
  remediation?: FleetConfigOptions['remediation'];
  massFailure?: FleetConfigOptions['massFailure'];
  readiness?: FleetConfigOptions['readiness'];
  /** The state folder on a tmpfs of this size (mount(8) size=, e.g. '4m'): a disk a test can fill. */
  stateTmpfs?: string;
  /**
   * Two vantage points: the lab gets its second management network, the daemon's config names
   * `primary` (itself, the lab's subnet) and `second` (the agent, the second subnet, its token), and
   * `mamori agent` runs in the vantage namespace reporting to the daemon on the machine's end of
   * the second network over HTTPS (http.listen moves there, with http.tls: a certificate for that
   * address from a CA the agent trusts by --ca-file; the daemon's get/post, plain HTTP on the
   * loopback, do not reach it then). `quorum`: the config's quorum section.
   */
  vantages?: { quorum?: Record<string, unknown> };
}

export interface E2eFleet {
  lab: Lab;
  repo: GitFixture;
  smtp: SmtpSink;
  daemon: DaemonProcess;
  customer: string;
  stateDir: string;
  configPath: string;
  port: number;
  /** The manifest of each lab host (whether committed yet or not). */
  docs: Map<string, ServerDocument>;
  manifestYaml(name: string): string;
  /** Commit files (path → text, undefined removes), push, and tell the daemon by the signed webhook. */
  commit(message: string, files: Record<string, string | undefined>): Promise<string>;
  journal(): Promise<JournalRecord[]>;
  status(name: string): ServerStatus | undefined;
  /** Why the last status(name) read nothing ('no file', or the parse error), for a failure's message; undefined after a read. */
  statusMiss(name: string): string | undefined;
  /** The status file's text as it is now (undefined: none), for a failure's message. */
  statusText(name: string): string | undefined;
  /** The server as /api/status shows it now (its newest probes, which the status file writes only on a change). */
  apiServer(name: string): Promise<ServerStatus | undefined>;
  service(name: string, service: string): ServerStatus['services'][string] | undefined;
  /** Mail received, optionally only of one kind (X-Mamori-Kind) and about one server (customer/name, or a host of the fleet's one customer; X-Mamori-Incident, encoded: `/` is `=2F`, `.` is `=2E`). */
  mails(kind?: string, server?: string): ParsedMail[];
  /** Starts `mamori run` again on the same config and state (after a kill). */
  restartDaemon(): Promise<DaemonProcess>;
  /** With `vantages`: the agent process now (undefined once killed and not started again). */
  agent: LabAgent | undefined;
  /** With `vantages`: starts the agent (again). */
  startAgent(): LabAgent;
  stop(): Promise<void>;
}

export function header(mail: ParsedMail, name: string): string {
  const v = mail.headers.get(name.toLowerCase());
  return typeof v === 'string' ? v : '';
}

/** Starts everything; on a failure to start, whatever did start is stopped before the error is thrown. */
export async function startE2eFleet(o: E2eFleetOptions): Promise<E2eFleet> {
  const customer = o.customer ?? 'acme';
  let lab: Lab | undefined;
  let repo: GitFixture | undefined;
  let smtp: SmtpSink | undefined;
  let mountedState: string | undefined;
  const unmount = (): void => {
    if (mountedState !== undefined) execFileSync('umount', ['-l', mountedState]);
    mountedState = undefined;
  };
  try {
    lab = await startLab({ id: o.labId, hosts: o.hosts.map((h) => ({ name: h.name, variant: h.variant ?? 'standard' })), ...(o.vantages !== undefined ? { secondNetwork: true } : {}) });
    const l = lab;
    repo = createGitFixture();
    const r = repo;
    smtp = await startSmtpSink();
    const docs = new Map<string, ServerDocument>();
    for (const h of o.hosts) {
      const doc = fleetServer(l, l.host(h.name), { customer, ...(h.manifest ?? {}) });
      docs.set(h.name, doc);
      if (h.inFirstCommit !== false) r.write(serverPathOf(doc), serverManifestYaml(doc));
    }
    for (const [path, text] of Object.entries(o.files ?? {})) r.write(path, text);
    r.commit('the fleet');
    r.push();

    const port = await freePort();
    const secretsDir = join(r.dir, 'secrets');
    const webhookSecret = `webhook-${process.pid}-${Date.now()}`;
    const agentToken = randomBytes(24).toString('hex');
    const second = o.vantages !== undefined ? l.second : undefined;
    if (o.vantages !== undefined && second === undefined) throw new Error(`lab ${l.id}: started without its second network`);
    await writeLabSecrets(secretsDir, l, { [WEBHOOK_SECRET_REF]: webhookSecret, ...(second !== undefined ? { [AGENT_SECRET_REF]: agentToken } : {}) });
    const agentTokenFile = join(r.dir, 'agent-token');
    if (second !== undefined) writeFileSync(agentTokenFile, `${agentToken}\n`, { mode: 0o600 });
    let tls: { caFile: string; certFile: string; keyFile: string } | undefined;
    if (second !== undefined) {
      const tlsDir = join(r.dir, 'tls');
      await mkdir(tlsDir, { recursive: true, mode: 0o700 });
      const ca = makeCa(tlsDir, 'lab-ca');
      const cert = makeServerCert(tlsDir, ca, 'daemon', `IP:${second.gateway}`);
      tls = { caFile: ca.certFile, certFile: cert.certFile, keyFile: cert.keyFile };
    }
    await mkdir(join(r.dir, 'state'), { recursive: true });
    if (o.stateTmpfs !== undefined) {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${o.stateTmpfs},mode=0700`, 'tmpfs', join(r.dir, 'state')]);
      mountedState = join(r.dir, 'state');
    }
    const configPath = join(r.dir, 'mamori.yaml');
    writeFileSync(
      configPath,
      fleetConfigYaml({
        lab: l,
        source: { type: 'git', url: r.bare, pollSeconds: 1 },
        httpPort: port,
        smtpPort: smtp.port,
        operatorEmail: OPERATOR_EMAIL,
        webhookSecretRef: WEBHOOK_SECRET_REF,
        ...(o.probe ? { probe: o.probe } : {}),
        ...(o.remediation ? { remediation: o.remediation } : {}),
        ...(o.massFailure ? { massFailure: o.massFailure } : {}),
        ...(o.readiness ? { readiness: o.readiness } : {}),
        ...(second !== undefined
          ? {
              vantages: [
                { name: SELF_VANTAGE, network: l.subnet, self: true },
                { name: AGENT_VANTAGE, network: second.subnet, token: { secretRef: AGENT_SECRET_REF } },
              ],
              ...(o.vantages?.quorum !== undefined ? { quorum: o.vantages.quorum } : {}),
              httpHost: second.gateway,
              ...(tls !== undefined ? { httpTls: { certFile: tls.certFile, keyFile: tls.keyFile } } : {}),
            }
          : {}),
      }),
    );
    const stateDir = join(r.dir, 'state');
    const sink = smtp;
    const statusMisses = new Map<string, string>();
    // A server is customer/name; the fleet's hosts are all its one customer's.
    const statusFile = (name: string): string => join(stateDir, 'status', name.includes('/') ? `${name}.yaml` : join(customer, `${name}.yaml`));
    const fleet: E2eFleet = {
      lab: l,
      repo: r,
      smtp: sink,
      daemon: await spawnDaemon({ cwd: r.dir, config: configPath, port, ...(second !== undefined ? { host: second.gateway } : {}) }),
      customer,
      stateDir,
      configPath,
      port,
      docs,
      manifestYaml: (name) => {
        const doc = docs.get(name);
        if (doc === undefined) throw new Error(`no manifest for ${name}`);
        return serverManifestYaml(doc);
      },
      async commit(message, files) {
        for (const [path, text] of Object.entries(files)) {
          if (text === undefined) r.remove(path);
          else r.write(path, text);
        }
        const rev = r.commit(message);
        r.push();
        const body = JSON.stringify({ ref: 'refs/heads/main' });
        await fleet.daemon.post('/hooks/git', body, { 'x-hub-signature-256': signHubBody(webhookSecret, body) });
        return rev;
      },
      journal: async () => (await readJournal(stateDir)).records,
      status(name) {
        const file = statusFile(name);
        if (!existsSync(file)) {
          statusMisses.set(name, 'no file');
          return undefined;
        }
        try {
          const s = parse(readFileSync(file, 'utf8')) as ServerStatus | null;
          statusMisses.delete(name);
          return s ?? undefined;
        } catch (err) {
          statusMisses.set(name, `unreadable: ${String(err).slice(0, 300)}`);
          return undefined; // mid-rename: the next poll reads it
        }
      },
      statusMiss: (name) => statusMisses.get(name),
      statusText(name) {
        const file = statusFile(name);
        return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      },
      async apiServer(name) {
        const { json } = await fleet.daemon.get('/api/status');
        const servers = (json as { reconciler?: { servers?: ServerStatus[] } } | undefined)?.reconciler?.servers ?? [];
        return servers.find((s) => (name.includes('/') ? `${s.metadata.customer}/${s.metadata.name}` : s.metadata.name) === name);
      },
      service: (name, service) => fleet.status(name)?.services[service],
      mails: (kind, server) =>
        sink.messages.filter((m) => (kind === undefined || header(m, 'x-mamori-kind') === kind) && (server === undefined || header(m, 'x-mamori-incident').startsWith(encodeIdPart(`${server.includes('/') ? server : `${customer}/${server}`}.`)))),
      async restartDaemon() {
        fleet.daemon = await spawnDaemon({ cwd: r.dir, config: configPath, port, ...(second !== undefined ? { host: second.gateway } : {}) });
        return fleet.daemon;
      },
      agent: undefined,
      startAgent() {
        if (second === undefined || tls === undefined) throw new Error('this fleet has no vantages: no agent');
        fleet.agent = startLabAgent({ lab: l, daemonUrl: `https://${second.gateway}:${port}`, vantage: AGENT_VANTAGE, tokenFile: agentTokenFile, caFile: tls.caFile, cwd: r.dir });
        return fleet.agent;
      },
      async stop() {
        await fleet.agent?.kill();
        const d = fleet.daemon;
        if (d.child.exitCode === null && d.child.signalCode === null) {
          d.child.kill('SIGTERM');
          const timer = setTimeout(() => d.kill(), 20_000);
          await d.exited;
          clearTimeout(timer);
        }
        killStrays();
        await sink.close();
        await l.stop();
        unmount();
        r.cleanup();
      },
    };
    return fleet;
  } catch (err) {
    killStrays();
    await smtp?.close().catch(() => undefined);
    await lab?.stop().catch(() => undefined);
    try {
      unmount();
    } catch {
      // already gone
    }
    repo?.cleanup();
    throw err;
  }
}

/** The journal's records of one server (customer/name, or the name of a one-customer fleet's host) and target, in order. */
export function recordsOf(records: readonly JournalRecord[], server: string, target?: string): JournalRecord[] {
  const named = (id: unknown): boolean => id === server || (!server.includes('/') && typeof id === 'string' && id.endsWith(`/${server}`));
  return records.filter((r) => named(r.server) && (target === undefined || r.target === target || r.service === target || (r.incident as { target?: string } | undefined)?.target === target));
}
