import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIREWALLED_PORTS, startLab, type Lab } from './index.ts';
import { codes, runChecks } from './checks.ts';
import { ssh, sshAnswering } from './ssh-client.ts';

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

  test('came up with its pass phrase at the first boot; a restart over a PTY asks it and starts only with the right one', async () => {
    const host = lab.host('pass1');
    expect(host.sslPassphrase).toMatch(/^\S{8,}$/);
    expect(codes(await runChecks(host.address))).toMatchObject({ http: 0, https: 0 });

    const wrong = await sshAnswering(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd restart', PROMPT, 'not-the-phrase');
    expect(wrong.prompted).toBe(true);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toContain('Pass phrase incorrect');
    expect(wrong.stdout).toContain('Starting httpd: [FAILED]');
    expect(codes(await runChecks(host.address, 3))).toMatchObject({ http: 2, https: 2, ssh: 0, smtp: 0 });

    const right = await sshAnswering(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd restart', PROMPT, host.sslPassphrase ?? '');
    expect(right.prompted).toBe(true);
    expect(right.code, right.stdout).toBe(0);
    expect(right.stdout).toContain('Starting httpd: [  OK  ]');
    // Echo is off while the phrase is typed: it never shows in the session.
    expect(right.stdout).not.toContain(host.sslPassphrase);
    expect(codes(await runChecks(host.address))).toMatchObject({ http: 0, https: 0 });
  });

  test('without a terminal the start fails at once instead of hanging', async () => {
    const host = lab.host('pass1');
    const r = await ssh(lab, host, { knownHosts }, 'sudo /etc/init.d/httpd restart </dev/null', 20_000);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/no terminal|Pass phrase/);
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
