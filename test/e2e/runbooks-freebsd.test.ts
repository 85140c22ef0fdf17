/**
 * The FreeBSD standard runbooks, each proven on a FreeBSD-like lab host of its era (lab 212;
 * test/lab/freebsd-host.ts says what is emulated): `mamori run` sees the killed daemon, reads
 * the OS (uname -s FreeBSD, the release), repairs it with the runbook selected for that release
 * (journal: runbook, command, Recovered), and the host's own logs show the restart ran (rc's
 * notes and inetd's start in /var/log/messages, sshd's in /var/log/auth.log by syslogd).
 *
 * All three hosts fail at once here, and they share the lab's /24: the mass-failure pause
 * ("doubt yourself first") is set to need four failing servers, as an operator would for a
 * network of three. sshd comes last, alone on its host (the other runbooks log in over SSH).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eFleet, type E2eFleet } from '../support/e2e-fleet.ts';
import { HANG_GUARD, expectRepairedWith, waitFinished, waitHealthyIn } from '../support/runbook-proof.ts';
import type { LabService } from '../lab/index.ts';

const F6 = 'acme-f6';
const F7 = 'acme-f7';
const F13 = 'acme-f13';
// Each host watches what makes its runbook the only one for the fault: on 6.4 inetd's ftp and
// telnet (std-inetd-freebsd), on 7.4 inetd's mail (std-mail-inetd-freebsd).
const F6_SERVICES = ['ping', 'http', 'https', 'ssh', 'ftp', 'telnet'] as const;
const F7_SERVICES = ['ping', 'http', 'https', 'ssh', 'smtp', 'pop3', 'imap'] as const;
const F13_SERVICES = ['ping', 'http', 'https', 'ssh', 'ftp', 'telnet', 'smtp', 'pop3', 'imap'] as const;
let fleet: E2eFleet;

beforeAll(async () => {
  fleet = await startE2eFleet({
    labId: 212,
    massFailure: { minServers: 4 },
    hosts: [
      { name: F6, variant: 'freebsd6', manifest: { services: [...F6_SERVICES], locale: 'en' } },
      { name: F7, variant: 'freebsd7', manifest: { services: [...F7_SERVICES], locale: 'en' } },
      { name: F13, variant: 'freebsd13', manifest: { services: [...F13_SERVICES], locale: 'en' } },
    ],
  });
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
});

const waitHealthy = (server: string, services: readonly string[]): Promise<void> => waitHealthyIn(fleet, server, services);

/** How many lines of a host's log (under /var/log) match. */
async function count(host: string, log: string, line: string): Promise<number> {
  const r = await fleet.lab.console(host, `cat /var/log/${log} 2>/dev/null`);
  return r.stdout.split('\n').filter((l) => l.includes(line)).length;
}

interface Fault {
  host: string;
  service: LabService;
  /** The incident's target (any of them, when one daemon serves several). */
  targets: readonly string[];
  runbook: string;
  command: string;
  /** The host's own record of the restart: a line in this log, one more than before. */
  log: string;
  line: string;
}

/** Kills every fault's daemon, then sees each repaired by its runbook and the host log the restart. */
async function prove(faults: readonly Fault[]): Promise<void> {
  const before = await Promise.all(faults.map((f) => count(f.host, f.log, f.line)));
  const since = Date.now();
  const hosts = [...new Set(faults.map((f) => f.host))];
  await Promise.all(hosts.map(async (h) => {
    for (const f of faults.filter((x) => x.host === h)) await fleet.lab.breakService(h, f.service);
  }));
  for (const [i, f] of faults.entries()) {
    const run = await waitFinished(fleet, f.host, f.targets, since);
    expectRepairedWith(run, f.runbook, f.command);
    expect(await count(f.host, f.log, f.line), `${f.host} ${f.log}: "${f.line}"`).toBeGreaterThan(before[i] ?? 0);
  }
}

