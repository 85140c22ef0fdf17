import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIREWALLED_PORTS, startLab, type Lab } from './index.ts';
import { codes, runChecks } from './checks.ts';
import { ssh, sshAnswering, sshDialog } from './ssh-client.ts';

// Lab id 2: one host of each variant a real fleet has.
let lab: Lab;
let work: string;
let knownHosts: string;

beforeAll(async () => {
  lab = await startLab({
    id: 2,
    hosts: [{ name: 'pass1', variant: 'passphrase' }, { name: 'old1', variant: 'legacy-ssh' }, { name: 'fw1', variant: 'firewall' }],
  });
  work = await mkdtemp(join(tmpdir(), 'mamori-lab-variants-'));
  knownHosts = join(work, 'known_hosts');
  await writeFile(knownHosts, lab.hosts.map((h) => `${h.address} ${h.hostPublicKey}\n`).join(''));
});

afterAll(async () => {
  await lab?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the pass-phrase host', () => {
  const PROMPT = 'Enter pass phrase:';

  test('a real Apache came up with its pass phrase at the first boot; a restart over a PTY shows mod_ssl\'s dialog, asks again after a wrong phrase and starts only with the right one', async () => {
    const host = lab.host('pass1');
    expect(host.sslPassphrase).toMatch(/^\S{8,}$/);
    expect(codes(await runChecks(host.address))).toMatchObject({ http: 0, https: 0 });
    const look = await lab.console('pass1', 'readlink /proc/$(head -n 1 /var/run/httpd.pid)/exe; ps -e -o comm= | grep -cx httpd; grep -c "BEGIN ENCRYPTED PRIVATE KEY" /etc/pki/tls/private/localhost.key');
    expect(look.stdout).toMatch(/^\/usr\/sbin\/apache2\n[1-9]\d*\n1\n$/);

    // A wrong phrase: mod_ssl says so and asks again; the person gives up (^C, which OpenSSL's
    // prompt may catch and ask once more): Apache is down.
    const wrong = await sshDialog(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd restart', PROMPT, ['not-the-phrase']);
    expect(wrong.prompts, wrong.stdout).toBeGreaterThanOrEqual(2);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toMatch(/Apache\/2\.4\.\d+ mod_ssl \(Pass Phrase Dialog\)/);
    expect(wrong.stdout).toContain('Apache:mod_ssl:Error: Pass phrase incorrect (5 more retries permitted).');
    await expect.poll(async () => (await lab.console('pass1', 'ps -e -o comm= | grep -cx httpd')).stdout, { timeout: 10_000, interval: 250 }).toBe('0\n');
    expect(codes(await runChecks(host.address, 3))).toMatchObject({ http: 2, https: 2, ssh: 0, smtp: 0 });

    // mod_ssl prints the prompt before it turns echo off, so a phrase typed the instant the
    // prompt shows may be echoed: mamori scrubs its secrets from what it keeps (executor-ssh).
    let right = await sshDialog(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd restart', PROMPT, [host.sslPassphrase ?? '']);
    if (right.code !== 0 && right.stdout.includes('AH00016: Configuration Failed')) {
      // Seen once in a clean-clone run at load ~14, right after the ^C'd start: the dialog succeeded
      // and the start failed later in mod_ssl's setup. Its error log goes into the message; a second
      // try must start (a lab Apache that cannot start with the right phrase still fails here).
      const log = (await lab.console('pass1', 'tail -n 20 /var/log/httpd/error_log')).stdout;
      right = await sshDialog(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd restart', PROMPT, [host.sslPassphrase ?? '']);
      expect(right.code, `${right.stdout}\n--- error_log after the first try ---\n${log}`).toBe(0);
    }
    expect(right.prompts).toBe(1);
    expect(right.code, right.stdout).toBe(0);
    expect(right.stdout).toMatch(/Enter pass phrase:[\s\S]*OK: Pass Phrase Dialog successful\.[\s\S]*\[ {2}OK {2}\]/);
    expect(codes(await runChecks(host.address))).toMatchObject({ http: 0, https: 0 });
  });

  test('without a terminal the start fails at once instead of hanging', async () => {
    const host = lab.host('pass1');
    const r = await ssh(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd restart </dev/null', 20_000);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Pass Phrase Dialog[\s\S]*Apache:mod_ssl:Error: Private key not found/);
    // Back up for the rest of the file.
    const again = await sshAnswering(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd start', PROMPT, host.sslPassphrase ?? '');
    expect(again.code, again.stdout).toBe(0);
  });

  test('after a power cycle httpd waits for its pass phrase (the first-boot answer is not kept); the rest comes back', async () => {
    const host = lab.host('pass1');
    expect(await lab.power('pass1', 'cycle')).toBe('on');
    await lab.waitReady('pass1', { services: ['sshd', 'vsftpd', 'dovecot', 'sendmail', 'xinetd', 'inetd'] });
    expect(codes(await runChecks(host.address, 3))).toMatchObject({ http: 2, https: 2, ssh: 0, ftp: 0 });
    const r = await sshAnswering(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd start', PROMPT, host.sslPassphrase ?? '');
    expect(r.code, r.stdout).toBe(0);
    expect(codes(await runChecks(host.address))).toMatchObject({ http: 0, https: 0 });
  });
});

describe('the legacy-ssh host', () => {
  test('a modern-only client cannot talk to it; one with the OpenSSH 4.x algorithms and the RSA key can', async () => {
    const host = lab.host('old1');
    expect(host.hostKeyAlgorithm).toBe('ssh-rsa');
    const modern = await ssh(lab, host, { knownHosts }, 'true');
    expect(modern.code).toBe(255);
    expect(modern.stderr).toMatch(/no matching key exchange method/);
    const legacy = await ssh(lab, host, { knownHosts, legacy: true }, 'hostname; sudo -n /etc/init.d/sshd status');
    expect(legacy.stderr).toBe('');
    expect(legacy.stdout).toMatch(/^old1\nsshd \(pid \d+\) is running\.\.\.\n$/);
  });

  test('its other services answer like any host', async () => {
    expect(codes(await runChecks(lab.host('old1').address))).toEqual({
      ssh: 0, http: 0, https: 0, ftp: 0, smtp: 0, pop: 0, imap: 0, telnet: 0, icmp: 0,
    });
  });
});

describe('the firewall host', () => {
  test('drops the management network on the service ports but answers ping and SSH; the services run and answer locally', async () => {
    const host = lab.host('fw1');
    expect(FIREWALLED_PORTS).toEqual([21, 23, 25, 80, 110, 143, 443]);
    expect(codes(await runChecks(host.address, 2))).toEqual({
      ssh: 0, http: 2, https: 2, ftp: 2, smtp: 2, pop: 2, imap: 2, telnet: 2, icmp: 0,
    });
    const r = await ssh(lab, host, { knownHosts }, [
      'sudo /etc/init.d/httpd status >/dev/null && echo httpd-running',
      'curl -s -o /dev/null -w "%{http_code}\\n" http://127.0.0.1/',
      'curl -s -o /dev/null -w "%{http_code}\\n" http://' + host.address + '/',
    ].join('; '));
    expect(r.stdout).toBe('httpd-running\n200\n200\n');
    // Every service answers a probe made inside the host.
    const inside = await lab.console(
      'fw1',
      'P=/usr/lib/nagios/plugins; $P/check_ftp -H 127.0.0.1 && $P/check_smtp -H 127.0.0.1 && $P/check_pop -H 127.0.0.1 && $P/check_imap -H 127.0.0.1 && $P/check_tcp -H 127.0.0.1 -p 23',
    );
    expect(inside.code, inside.stdout).toBe(0);
  });
});
