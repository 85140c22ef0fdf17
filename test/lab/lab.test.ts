import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab, type LabHost } from './index.ts';
import { codes, runChecks } from './checks.ts';
import { run } from './run.ts';
import { ssh } from './ssh-client.ts';

// Lab id 1: two standard hosts shared by every test of this file.
let lab: Lab;
let web1: LabHost;
let web2: LabHost;
let work: string;
let knownHosts: string;

const ALL_OK = { ssh: 0, http: 0, https: 0, ftp: 0, smtp: 0, pop: 0, imap: 0, telnet: 0, icmp: 0 };

beforeAll(async () => {
  lab = await startLab({ id: 1, hosts: [{ name: 'web1' }, { name: 'web2' }] });
  web1 = lab.host('web1');
  web2 = lab.host('web2');
  work = await mkdtemp(join(tmpdir(), 'mamori-lab-test-'));
  // Our own known_hosts from what the lab reports, checked against the reported fingerprint.
  knownHosts = join(work, 'known_hosts');
  await writeFile(knownHosts, lab.hosts.map((h) => `${h.address} ${h.hostPublicKey}\n`).join(''));
  for (const h of lab.hosts) {
    const pub = join(work, `${h.name}.pub`);
    await writeFile(pub, `${h.hostPublicKey}\n`);
    const fp = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub]);
    expect(fp.stdout).toContain(h.hostKeyFingerprint);
  }
});