describe('FreeBSD 6.4, 7.4 and 13.2 (rc.d, inetd, service(8)): every FreeBSD runbook repairs its killed daemon', () => {
  it('the hosts are what their manifests say: uname FreeBSD, the release, rc.conf, the era\'s rc scripts', async () => {
    const look = 'uname -s; uname -r; command -v freebsd-version >/dev/null && freebsd-version; ls /etc/redhat-release 2>/dev/null; grep -c _enable=\\"YES\\" /etc/rc.conf; ls /usr/local/etc/rc.d; command -v service || echo no service';
    const out = async (h: string): Promise<string> => (await fleet.lab.console(h, look)).stdout;
    expect(await out(F6)).toBe('FreeBSD\n6.4-RELEASE\n4\napache22.sh\nno service\n');
    expect(await out(F7)).toBe('FreeBSD\n7.4-RELEASE\n4\napache22\n/usr/sbin/service\n');
    expect(await out(F13)).toBe('FreeBSD\n13.2-RELEASE\n13.2-RELEASE-p4\n6\napache24\ndovecot\n/usr/sbin/service\n');
    await Promise.all([waitHealthy(F6, F6_SERVICES), waitHealthy(F7, F7_SERVICES), waitHealthy(F13, F13_SERVICES)]);
  }, HANG_GUARD + 30_000);

  it('apache22.sh (6.4), apache22 (7.4), apache24 (13.2), inetd (ftp and telnet on 6.4, mail on 7.4), sendmail and dovecot through service(8) (13.2)', async () => {
    const inetd = 'pgrep -x inetd >/dev/null && killall -HUP inetd || /usr/sbin/inetd -wW';
    await prove([
      { host: F6, service: 'httpd', targets: ['http', 'https'], runbook: 'std-httpd-freebsd-6', command: '/usr/local/etc/rc.d/apache22.sh restart', log: 'messages', line: 'rc: apache22 start' },
      { host: F6, service: 'inetd', targets: ['ftp', 'telnet'], runbook: 'std-inetd-freebsd', command: inetd, log: 'messages', line: 'inetd: starting (/usr/sbin/inetd -wW)' },
      { host: F7, service: 'httpd', targets: ['http', 'https'], runbook: 'std-httpd-freebsd-7', command: '/usr/local/etc/rc.d/apache22 restart', log: 'messages', line: 'rc: apache22 start' },
      { host: F7, service: 'inetd', targets: ['smtp', 'pop3', 'imap'], runbook: 'std-mail-inetd-freebsd', command: inetd, log: 'messages', line: 'inetd: starting (/usr/sbin/inetd -wW)' },
      { host: F13, service: 'httpd', targets: ['http', 'https'], runbook: 'std-httpd-freebsd-10', command: 'service apache24 restart', log: 'messages', line: 'rc: apache24 start' },
      { host: F13, service: 'sendmail', targets: ['smtp'], runbook: 'std-sendmail-freebsd-10', command: 'service sendmail restart', log: 'messages', line: 'rc: sendmail start' },
      { host: F13, service: 'dovecot', targets: ['pop3', 'imap'], runbook: 'std-dovecot-freebsd-10', command: 'service dovecot restart', log: 'messages', line: 'rc: dovecot start' },
    ]);
    await Promise.all([waitHealthy(F6, F6_SERVICES), waitHealthy(F7, F7_SERVICES), waitHealthy(F13, F13_SERVICES)]);
  }, 240_000);

  it('sshd from the console: 6.4 HUPs it or starts /usr/sbin/sshd, 13.2 restarts it through service(8)', async () => {
    await prove([
      {
        host: F6, service: 'sshd', targets: ['ssh'], runbook: 'std-sshd-freebsd',
        command: 'ps -p `cat /var/run/sshd.pid` -o comm= | grep -qx sshd && kill -HUP `cat /var/run/sshd.pid` || /usr/sbin/sshd',
        log: 'auth.log', line: 'Server listening on 0.0.0.0 port 22.',
      },
      { host: F13, service: 'sshd', targets: ['ssh'], runbook: 'std-sshd-freebsd-10', command: 'service sshd restart', log: 'messages', line: 'rc: sshd start' },
    ]);
    // sshd's own word, by syslogd: it listens again.
    expect(await count(F13, 'auth.log', 'Server listening on 0.0.0.0 port 22.')).toBeGreaterThanOrEqual(2);
    await Promise.all([waitHealthy(F6, F6_SERVICES), waitHealthy(F13, F13_SERVICES)]);
  }, 180_000);
});
