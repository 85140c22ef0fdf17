/**
 * A lab host with a real systemd (EL 7, 8, 9 variants): its disk is an overlay of the
 * machine's root (nspawn.ts), booted by power.sh with systemd-nspawn inside the host's network
 * namespace. Units are named as on EL: httpd (a real Apache with mod_ssl, Debian's apache2
 * under the name httpd), sshd, vsftpd, dovecot, postfix (Debian's, unpacked: mta.ts), and telnet.socket
 * (socket-activated telnetd). On el7 the SSL key is encrypted: `systemctl restart httpd` asks
 * its pass phrase through systemd's password agent, as EL's httpd-ssl-pass-dialog does.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostKeys, HostPlan } from './host-files.ts';
import { MANAGEMENT_UID, MANAGEMENT_USER } from './names.ts';
import { nspawnArgv, prepareNspawnRoot, type NspawnOptions } from './nspawn.ts';
import { POSTFIX_GROUP, POSTFIX_PASSWD, POSTFIX_SHADOW, makePostfixQueue, postfixTree, writePostfixConf } from './mta.ts';
import { runOk } from './run.ts';
import { hasSslPassphrase, releaseOf, type LabVariant } from './types.ts';

const APACHE_MODULES = '/usr/lib/apache2/modules';

/** The units a systemd host serves, as EL names them. */
export const SYSTEMD_UNITS = ['sshd.service', 'httpd.service', 'vsftpd.service', 'dovecot.service', 'postfix.service', 'telnet.socket'] as const;

/** Debian's units of the same daemons, and what would wake up uninvited: masked inside. */
const MASKED = [
  'timers.target', 'getty.target', 'console-getty.service', 'ssh.service', 'ssh.socket', 'apache2.service',
  'apache-htcacheclean.service', 'nginx.service', 'exim4.service', 'exim4-base.service', 'dovecot.socket',
  'postgresql.service', 'prometheus-blackbox-exporter.service', 'monit.service', 'etcd.service', 'inetutils-inetd.service',
  'systemd-timesyncd.service', 'e2scrub_reap.service',
];

export function apacheConf(o: { name: string; dialog: string; pidFile: string; runtimeDir: string; logDir: string; docRoot: string; crt: string; key: string; user: string }): string {
  const m = APACHE_MODULES;
  return `# httpd of a lab host: Debian's Apache 2.4 with mod_ssl, under EL's name and paths.
ServerRoot /etc/httpd
ServerName ${o.name}.lab.test
Listen 80
Listen 443
LoadModule mpm_prefork_module ${m}/mod_mpm_prefork.so
LoadModule authz_core_module ${m}/mod_authz_core.so
LoadModule mime_module ${m}/mod_mime.so
LoadModule dir_module ${m}/mod_dir.so
LoadModule socache_shmcb_module ${m}/mod_socache_shmcb.so
LoadModule ssl_module ${m}/mod_ssl.so
User ${o.user}
Group ${o.user}
StartServers 2
MinSpareServers 1
MaxSpareServers 3
DefaultRuntimeDir ${o.runtimeDir}
PidFile ${o.pidFile}
ErrorLog ${o.logDir}/error_log
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog ${o.logDir}/access_log common
TypesConfig /etc/mime.types
DocumentRoot ${o.docRoot}
<Directory ${o.docRoot}>
  Require all granted
</Directory>
DirectoryIndex index.html
SSLPassPhraseDialog ${o.dialog}
SSLSessionCache shmcb:${o.runtimeDir}/sslcache(512000)
<VirtualHost _default_:443>
  SSLEngine on
  SSLCertificateFile ${o.crt}
  SSLCertificateKeyFile ${o.key}
</VirtualHost>
`;
}

