import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { startLab, type Lab, type LabService } from '../lab/index.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import { SEED_SERVICE_NAMES as SERVICE_NAMES, type ProbeResult, type ServiceName } from '../../src/probe/types.ts';
import { LAB_TARGETS } from '../support/targets.ts';

/**
 * The probes against the real daemons of the lab (lab id 4), each verdict checked against the
 * Debian monitoring-plugins check for the same target in the same state. A plugin's OK or WARNING
 * is "up" (the service answered), CRITICAL is "down"; UNKNOWN never matches.
 */
const PLUGINS = '/usr/lib/nagios/plugins';
// Generous: a loaded CI machine (lab tests in parallel on two cores) must not turn a slow answer
// into a "down". The plugins get a little more than we do so that a timeout is ours to see first.
const TIMEOUT_S = 5;
const PLUGIN_TIMEOUT_S = 8;

function pluginArgs(service: ServiceName, address: string): [string, string[]] {
  const t = ['-t', String(PLUGIN_TIMEOUT_S)];
  switch (service) {
    case 'ping':
      // Thresholds as our verdict: any echo reply is up (the seed: "no answer to ping = fault"),
      // so only total loss is CRITICAL, however slow the replies on a loaded machine.
      return ['check_icmp', ['-H', address, '-w', '5000,99%', '-c', '5000,100%', '-t', String(PLUGIN_TIMEOUT_S)]];
    case 'http':
      return ['check_http', ['-I', address, '-j', 'HEAD', ...t]];
    case 'https':
      return ['check_http', ['-I', address, '-S', '-j', 'HEAD', ...t]];
    case 'ftp':
      return ['check_ftp', ['-H', address, ...t]];
    case 'ssh':
      return ['check_ssh', ['-H', address, ...t]];
    case 'telnet':
      return ['check_tcp', ['-H', address, '-p', '23', ...t]];
    case 'smtp':
      return ['check_smtp', ['-H', address, ...t]];
    case 'pop3':
      return ['check_pop', ['-H', address, ...t]];
    case 'imap':
      return ['check_imap', ['-H', address, ...t]];
    default:
      throw new Error(`no plugin row for ${service}: the lab hosts serve the seed's nine`);
  }
}

interface PluginVerdict {
  code: number;
  output: string;
}

function plugin(service: ServiceName, address: string): Promise<PluginVerdict> {
  const [name, args] = pluginArgs(service, address);
  return new Promise((resolve) => {
    execFile(`${PLUGINS}/${name}`, args, { timeout: (PLUGIN_TIMEOUT_S + 5) * 1000 }, (error, stdout) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, output: stdout.trim().split('\n')[0] ?? '' });
    });
  });
}

interface Row {
  service: ServiceName;
  mamori: ProbeResult;
  plugin: PluginVerdict;
}

const registry = createProberRegistry({ targets: LAB_TARGETS });

/** Every service of one host, ours and the plugin's, at the same moment. */
async function observe(address: string): Promise<Row[]> {
  return Promise.all(
    SERVICE_NAMES.map(async (service) => {
      const [mamori, verdict] = await Promise.all([registry.probe({ service, address, timeoutMs: TIMEOUT_S * 1000 }), plugin(service, address)]);
      return { service, mamori, plugin: verdict };
    }),
  );
}

/** The parity claim, in a shape whose diff says which service disagreed and what each side saw. */
function parity(rows: Row[]): Array<[ServiceName, boolean, string]> {
  return rows.map((r) => [r.service, r.mamori.up === (r.plugin.code === 0 || r.plugin.code === 1), `${r.mamori.up ? 'up' : r.mamori.failure?.kind} / ${r.plugin.code}: ${r.plugin.output}`]);
}

function expectParity(rows: Row[]): void {
  const mismatches = parity(rows).filter(([, same]) => !same);
  expect(mismatches).toEqual([]);
}

function states(rows: Row[]): Record<string, string> {
  return Object.fromEntries(rows.map((r) => [r.service, r.mamori.up ? 'up' : `${r.mamori.failure?.kind}/${r.mamori.failure?.phase}`]));
}

