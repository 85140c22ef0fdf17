/**
 * The EL 4-6 SysV runbooks for ftp, pop3/imap and smtp, each proven on a CentOS 5 lab host,
 * and postfix on a CentOS 6 one (lab 113): `mamori run` sees the killed daemon, repairs it with the runbook selected for the
 * host's OS (journal: runbook, command, Recovered), and the host's own /var/log/messages shows
 * init stopping and starting it. (httpd, sshd, xinetd and ping: service-repair, executor-xinetd
 * and host-power; see test/lab/README.md.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eFleet, type E2eFleet } from '../support/e2e-fleet.ts';
import { HANG_GUARD, expectRepairedWith, waitFinished } from '../support/runbook-proof.ts';

const WEB = 'acme-s5';
// CentOS 6: its MTA is a real postfix (Debian's, unpacked: test/lab/mta.ts), whose daemon is master.
const S6 = 'acme-s6';
const SERVICES = ['ping', 'ftp', 'ssh', 'smtp', 'pop3', 'imap'] as const;
let fleet: E2eFleet;

beforeAll(async () => {
  fleet = await startE2eFleet({
    labId: 113,
    hosts: [
      { name: WEB, variant: 'standard', manifest: { services: [...SERVICES], locale: 'en' } },
      { name: S6, variant: 'el6', manifest: { services: ['ping', 'ssh', 'smtp'], locale: 'en' } },
    ],
  });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
});

async function waitHealthy(services: readonly string[]): Promise<void> {
  await expect.poll(() => services.map((s) => fleet.service(WEB, s)?.state), { timeout: HANG_GUARD, interval: 250 }).toEqual(services.map(() => 'Healthy'));
}

describe('EL 4-6 (SysV): the ftp, mail and pop/imap runbooks on a CentOS 5 host', () => {
  it('vsftpd, dovecot and sendmail killed: each repaired by its runbook, each restart in the host\'s init log', async () => {
    await waitHealthy(SERVICES);
    const since = Date.now();
    await fleet.lab.breakService(WEB, 'vsftpd');
    await fleet.lab.breakService(WEB, 'dovecot');
    await fleet.lab.breakService(WEB, 'sendmail');
    const cases = [
      { target: 'ftp', runbook: 'std-vsftpd-el-sysv', command: '/etc/init.d/vsftpd restart', daemon: 'vsftpd' },
      { target: 'smtp', runbook: 'std-sendmail-el-5', command: '/etc/init.d/sendmail restart', daemon: 'sendmail' },
      { target: 'pop3', runbook: 'std-dovecot-el-sysv', command: '/etc/init.d/dovecot restart', daemon: 'dovecot' },
    ];
    const messages = (): Promise<string> => fleet.lab.console(WEB, 'cat /var/log/messages').then((r) => r.stdout);
    for (const c of cases) {
      const run = await waitFinished(fleet, WEB, c.target === 'pop3' ? ['pop3', 'imap'] : c.target, since);
      expectRepairedWith(run, c.runbook, c.command);
      // init stopped and started the daemon (after the boot's own start).
      expect((await messages()).match(new RegExp(`init: ${c.daemon} (stop|start)`, 'g'))?.length ?? 0, c.daemon).toBeGreaterThanOrEqual(3);
    }
    await waitHealthy(SERVICES);
  }, 180_000);
});

describe('EL 6 (SysV): postfix', () => {
  it('postfix killed: repaired by std-postfix-el-6, init stopping and starting it in the host\'s log', async () => {
    await expect.poll(() => ['smtp', 'ssh'].map((s) => fleet.service(S6, s)?.state), { timeout: HANG_GUARD, interval: 250 }).toEqual(['Healthy', 'Healthy']);
    expect((await fleet.lab.console(S6, 'cat /etc/redhat-release; ps -e -o comm= | grep -cx master; /usr/sbin/postconf -h mail_version')).stdout).toMatch(/^CentOS release 6\.10 \(Final\)\n1\n3\.\d+\.\d+\n$/);
    const since = Date.now();
    await fleet.lab.breakService(S6, 'postfix');
    const run = await waitFinished(fleet, S6, 'smtp', since);
    expectRepairedWith(run, 'std-postfix-el-6', '/etc/init.d/postfix restart');
    const messages = (await fleet.lab.console(S6, 'cat /var/log/messages')).stdout;
    expect(messages.match(/init: postfix (stop|start)/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
    // postfix's own log: the new master's smtpd answers.
    expect((await fleet.lab.console(S6, 'cat /var/log/maillog')).stdout).toMatch(/postfix\/master\[\d+\]: daemon started/);
    await expect.poll(() => fleet.service(S6, 'smtp')?.state, { timeout: HANG_GUARD, interval: 250 }).toBe('Healthy');
  }, 120_000);
});