const UNITS: Record<string, string> = {
  'sshd.service': `[Unit]
Description=OpenSSH server daemon
After=network.target
[Service]
Type=simple
RuntimeDirectory=sshd
RuntimeDirectoryPreserve=yes
ExecStart=/usr/sbin/sshd -D -f /etc/ssh/sshd_config
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
Restart=on-failure
RestartSec=42s
[Install]
WantedBy=multi-user.target
`,
  // As EL's, but Type=forking: Debian's Apache has no mod_systemd to say READY, and
  // systemctl must wait (running the password agent) until the key is read.
  'httpd.service': `[Unit]
Description=The Apache HTTP Server
After=network.target remote-fs.target nss-lookup.target
[Service]
Type=forking
PIDFile=/run/httpd/httpd.pid
RuntimeDirectory=httpd
RuntimeDirectoryPreserve=yes
ExecStart=/usr/sbin/httpd -f /etc/httpd/conf/httpd.conf -k start
ExecReload=/usr/sbin/httpd -f /etc/httpd/conf/httpd.conf -k graceful
ExecStop=/usr/sbin/httpd -f /etc/httpd/conf/httpd.conf -k graceful-stop
KillSignal=SIGCONT
PrivateTmp=true
[Install]
WantedBy=multi-user.target
`,
  'vsftpd.service': `[Unit]
Description=Vsftpd ftp daemon
After=network.target
[Service]
Type=simple
ExecStart=/usr/sbin/vsftpd /etc/vsftpd/vsftpd.conf
[Install]
WantedBy=multi-user.target
`,
  'dovecot.service': `[Unit]
Description=Dovecot IMAP/POP3 email server
After=local-fs.target network-online.target
[Service]
Type=simple
ExecStart=/usr/sbin/dovecot -F -c /etc/dovecot/dovecot.conf
ExecReload=/usr/bin/doveadm -c /etc/dovecot/dovecot.conf reload
[Install]
WantedBy=multi-user.target
`,
  // EL 7's unit (less its alias and chroot helpers, which the lab's postfix does not use).
  'postfix.service': `[Unit]
Description=Postfix Mail Transport Agent
After=syslog.target network.target
Conflicts=sendmail.service exim.service
[Service]
Type=forking
PIDFile=/var/spool/postfix/pid/master.pid
ExecStart=/usr/sbin/postfix start
ExecReload=/usr/sbin/postfix reload
ExecStop=/usr/sbin/postfix stop
[Install]
WantedBy=multi-user.target
`,
  'telnet.socket': `[Unit]
Description=Telnet Server Activation Socket
[Socket]
ListenStream=23
Accept=true
[Install]
WantedBy=sockets.target
`,
  'telnet@.service': `[Unit]
Description=Telnet Server
After=local-fs.target
[Service]
ExecStart=-/usr/sbin/in.telnetd
StandardInput=socket
`,
  // The pass phrase given at installation answers the first boot only (the lab's stand-in for
  // the person at the console): after it, every start asks through systemd's agent.
  'lab-first-boot.service': `[Unit]
Description=Forget the pass phrase given at installation
After=httpd.service
[Service]
Type=oneshot
ExecStart=/bin/rm -f /etc/httpd/boot-passphrase
`,
};

const PASS_DIALOG = `#!/bin/sh
# EL's /usr/libexec/httpd-ssl-pass-dialog: mod_ssl runs it as "exec:" with the server and key
# type; systemd-ask-password asks every agent (systemctl's on its terminal, the console's).
# The lab answers the first boot from the phrase given at installation (removed after it).
if [ -r /etc/httpd/boot-passphrase ]; then
  cat /etc/httpd/boot-passphrase
  exit 0
fi
exec /bin/systemd-ask-password "Enter SSL pass phrase for $1 ($2) : "
`;

function dovecotConf(mailPassword: string): string {
  return `# POP3 and IMAP of a lab host.
protocols = imap pop3
listen = *
base_dir = /run/dovecot
state_dir = /var/lib/dovecot
log_path = /var/log/dovecot.log
ssl = no
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
passdb {
  driver = static
  args = password=${mailPassword}
}
userdb {
  driver = static
  args = uid=${MANAGEMENT_USER} gid=${MANAGEMENT_USER} home=/home/%u
}
`;
}

const VSFTPD_CONF = `# FTP of a lab host (EL's path).
listen=YES
listen_ipv6=NO
background=NO
anonymous_enable=YES
anon_root=/var/ftp
ftp_username=ftp
local_enable=NO
write_enable=NO
secure_chroot_dir=/usr/share/empty
seccomp_sandbox=NO
xferlog_enable=NO
vsftpd_log_file=/var/log/vsftpd.log
ftpd_banner=(vsFTPd 3.0.2)
`;

export function nspawnOptionsOf(plan: Pick<HostPlan, 'dir' | 'name' | 'netns'>): NspawnOptions {
  return {
    dir: plan.dir,
    machine: plan.netns,
    hostname: plan.name,
    netns: plan.netns,
    units: [...SYSTEMD_UNITS, 'lab-first-boot.service'],
    mask: MASKED,
  };
}

async function put(root: string, path: string, text: string, mode = 0o644): Promise<void> {
  const file = join(root, path);
  await mkdir(join(file, '..'), { recursive: true });
  // Replace, never write through a symlink of the machine's.
  await rm(file, { force: true });
  await writeFile(file, text, { mode });
  await chmod(file, mode);
}