const DAEMON_SERVICES: ReadonlyArray<[LabService, ServiceName[]]> = [
  ['httpd', ['http', 'https']],
  ['vsftpd', ['ftp']],
  ['dovecot', ['pop3', 'imap']],
  ['sendmail', ['smtp']],
  // inetd serves nothing mamori probes (telnet is xinetd's): killing it takes no probe down.
  ['inetd', []],
  ['xinetd', ['telnet']],
  ['sshd', ['ssh']],
];

describe('probes against the lab, verdicts equal to monitoring-plugins', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab({ id: 4, hosts: [{ name: 'alpha' }, { name: 'bravo' }, { name: 'fw', variant: 'firewall' }] });
  });

  afterAll(async () => {
    await lab?.stop();
  });

  test('a healthy host: every probe up, saying what each daemon said; the plugins agree', async () => {
    for (const name of ['alpha', 'bravo']) {
      const rows = await observe(lab.host(name).address);
      expect(states(rows)).toEqual(Object.fromEntries(SERVICE_NAMES.map((s) => [s, 'up'])));
      expectParity(rows);
      const peer = Object.fromEntries(rows.map((r) => [r.service, r.mamori.peer ?? '']));
      expect(peer.ssh).toMatch(/^SSH-2\.0-OpenSSH_/);
      expect(peer.smtp).toMatch(/^220 .*ESMTP Exim/);
      expect(peer.ftp).toMatch(/^220 /);
      expect(peer.pop3).toMatch(/^\+OK Dovecot/);
      expect(peer.imap).toMatch(/^\* OK .*Dovecot/);
      expect(peer.http).toMatch(/^HTTP\/1\.1 200/);
      expect(peer.https).toMatch(/^HTTP\/1\.1 200/);
      expect(rows.find((r) => r.service === 'https')?.mamori.tls).toMatchObject({ selfSigned: true, authorized: false });
      expect(rows.find((r) => r.service === 'ping')?.mamori.icmp).toMatchObject({ sent: 1, received: 1, lossPct: 0 });
    }
  });

  test('sshd sees an identified client that hung up, not a bare connect (what fail2ban bans)', async () => {
    const host = lab.host('alpha');
    const before = await lab.console('alpha', 'wc -l < /var/log/secure');
    for (let i = 0; i < 5; i++) expect((await registry.probe({ service: 'ssh', address: host.address, timeoutMs: TIMEOUT_S * 1000 })).up).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const log = await lab.console('alpha', `tail -n +${Number(before.stdout.trim()) + 1} /var/log/secure`);
    const lines = log.stdout.split('\n').filter((l) => l.includes(lab.gateway));
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines.filter((l) => /identification|kex_exchange_identification|banner exchange|Bad protocol version/i.test(l))).toEqual([]);
  });

  test('each daemon killed: that probe down, refused at connect; the others up; the plugins agree', async () => {
    const address = lab.host('alpha').address;
    const down = new Set<ServiceName>();
    for (const [daemon, services] of DAEMON_SERVICES) {
      await lab.breakService('alpha', daemon);
      for (const s of services) down.add(s);
      const rows = await observe(address);
      const expected = Object.fromEntries(SERVICE_NAMES.map((s) => [s, down.has(s) ? 'refused/connect' : 'up']));
      expect({ daemon, states: states(rows) }).toEqual({ daemon, states: expected });
      expectParity(rows);
    }
  });

  test('link pulled: every probe down (timeout or unreachable, never refused); the plugins agree', async () => {
    const name = 'bravo';
    await lab.pull(name);
    try {
      const rows = await observe(lab.host(name).address);
      for (const r of rows) {
        expect({ service: r.service, up: r.mamori.up }).toEqual({ service: r.service, up: false });
        expect(['timeout', 'unreachable']).toContain(r.mamori.failure?.kind);
      }
      expectParity(rows);
    } finally {
      await lab.plug(name);
    }
  });

  test('firewalled host: the blocked services time out at connect (not refused); ping and ssh up; the plugins agree', async () => {
    const rows = await observe(lab.host('fw').address);
    const blocked: ServiceName[] = ['http', 'https', 'ftp', 'telnet', 'smtp', 'pop3', 'imap'];
    expect(states(rows)).toEqual(Object.fromEntries(SERVICE_NAMES.map((s) => [s, blocked.includes(s) ? 'timeout/connect' : 'up'])));
    expectParity(rows);
  });
});
