/**
 * The EL 4-6 SysV runbooks for ftp, pop3/imap, smtp and telnet (xinetd), each proven on a
 * CentOS 5 lab host whose sendmail is a real one, and postfix on a CentOS 6 one (lab 113):
 * `mamori run` sees the killed daemon, repairs it with the runbook selected for the host's OS
 * (journal: runbook, command, Recovered), and the host's own /var/log/messages shows init
 * stopping and starting it. Then httpd on a CentOS 5 host running a real Apache whose SSL key
 * is encrypted: the runbook answers mod_ssl's built-in pass-phrase dialog on the terminal; a
 * wrong phrase leaves Apache down and escalates once, the phrase in no transcript, log, status
 * file or e-mail. (httpd, sshd and ping on the standard host: service-repair and host-power;
 * see test/lab/README.md.)
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eFleet, type E2eFleet } from '../support/e2e-fleet.ts';
import { HANG_GUARD, expectRepairedWith, finishedAfter, waitFinished } from '../support/runbook-proof.ts';

// CentOS 5 with a real sendmail (Debian's, unpacked: test/lab/mta.ts).
const WEB = 'acme-s5';
// CentOS 5 with a real Apache (Debian's 2.4 + mod_ssl as httpd) and an encrypted SSL key.
const P5 = 'acme-p5';
// CentOS 6: its MTA is a real postfix (Debian's, unpacked: test/lab/mta.ts), whose daemon is master.
const S6 = 'acme-s6';
const SERVICES = ['ping', 'ftp', 'ssh', 'smtp', 'pop3', 'imap', 'telnet'] as const;
let fleet: E2eFleet;

beforeAll(async () => {
  fleet = await startE2eFleet({
    labId: 113,
    hosts: [
      { name: WEB, variant: 'el5', manifest: { services: [...SERVICES], locale: 'en' } },
      { name: S6, variant: 'el6', manifest: { services: ['ping', 'ssh', 'smtp'], locale: 'en' } },
      { name: P5, variant: 'passphrase', manifest: { services: ['ping', 'ssh', 'http', 'https'], locale: 'en' } },
    ],
  });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
});

async function waitHealthy(services: readonly string[]): Promise<void> {
  await expect.poll(() => services.map((s) => fleet.service(WEB, s)?.state), { timeout: HANG_GUARD, interval: 250 }).toEqual(services.map(() => 'Healthy'));
}

describe('EL 4-6 (SysV): the ftp, mail, pop/imap and telnet runbooks on a CentOS 5 host', () => {
  it('its sendmail is a real sendmail', async () => {
    const r = await fleet.lab.console(WEB, 'cat /etc/redhat-release; readlink -f /usr/sbin/sendmail; readlink /proc/$(head -n 1 /var/run/sendmail.pid)/exe; /usr/sbin/sendmail -d0.1 -bt </dev/null | head -n 1');
    expect(r.stdout).toMatch(/^CentOS release 5\.11 \(Final\)\n\/usr\/libexec\/sendmail\/sendmail\n\/usr\/libexec\/sendmail\/sendmail\nVersion 8\.\d+\.\d+/);
  });

  it('vsftpd, dovecot, sendmail and xinetd killed: each repaired by its runbook, each restart in the host\'s init log', async () => {
    await waitHealthy(SERVICES);
    const since = Date.now();
    await fleet.lab.breakService(WEB, 'vsftpd');
    await fleet.lab.breakService(WEB, 'dovecot');
    await fleet.lab.breakService(WEB, 'sendmail');
    await fleet.lab.breakService(WEB, 'xinetd');
    const cases = [
      { target: 'ftp', runbook: 'std-vsftpd-el-sysv', command: '/etc/init.d/vsftpd restart', daemon: 'vsftpd' },
      { target: 'smtp', runbook: 'std-sendmail-el-5', command: '/etc/init.d/sendmail restart', daemon: 'sendmail' },
      { target: 'pop3', runbook: 'std-dovecot-el-sysv', command: '/etc/init.d/dovecot restart', daemon: 'dovecot' },
      { target: 'telnet', runbook: 'std-xinetd-el-sysv', command: '/etc/init.d/xinetd restart', daemon: 'xinetd' },
    ];
    const messages = (): Promise<string> => fleet.lab.console(WEB, 'cat /var/log/messages').then((r) => r.stdout);
    for (const c of cases) {
      const run = await waitFinished(fleet, WEB, c.target === 'pop3' ? ['pop3', 'imap'] : c.target, since);
      expectRepairedWith(run, c.runbook, c.command);
      // init stopped and started the daemon (after the boot's own start).
      expect((await messages()).match(new RegExp(`init: ${c.daemon} (stop|start)`, 'g'))?.length ?? 0, c.daemon).toBeGreaterThanOrEqual(3);
    }
    // The new daemon is sendmail itself (its title: "sendmail: accepting connections").
    expect((await fleet.lab.console(WEB, 'readlink /proc/$(head -n 1 /var/run/sendmail.pid)/exe')).stdout).toBe('/usr/libexec/sendmail/sendmail\n');
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

describe('EL 5 (SysV): httpd, a real Apache asking its SSL pass phrase on the terminal', () => {
  const secretFile = (): string => join(fleet.repo.dir, 'secrets', `${P5}-ssl`);
  const waitP5 = (services: readonly string[]): Promise<void> =>
    expect.poll(() => services.map((s) => fleet.service(P5, s)?.state), { timeout: HANG_GUARD, interval: 250 }).toEqual(services.map(() => 'Healthy'));

  it('a killed Apache is restarted by `/etc/init.d/httpd restart`, mod_ssl\'s built-in dialog answered with the phrase', async () => {
    const phrase = fleet.lab.host(P5).sslPassphrase ?? '';
    expect(phrase).toMatch(/^\S{8,}$/);
    await waitP5(['http', 'https', 'ssh']);
    // Apache itself, with an encrypted key and the built-in dialog; the phrase of the first boot is gone.
    const look = await fleet.lab.console(P5, 'readlink /proc/$(head -n 1 /var/run/httpd.pid)/exe; grep -c "BEGIN ENCRYPTED PRIVATE KEY" /etc/pki/tls/private/localhost.key; grep -A1 "IfDefine !LAB_BOOT" /etc/httpd/conf/httpd.conf | tail -n 1; ls /etc/httpd/boot-passphrase 2>&1');
    expect(look.stdout).toMatch(/^\/usr\/sbin\/apache2\n1\n +SSLPassPhraseDialog builtin\n.*No such file/);
    const since = Date.now();
    await fleet.lab.breakService(P5, 'httpd');
    const run = await waitFinished(fleet, P5, ['http', 'https'], since);
    expectRepairedWith(run, 'std-httpd-el-sysv', '/etc/init.d/httpd restart');
    expect(JSON.stringify(run)).not.toContain(phrase);
    // On the host: init stopped and started httpd, and Apache's own log has the new start (no boot define).
    const messages = (await fleet.lab.console(P5, 'cat /var/log/messages')).stdout;
    expect(messages.match(/init: httpd (stop|start)/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
    const errorLog = (await fleet.lab.console(P5, 'grep "AH00094: Command line" /var/log/httpd/error_log')).stdout.trim().split('\n');
    expect(errorLog.length).toBeGreaterThanOrEqual(2);
    expect(errorLog.at(-1)).toMatch(/Command line: '\S+\/httpd -f \/etc\/httpd\/conf\/httpd\.conf'$/);
    await waitP5(['http', 'https']);
  }, 120_000);

  it('a wrong pass phrase: Apache asks again, mamori stops at once; Apache stays down, PassphraseRequired, one e-mail, no phrase anywhere', async () => {
    const right = fleet.lab.host(P5).sslPassphrase ?? '';
    const wrong = `wrong-${right.slice(0, 4)}-phrase`;
    writeFileSync(secretFile(), wrong, { mode: 0o600 });
    try {
      const since = Date.now();
      await fleet.lab.breakService(P5, 'httpd');
      const run = await waitFinished(fleet, P5, ['http', 'https'], since);
      expect(run.verdict).toBe('PassphraseRequired');
      expect(run.message).toMatch(/asked "Enter pass phrase:" again after the secret sslPassphrase was typed: the secret was refused/);
      // Apache did not start, and nothing waits on the terminal any more.
      const status = await fleet.lab.console(P5, '/etc/init.d/httpd status; ps -e -o comm= | grep -cx httpd');
      expect(status.stdout).toMatch(/^httpd (dead but pid file exists|is stopped)\n0\n$/);
      const aboutHttp = (): ReturnType<E2eFleet['mails']> =>
        fleet.mails('could-not-recover', P5).filter((m) => Date.parse(String(m.date ?? 0)) >= since - 1_000 && /pass ?phrase/i.test(`${m.subject ?? ''} ${m.text ?? ''}`));
      await expect.poll(() => aboutHttp().length, { timeout: 15_000, interval: 200 }).toBeGreaterThan(0);
      // Once: no second attempt (on http or https) and no second escalation while the secret stays wrong.
      await new Promise((r) => setTimeout(r, 5_000));
      const runs = [...(await finishedAfter(fleet, P5, 'http', since)), ...(await finishedAfter(fleet, P5, 'https', since))];
      expect(runs).toHaveLength(1);
      expect(aboutHttp()).toHaveLength(1);
      expect(fleet.service(P5, 'http')?.state).not.toBe('Healthy');

      // Neither phrase in the journal, the status files, the daemon's log or any e-mail.
      const texts: string[] = readdirSync(join(fleet.stateDir, 'journal')).map((f) => readFileSync(join(fleet.stateDir, 'journal', f), 'utf8'));
      for (const f of readdirSync(join(fleet.stateDir, 'status'), { recursive: true, withFileTypes: true })) {
        if (f.isFile()) texts.push(readFileSync(join(f.parentPath, f.name), 'utf8'));
      }
      texts.push(JSON.stringify(fleet.daemon.logs));
      for (const m of fleet.smtp.messages) texts.push(`${m.subject ?? ''}\n${m.text ?? ''}\n${typeof m.html === 'string' ? m.html : ''}`);
      texts.push(JSON.stringify(await fleet.journal()));
      for (const t of texts) {
        expect(t.includes(right)).toBe(false);
        expect(t.includes(wrong)).toBe(false);
      }
    } finally {
      writeFileSync(secretFile(), right, { mode: 0o600 });
    }
  }, 120_000);
});