/** Writes a systemd host's disk (mounting its overlay) and the nspawn command power.sh runs. */
export async function writeSystemdHost(plan: HostPlan, sshdLines: readonly string[], signal?: AbortSignal): Promise<HostKeys> {
  const { dir, name, variant } = plan;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  const files: Record<string, string> = Object.fromEntries(Object.entries(UNITS).map(([u, t]) => [`/etc/systemd/system/${u}`, t]));
  const opts: NspawnOptions = { ...nspawnOptionsOf(plan), files };
  const root = await prepareNspawnRoot(opts);

  const [passwd, shadow, group] = await Promise.all(['passwd', 'shadow', 'group'].map((f) => readFile(join(root, 'etc', f), 'utf8')));
  const u = MANAGEMENT_USER;
  const uid = MANAGEMENT_UID;
  const nl = (s: string | undefined): string => (s && !s.endsWith('\n') ? `${s}\n` : (s ?? ''));
  if (!passwd?.includes(`\n${u}:`)) {
    await put(root, '/etc/passwd', `${nl(passwd)}${u}:x:${uid}:${uid}:mamori management:/home/${u}:/bin/bash\n`);
    await put(root, '/etc/shadow', `${nl(shadow)}${u}:*:20000:0:99999:7:::\n`, 0o640);
    await put(root, '/etc/group', `${nl(group)}${u}:x:${uid}:\n`);
  }
  // postfix (a real one, unpacked from Debian's package: mta.ts) at its own paths on this disk.
  const [passwd2, shadow2, group2] = await Promise.all(['passwd', 'shadow', 'group'].map((f) => readFile(join(root, 'etc', f), 'utf8')));
  if (!passwd2?.includes('\npostfix:')) {
    await put(root, '/etc/passwd', `${nl(passwd2)}${POSTFIX_PASSWD}`);
    await put(root, '/etc/shadow', `${nl(shadow2)}${POSTFIX_SHADOW}`, 0o640);
    await put(root, '/etc/group', `${nl(group2)}${POSTFIX_GROUP}`);
  }
  const tree = postfixTree();
  await runOk('cp', ['-a', '--remove-destination', `${tree}/usr/sbin/.`, join(root, 'usr/sbin')], { signal });
  await runOk('cp', ['-a', `${tree}/usr/lib/postfix`, join(root, 'usr/lib/')], { signal });
  await mkdir(join(root, 'etc/postfix'), { recursive: true });
  await runOk('cp', ['-a', `${tree}/etc/postfix/.`, join(root, 'etc/postfix')], { signal });
  await writePostfixConf(join(root, 'etc/postfix'), name);
  await makePostfixQueue(join(root, 'var/spool'));
  await put(root, `/etc/sudoers.d/${u}`, `${u} ALL=(ALL) NOPASSWD: ALL\n`, 0o440);
  const hosts = plan.fleet.map((h) => `${h.address} ${h.name}.lab.test ${h.name}`).join('\n');
  await put(root, '/etc/hosts', `127.0.0.1 localhost\n${plan.address} ${name}.lab.test ${name}\n${plan.gateway} mamori gateway\n${hosts}\n`);
  await put(root, '/etc/resolv.conf', 'options timeout:1 attempts:1\n');
  await put(root, '/etc/redhat-release', `${releaseOf(variant)}\n`);
  await put(root, '/etc/os-release', osRelease(variant));
  await put(root, '/etc/vsftpd/vsftpd.conf', VSFTPD_CONF);
  await put(root, '/var/ftp/pub/README', `${name}\n`);
  await mkdir(join(root, 'usr/share/empty'), { recursive: true, mode: 0o755 });
  await put(root, '/etc/dovecot/dovecot.conf', dovecotConf(randomBytes(12).toString('hex')), 0o640);
  await put(root, '/var/www/html/index.html', `<html><body>${name} (lab, ${releaseOf(variant)})</body></html>\n`);
  await put(root, '/usr/libexec/httpd-ssl-pass-dialog', PASS_DIALOG, 0o755);
  await symlinkOver('/usr/sbin/apache2', join(root, 'usr/sbin/httpd'));
  await symlinkOver('/usr/sbin/telnetd', join(root, 'usr/sbin/in.telnetd'));

  const home = join(root, 'home', u);
  await mkdir(join(home, '.ssh'), { recursive: true });
  await put(root, `/home/${u}/.ssh/authorized_keys`, plan.authorizedKeys, 0o600);
  for (const p of [home, join(home, '.ssh'), join(home, '.ssh', 'authorized_keys')]) await chown(p, uid, uid);
  await chmod(home, 0o750);
  await chmod(join(home, '.ssh'), 0o700);

  // sshd: the host key and config, as on the SysV hosts.
  const keyFile = join(root, 'etc/ssh/ssh_host_ed25519_key');
  await mkdir(join(root, 'etc/ssh'), { recursive: true });
  // The machine's own host keys show through the overlay: the host makes its own.
  await runOk('sh', ['-c', `rm -f ${join(root, 'etc/ssh')}/ssh_host_*`], { signal });
  const passphrase = hasSslPassphrase(variant) ? randomBytes(9).toString('base64url') : undefined;
  const pki = join(root, 'etc/pki/tls');
  await mkdir(join(pki, 'certs'), { recursive: true });
  await mkdir(join(pki, 'private'), { recursive: true, mode: 0o700 });
  const plainKey = join(pki, 'private', passphrase ? 'localhost.key.plain' : 'localhost.key');
  await Promise.all([
    runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${name}`, '-f', keyFile], { signal }),
    runOk('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650',
      '-subj', `/CN=${name}.lab.test`, '-addext', `subjectAltName=DNS:${name}.lab.test,IP:${plan.address}`,
      '-keyout', plainKey, '-out', join(pki, 'certs', 'localhost.crt'),
    ], { signal }),
  ]);
  if (passphrase) {
    const pf = join(root, 'etc/httpd/boot-passphrase');
    await put(root, '/etc/httpd/boot-passphrase', passphrase, 0o600);
    await runOk('openssl', ['pkey', '-in', plainKey, '-aes256', '-passout', `file:${pf}`, '-out', join(pki, 'private', 'localhost.key')], { signal });
    await runOk('rm', ['-f', plainKey], { signal });
    await writeFile(join(dir, 'ssl-passphrase'), passphrase, { mode: 0o600 });
  }
  await chmod(join(pki, 'private', 'localhost.key'), 0o600);
  await put(root, '/etc/httpd/conf/httpd.conf', apacheConf({
    name, dialog: 'exec:/usr/libexec/httpd-ssl-pass-dialog', pidFile: '/run/httpd/httpd.pid', runtimeDir: '/run/httpd',
    logDir: '/var/log/httpd', docRoot: '/var/www/html', crt: '/etc/pki/tls/certs/localhost.crt',
    key: '/etc/pki/tls/private/localhost.key', user: 'www-data',
  }));
  await mkdir(join(root, 'var/log/httpd'), { recursive: true, mode: 0o700 });
  await put(root, '/etc/ssh/sshd_config', [...sshdLines, 'HostKey /etc/ssh/ssh_host_ed25519_key', ''].join('\n'));

  // NUL-separated (the cgroup wrapper's script has newlines): power.sh reads it with mapfile -d ''.
  await writeFile(join(dir, 'nspawn.argv'), nspawnArgv(opts).map((a) => `${a}\0`).join(''));
  await writeFile(
    join(dir, 'host.env'),
    `LAB_DIR=${plan.labDir}\nLAB_HOST=${name}\nLAB_NETNS=${plan.netns}\nLAB_VARIANT=${variant}\nLAB_GATEWAY=${plan.gateway}\nLAB_INIT=systemd\n`,
  );

  const pub = (await readFile(`${keyFile}.pub`, 'utf8')).trim();
  const fp = await runOk('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${keyFile}.pub`], { signal });
  const fingerprint = /SHA256:\S+/.exec(fp)?.[0];
  if (!fingerprint) throw new Error(`lab: no fingerprint for ${keyFile}.pub: ${fp}`);
  const [algorithm, body] = pub.split(/\s+/);
  return {
    hostKeyFingerprint: fingerprint,
    hostKeyAlgorithm: algorithm ?? '',
    hostPublicKey: `${algorithm} ${body}`,
    ...(passphrase ? { sslPassphrase: passphrase } : {}),
  };
}

async function symlinkOver(target: string, path: string): Promise<void> {
  await runOk('ln', ['-sfn', target, path]);
}

function osRelease(variant: LabVariant): string {
  const version = /release (\d+)/.exec(releaseOf(variant))?.[1] ?? '';
  return `NAME="CentOS Linux"\nVERSION_ID="${version}"\nID="centos"\nID_LIKE="rhel fedora"\nPRETTY_NAME="${releaseOf(variant)}"\n`;
}