afterAll(async () => {
  await lab?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Pids (in the host's own PID namespace) from the daemons' pid files, read on the console. */
async function daemonPids(host: LabHost): Promise<Record<string, string>> {
  const r = await lab.console(
    host.name,
    'for s in sshd httpd vsftpd dovecot sendmail xinetd inetd; do printf "%s=%s\\n" $s "$(cat /var/run/$s.pid)"; done',
  );
  expect(r.code).toBe(0);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
}

describe('a fleet of two standard hosts', () => {
  test('every monitoring-plugins check is OK on each host', async () => {
    const [a, b] = await Promise.all([runChecks(web1.address), runChecks(web2.address)]);
    expect(codes(a!), JSON.stringify(a)).toEqual(ALL_OK);
    expect(codes(b!), JSON.stringify(b)).toEqual(ALL_OK);
  });

  test('a host looks like the seed-era server: CentOS 5 release file, Linux, its own hostname, sudo without a password', async () => {
    const r = await ssh(lab, web1, { knownHosts }, 'cat /etc/redhat-release; uname -s; hostname; sudo -n id -u');
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['CentOS release 5.11 (Final)', 'Linux', 'web1', '0', '']);
  });

  test("ps in host 1 shows host 1's daemons by their seed names and none of host 2's processes", async () => {
    const r = await ssh(lab, web1, { knownHosts }, 'ps -e -o pid=,comm=');
    expect(r.code).toBe(0);
    const comms = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)[1]);
    for (const name of ['init', 'sshd', 'httpd', 'vsftpd', 'dovecot', 'sendmail', 'xinetd', 'inetd']) expect(comms).toContain(name);
    // Host 2's processes would show as a second set of daemons; a few dozen at most for one host.
    expect(comms.filter((c) => c === 'xinetd')).toHaveLength(1);
    expect(comms.filter((c) => c === 'inetd')).toHaveLength(1);
    expect(comms.filter((c) => c === 'vsftpd')).toHaveLength(1);
    expect(comms.filter((c) => c === 'init')).toHaveLength(1);
    expect(comms.length).toBeLessThan(40);
    // Every host numbers its own processes: a PID namespace each, none the machine's.
    const pidNs = async (name: string): Promise<string> => (await lab.console(name, 'readlink /proc/1/ns/pid')).stdout.trim();
    const [ns1, ns2] = await Promise.all([pidNs('web1'), pidNs('web2')]);
    expect(ns1).toMatch(/^pid:\[\d+\]$/);
    expect(ns2).toMatch(/^pid:\[\d+\]$/);
    expect(ns1).not.toBe(ns2);
    expect(ns1).not.toBe(await readlink('/proc/self/ns/pid'));
    // So host 2's vsftpd, looked up in host 1 by its number, is not there. The same number may be
    // host 1's own vsftpd (both hosts start the same daemons in the same order), and only then.
    const [pids1, pids2] = await Promise.all([daemonPids(web1), daemonPids(web2)]);
    const inOne = await lab.console('web1', `cat /proc/${pids2.vsftpd}/cmdline 2>/dev/null | tr '\\0' ' '`);
    expect(inOne.stdout.includes('vsftpd'), `web1 pid ${pids2.vsftpd}: ${inOne.stdout}`).toBe(pids2.vsftpd === pids1.vsftpd);
  });

  test("the seed's commands over SSH restart host 1's daemons and leave host 2's and the machine's alone", async () => {
    // Decoys on the machine named like the daemons: a stray killall -HUP would end them.
    const decoyDir = join(work, 'decoys');
    await run('mkdir', ['-p', decoyDir]);
    const decoys: ChildProcess[] = [];
    for (const name of ['inetd', 'httpd', 'sshd']) {
      await symlink('/bin/sleep', join(decoyDir, name));
      decoys.push(spawn(join(decoyDir, name), ['300'], { stdio: 'ignore' }));
    }
    try {
      const before1 = await daemonPids(web1);
      const before2 = await daemonPids(web2);
      const inetdLog2 = await readFile(join(web2.dir, 'log', 'inetd.out'), 'utf8');
      const seed = [
        'sudo /etc/init.d/httpd restart',
        'sudo /etc/init.d/vsftpd restart',
        'sudo /etc/init.d/dovecot restart',
        'sudo /etc/init.d/sendmail restart',
        'sudo killall -HUP inetd',
        'sudo /etc/init.d/xinetd restart',
        'sudo kill -HUP `cat /var/run/sshd.pid`',
        'sudo /usr/local/etc/rc.d/apache22.sh restart',
        'sudo /etc/init.d/sshd restart',
      ];
      const r = await ssh(lab, web1, { knownHosts }, seed.join(' && '), 60_000);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('Starting httpd: [  OK  ]');

      const after1 = await daemonPids(web1);
      for (const s of ['httpd', 'vsftpd', 'dovecot', 'sendmail', 'xinetd', 'sshd']) expect(after1[s], s).not.toBe(before1[s]);
      expect(after1.inetd).toBe(before1.inetd); // HUP reloads, same process
      expect(await readFile(join(web1.dir, 'log', 'inetd.out'), 'utf8')).toContain('REDO');
      // killall matches the name exactly: the HUP for inetd never reached xinetd.
      expect(await readFile(join(web1.dir, 'log', 'xinetd.out'), 'utf8')).not.toContain('REDO');

      expect(await daemonPids(web2)).toEqual(before2);
      expect(await readFile(join(web2.dir, 'log', 'inetd.out'), 'utf8')).toBe(inetdLog2);
      for (const d of decoys) expect(d.exitCode, 'a decoy on the machine was signalled').toBeNull();

      const [a, b] = await Promise.all([runChecks(web1.address), runChecks(web2.address)]);
      expect(codes(a!)).toEqual(ALL_OK);
      expect(codes(b!)).toEqual(ALL_OK);
    } finally {
      for (const d of decoys) d.kill('SIGKILL');
    }
  });

  test('waiting for a host whose daemon is down fails with the daemon, its port and its log', async () => {
    await lab.breakService('web2', 'httpd');
    try {
      await expect(lab.waitReady('web2', { timeoutMs: 300 })).rejects.toThrow(
        /host web2 did not come up: httpd \(port 80,443\) is not listening[^]*--- console.log\n[^]*lab init: web2 up/,
      );
    } finally {
      expect((await lab.console('web2', '/etc/init.d/httpd start')).stdout).toBe('Starting httpd: [  OK  ]\n');
    }
    await lab.waitReady('web2');
  });

  test('telnet is served by xinetd, as on CentOS 5: killing it closes 23 only, the HUP to inetd does not help, its init script does', async () => {
    const before = await daemonPids(web2);
    await lab.breakService('web2', 'xinetd');
    const down = await runChecks(web2.address, 3);
    expect(codes(down), JSON.stringify(down)).toEqual({ ...ALL_OK, telnet: 2 });
    const r = await lab.console(
      'web2',
      'pgrep -x xinetd; echo "xinetd=$?"; pgrep -x inetd >/dev/null; echo "inetd=$?"; /etc/init.d/xinetd status; ' +
        'killall -HUP inetd; sleep 0.3; ss -Hltn "sport = :23" | grep -c LISTEN',
    );
    expect(r.stdout).toBe('xinetd=1\ninetd=0\nxinetd dead but pid file exists\n0\n');
    const start = await lab.console('web2', '/etc/init.d/xinetd restart; /etc/init.d/xinetd status');
    expect(start.stdout).toMatch(/^Stopping xinetd: not running\.\nStarting xinetd: \[ {2}OK {2}\]\nxinetd \(pid \d+\) is running\.\.\.\n$/);
    expect(codes(await runChecks(web2.address))).toEqual(ALL_OK);
    const after = await daemonPids(web2);
    expect(after.xinetd).not.toBe(before.xinetd);
    expect(after.inetd).toBe(before.inetd);
    // And the other way round: inetd killed leaves telnet up.
    await lab.breakService('web2', 'inetd');
    expect(codes(await runChecks(web2.address))).toEqual(ALL_OK);
    expect((await lab.console('web2', '/etc/init.d/inetd start')).stdout).toBe('Starting inetd: [  OK  ]\n');
    await lab.waitReady('web2');
  });

  test('the console reaches a host whose sshd is dead, and starts it again', async () => {
    await lab.breakService('web2', 'sshd');
    const down = await run('/usr/lib/nagios/plugins/check_ssh', ['-H', web2.address, '-t', '3']);
    expect(down.code).toBe(2);
    const r = await lab.console('web2', 'hostname; /etc/init.d/sshd status; /etc/init.d/sshd start');
    expect(r.stdout).toContain('web2\nsshd dead but pid file exists\nStarting sshd: [  OK  ]');
    const up = await run('/usr/lib/nagios/plugins/check_ssh', ['-H', web2.address]);
    expect(up.code).toBe(0);
    // The same console as a command, for drivers that run one.
    const cmd = await run(join(lab.dir, 'bin', 'console.sh'), [web2.dir, 'hostname; /etc/init.d/sshd status']);
    expect(cmd.stdout).toMatch(/^web2\nsshd \(pid \d+\) is running\.\.\.\n$/);
  });

  test('power off through the BMC makes every check CRITICAL; power on brings them all back with the same host key', async () => {
    const password = (await readFile(web1.bmc.passwordFile, 'utf8')).trim();
    const ipmi = (action: string) =>
      run(
        'ipmitool',
        ['-I', 'lanplus', '-H', web1.bmc.host, '-p', String(web1.bmc.port), '-U', web1.bmc.user, '-E', '-C', '3', 'chassis', 'power', action],
        { env: { ...process.env, IPMI_PASSWORD: password }, timeoutMs: 20_000 },
      );
    const off = await ipmi('off');
    expect(off.code, off.stderr).toBe(0);
    expect((await ipmi('status')).stdout).toContain('Chassis Power is off');
    const dark = await runChecks(web1.address, 3);
    for (const c of dark) expect(c.code, `${c.name}: ${c.output}`).toBe(2);
    // The console has nothing to enter while the power is off.
    await expect(lab.console('web1', 'true')).rejects.toThrow(/powered off/);
    const cmd = await run(join(lab.dir, 'bin', 'console.sh'), [web1.dir, 'true']);
    expect([cmd.code, cmd.stderr]).toEqual([3, 'console: web1 is powered off\n']);
    // The neighbour is untouched.
    expect(codes(await runChecks(web2.address))).toEqual(ALL_OK);

    expect(await lab.power('web1', 'on')).toBe('on');
    expect((await ipmi('status')).stdout).toContain('Chassis Power is on');
    await lab.waitReady('web1');
    expect(codes(await runChecks(web1.address))).toEqual(ALL_OK);
    const r = await ssh(lab, web1, { knownHosts }, 'hostname');
    expect(r.stdout).toBe('web1\n');
  });

  test('a soft power-off runs the stop scripts; reset boots a new init; both through the BMC', async () => {
    expect(await lab.power('web2', 'soft')).toBe('off');
    const boot = await readFile(join(web2.dir, 'console.log'), 'utf8');
    expect(boot.trimEnd().split('\n').slice(-7).sort()).toEqual(
      ['dovecot', 'httpd', 'inetd', 'sendmail', 'sshd', 'vsftpd', 'xinetd'].map((s) => `Stopping ${s}: [  OK  ]`),
    );
    expect(await lab.power('web2', 'status')).toBe('off');
    expect(await lab.power('web2', 'on')).toBe('on');
    await lab.waitReady('web2');
    const init = await readFile(join(web2.dir, 'init.pid'), 'utf8');
    expect(await lab.power('web2', 'reset')).toBe('on');
    expect(await readFile(join(web2.dir, 'init.pid'), 'utf8')).not.toBe(init);
    await lab.waitReady('web2');
    expect(codes(await runChecks(web2.address))).toEqual(ALL_OK);
  });

  test('a pulled link makes the host unreachable while it keeps running; plugging it back restores it', async () => {
    // With its only neighbour powered off, the bridge itself loses carrier: plug must wait for it.
    expect(await lab.power('web1', 'off')).toBe('off');
    await lab.pull('web2');
    const icmp = await run('/usr/lib/nagios/plugins/check_icmp', ['-H', web2.address]);
    expect(icmp.code).toBe(2);
    const tcp = await run('/usr/lib/nagios/plugins/check_tcp', ['-H', web2.address, '-p', '22', '-t', '2']);
    expect(tcp.code).toBe(2);
    expect((await lab.console('web2', '/etc/init.d/httpd status')).code).toBe(0);
    await lab.plug('web2');
    const back = await runChecks(web2.address);
    expect(codes(back), JSON.stringify(back)).toEqual(ALL_OK);
    expect(await lab.power('web1', 'on')).toBe('on');
    await lab.waitReady('web1');
    expect(codes(await runChecks(web1.address))).toEqual(ALL_OK);
  });
});
