import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANAGEMENT_UID, MANAGEMENT_USER } from './names.ts';
import { runOk } from './run.ts';
import { writeFreebsdHost } from './freebsd-host.ts';
import { apacheConf, writeSystemdHost } from './systemd-host.ts';
import { POSTFIX_GROUP, POSTFIX_PASSWD, POSTFIX_SHADOW, makePostfixQueue, postfixTree, sendmailTree, writePostfixConf, writeSendmailConf } from './mta.ts';
import { initOf, releaseOf, servicesOf, type LabMailTls, type LabVariant } from './types.ts';

/** What a host's folder is made from. */
export interface HostPlan {
  labDir: string;
  dir: string;
  name: string;
  index: number;
  variant: LabVariant;
  address: string;
  netns: string;
  gateway: string;
  /** Every host of the fleet, for /etc/hosts. */
  fleet: { name: string; address: string }[];
  /** authorized_keys lines of the management user. */
  authorizedKeys: string;
  mailTls?: LabMailTls;
}

export interface HostKeys {
  hostKeyFingerprint: string;
  hostKeyAlgorithm: string;
  hostPublicKey: string;
  sslPassphrase?: string;
}

const SSHD_COMMON = [
  'Port 22',
  'ListenAddress 0.0.0.0',
  'PidFile /var/run/sshd.pid',
  'UsePAM no',
  'PubkeyAuthentication yes',
  'PasswordAuthentication no',
  'KbdInteractiveAuthentication no',
  'PermitRootLogin no',
  'AuthorizedKeysFile .ssh/authorized_keys',
  'UseDNS no',
  'PrintMotd no',
  'Subsystem sftp internal-sftp',
];

/**
 * Only what an OpenSSH 4.3 of CentOS 5 offers: no modern client default matches. One deviation
 * the lab cannot avoid: OpenSSH 9.2 always answers a client's ext-info-c with server-sig-algs
 * listing rsa-sha2-256/512 (OpenSSH 4.x sends no ext-info at all), and clients (OpenSSH, ssh2)
 * then sign with rsa-sha2 and cannot be told otherwise; so user signatures in rsa-sha2 are
 * accepted beside ssh-rsa. Everything negotiated in the key exchange is 4.x's.
 */
const SSHD_LEGACY = [
  'HostKey /etc/ssh/ssh_host_rsa_key',
  'KexAlgorithms diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1',
  'HostKeyAlgorithms ssh-rsa',
  'Ciphers aes128-cbc,aes192-cbc,aes256-cbc,3des-cbc',
  'MACs hmac-sha1,hmac-md5',
  'PubkeyAcceptedAlgorithms ssh-rsa,rsa-sha2-256,rsa-sha2-512',
];

function initScript(labDir: string, name: string, pidfile: string, ports: string, cmd: string, extra = ''): string {
  return `#!/bin/bash
# ${name}: SysV init script of a lab host (chkconfig: 2345 55 25).
NAME=${name}
PIDFILE=${pidfile}
PORTS="${ports}"
CMD=(${cmd})
. ${labDir}/bin/rc-functions.sh
${extra}rc_main "$@"
`;
}

async function write(path: string, text: string, mode = 0o644): Promise<void> {
  await writeFile(path, text, { mode });
  await chmod(path, mode);
}

function nginxConf(keyPath: string): string {
  return `# httpd of a lab host: nginx under the name httpd.
daemon off;
master_process on;
user www-data;
worker_processes 1;
pid /var/run/httpd.pid;
error_log /var/log/httpd/error_log;
events { worker_connections 256; }
http {
  access_log /var/log/httpd/access_log;
  client_body_temp_path /run/httpd/body;
  proxy_temp_path /run/httpd/proxy;
  fastcgi_temp_path /run/httpd/fastcgi;
  uwsgi_temp_path /run/httpd/uwsgi;
  scgi_temp_path /run/httpd/scgi;
  default_type text/html;
  server {
    listen 80;
    listen 443 ssl;
    server_name _;
    ssl_certificate /etc/httpd/server.crt;
    ssl_certificate_key ${keyPath};
    root /etc/httpd/htdocs;
    location / { index index.html; }
  }
}
`;
}

/** Where a host's mail certificate lives (its /etc overlay), when the spec gives one. */
const MAIL_TLS_DIR = '/etc/mail-tls';

function dovecotConf(mailPassword: string, tls: boolean): string {
  return `# POP3 and IMAP of a lab host.
protocols = imap pop3
listen = *
base_dir = /run/dovecot
state_dir = /var/lib/dovecot
log_path = /var/log/dovecot.log
${tls ? `ssl = yes\nssl_cert = <${MAIL_TLS_DIR}/cert.pem\nssl_key = <${MAIL_TLS_DIR}/key.pem\nssl_min_protocol = TLSv1.2` : 'ssl = no'}
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

function eximConf(name: string, tls: boolean): string {
  return `# SMTP of a lab host: mail for the lab's domains goes to :blackhole:.
primary_hostname = ${name}.lab.test
domainlist local_domains = @ : localhost : lab.test : ${name}.lab.test
exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = /var/spool/exim4
log_file_path = /var/log/exim4/%slog
keep_environment =
${tls ? `daemon_smtp_ports = 25 : 465\ntls_on_connect_ports = 465\ntls_advertise_hosts = *\ntls_certificate = ${MAIL_TLS_DIR}/cert.pem\ntls_privatekey = ${MAIL_TLS_DIR}/key.pem` : 'tls_advertise_hosts ='}
host_lookup =
rfc1413_hosts =
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  accept domains = +local_domains
  deny message = relaying denied
begin routers
blackhole:
  driver = redirect
  domains = +local_domains
  allow_defer
  data = :blackhole:
begin transports
begin retry
*   *   F,1h,15m
begin rewrite
begin authenticators
`;
}

function vsftpdConf(hostDir: string): string {
  return `# FTP of a lab host.
listen=YES
listen_ipv6=NO
background=NO
anonymous_enable=YES
anon_root=${hostDir}/ftp
ftp_username=ftp
local_enable=NO
write_enable=NO
secure_chroot_dir=${hostDir}/empty
seccomp_sandbox=NO
xferlog_enable=NO
vsftpd_log_file=/var/log/vsftpd.log
ftpd_banner=(vsFTPd 2.0.5)
`;
}

/**
 * Writes a host's folder: its /etc overlay (passwd, shadow, sudoers.d, init.d, ssh, exim4,
 * httpd, redhat-release), the bind-mounted folders, and makes its host key and certificate.
 */
export async function writeHost(plan: HostPlan, signal?: AbortSignal): Promise<HostKeys> {
  if (initOf(plan.variant) === 'systemd') return writeSystemdHost(plan, SSHD_COMMON, signal);
  if (initOf(plan.variant) === 'rc') return writeFreebsdHost(plan, SSHD_COMMON, signal);
  const { dir, labDir, name, variant } = plan;
  const etc = join(dir, 'etc');
  const dirs = [
    'etc/init.d', 'etc/ssh', 'etc/sudoers.d', 'etc/exim4', 'etc/httpd/htdocs', 'etc-work', 'run', 'log',
    'home', 'usr-local-etc/rc.d', 'var-lib-exim4', 'var-lib-dovecot', 'spool/exim4', 'ftp/pub', 'empty',
  ];
  for (const d of dirs) await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  await chown(join(dir, 'spool/exim4'), 103, 106).catch(() => undefined);

  const [passwd, shadow, group] = await Promise.all(
    ['/etc/passwd', '/etc/shadow', '/etc/group'].map((f) => readFile(f, 'utf8')),
  );
  const eximIds = /^Debian-exim:[^:]*:(\d+):(\d+):/m.exec(passwd ?? '');
  if (eximIds?.[1] && eximIds[2]) await chown(join(dir, 'spool/exim4'), Number(eximIds[1]), Number(eximIds[2]));
  const uid = MANAGEMENT_UID;
  const u = MANAGEMENT_USER;
  const nl = (s: string | undefined): string => (s && !s.endsWith('\n') ? `${s}\n` : (s ?? ''));
  await write(join(etc, 'passwd'), `${nl(passwd)}${u}:x:${uid}:${uid}:mamori management:/home/${u}:/bin/bash\n`);
  // '*' is no password but not a locked account: sshd (UsePAM no) refuses '!' even for keys.
  await write(join(etc, 'shadow'), `${nl(shadow)}${u}:*:20000:0:99999:7:::\n`, 0o640);
  await write(join(etc, 'group'), `${nl(group)}${u}:x:${uid}:\n`);
  // EL 6 and later: a real postfix (Debian's, unpacked: mta.ts), laid over /usr/lib and /usr/sbin
  // inside the host at boot; its user, configuration and queue are the host's.
  const postfix = variant === 'el6' ? postfixTree() : undefined;
  if (postfix !== undefined) {
    await write(join(etc, 'passwd'), `${nl(passwd)}${u}:x:${uid}:${uid}:mamori management:/home/${u}:/bin/bash\n${POSTFIX_PASSWD}`);
    await write(join(etc, 'shadow'), `${nl(shadow)}${u}:*:20000:0:99999:7:::\n${POSTFIX_SHADOW}`, 0o640);
    await write(join(etc, 'group'), `${nl(group)}${u}:x:${uid}:\n${POSTFIX_GROUP}`);
    await mkdir(join(etc, 'postfix'), { recursive: true });
    await runOk('cp', ['-a', `${postfix}/etc/postfix/.`, join(etc, 'postfix')], { signal });
    await writePostfixConf(join(etc, 'postfix'), name);
    await makePostfixQueue(join(dir, 'spool'));
  }
  // EL 5 (the el5 variant): a real sendmail (Debian's, unpacked: mta.ts), laid over /usr/libexec
  // and /usr/sbin inside the host at boot; /etc/mail and the queue are the host's.
  const sendmail = variant === 'el5' ? sendmailTree() : undefined;
  if (sendmail !== undefined) await writeSendmailConf(etc, join(dir, 'spool'), name, signal);
  await write(join(etc, 'sudoers.d', u), `${u} ALL=(ALL) NOPASSWD: ALL\n`, 0o440);
  await write(join(etc, 'hostname'), `${name}\n`);
  const hosts = plan.fleet.map((h) => `${h.address} ${h.name}.lab.test ${h.name}`).join('\n');
  await write(
    join(etc, 'hosts'),
    `127.0.0.1 localhost\n${plan.address} ${name}.lab.test ${name}\n${plan.gateway} mamori gateway\n${hosts}\n`,
  );
  // No nameserver: lookups fail at once on the host's own loopback instead of hanging.
  await write(join(etc, 'resolv.conf'), 'options timeout:1 attempts:1\n');
  await write(join(etc, 'redhat-release'), `${releaseOf(variant)}\n`);
  // telnet from xinetd, as on CentOS 4-6. The lab's xinetd is inetutils-inetd under that
  // name, so its configuration is in inetd.conf syntax, not xinetd's.
  await write(
    join(etc, 'xinetd.conf'),
    '# The lab\'s xinetd is inetutils-inetd: inetd.conf syntax.\ntelnet stream tcp nowait root /usr/sbin/telnetd telnetd\n',
  );
  // inetd exists only for the seed's FreeBSD `killall -HUP inetd`: echo on loopback, which
  // nothing outside the host reaches, so a HUP has something to re-read (and logs REDO).
  await write(
    join(etc, 'inetd.conf'),
    '# Not telnet (xinetd serves it): a loopback echo, so a HUP has something to re-read.\n127.0.0.1:echo stream tcp nowait root internal\n',
  );
  await write(join(etc, 'vsftpd.conf'), vsftpdConf(dir));
  const mailPassword = randomBytes(12).toString('hex');
  const mailTls = plan.mailTls;
  if (mailTls !== undefined) {
    await mkdir(join(etc, 'mail-tls'), { recursive: true, mode: 0o755 });
    await write(join(etc, 'mail-tls', 'cert.pem'), mailTls.cert, 0o644);
    // Readable by exim's own user, which loads it at each STARTTLS: a test key, made for this run.
    await write(join(etc, 'mail-tls', 'key.pem'), mailTls.key, 0o644);
  }
  await write(join(etc, 'dovecot.conf'), dovecotConf(mailPassword, mailTls !== undefined), 0o640);
  await write(join(etc, 'exim4', 'exim4.conf'), eximConf(name, mailTls !== undefined));
  await write(join(etc, 'httpd', 'htdocs', 'index.html'), `<html><body>${name} (lab)</body></html>\n`);
  await write(join(dir, 'ftp', 'pub', 'README'), `${name}\n`);

  const home = join(dir, 'home', u);
  await mkdir(join(home, '.ssh'), { recursive: true });
  await write(join(home, '.ssh', 'authorized_keys'), plan.authorizedKeys, 0o600);
  await chown(home, uid, uid);
  await chmod(home, 0o750);
  await chown(join(home, '.ssh'), uid, uid);
  await chmod(join(home, '.ssh'), 0o700);
  await chown(join(home, '.ssh', 'authorized_keys'), uid, uid);

  // Host key and certificate, made now.
  const legacy = variant === 'legacy-ssh';
  const keyFile = join(etc, 'ssh', legacy ? 'ssh_host_rsa_key' : 'ssh_host_ed25519_key');
  const keygen = legacy
    ? ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', `root@${name}`, '-f', keyFile]
    : ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${name}`, '-f', keyFile];
  const passphrase = variant === 'passphrase' ? randomBytes(9).toString('base64url') : undefined;
  // The pass-phrase host runs a real Apache with its key encrypted, at EL's paths; the others
  // nginx under httpd's name (the probe figures stay comparable).
  const crt = join(etc, passphrase ? 'pki/tls/certs/localhost.crt' : 'httpd/server.crt');
  const key = join(etc, passphrase ? 'pki/tls/private/localhost.key.plain' : 'httpd/server.key');
  if (passphrase) {
    for (const d of ['pki/tls/certs', 'pki/tls/private', 'httpd/conf']) await mkdir(join(etc, d), { recursive: true, mode: 0o755 });
  }
  await Promise.all([
    runOk('ssh-keygen', keygen, { signal }),
    runOk('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', `/CN=${name}.lab.test`, '-addext', `subjectAltName=DNS:${name}.lab.test,IP:${plan.address}`,
      '-keyout', key, '-out', crt,
    ], { signal }),
  ]);
  if (passphrase) {
    const pf = join(etc, 'httpd', 'boot-passphrase');
    await write(pf, passphrase, 0o600);
    const encrypted = join(etc, 'pki/tls/private/localhost.key');
    await runOk('openssl', ['pkey', '-in', key, '-aes256', '-passout', `file:${pf}`, '-out', encrypted], { signal });
    await runOk('rm', ['-f', key], { signal });
    await chmod(encrypted, 0o600);
    await write(join(dir, 'ssl-passphrase'), passphrase, 0o600);
    // First boot only (init has no terminal): the phrase given at installation, through an exec: dialog.
    await write(join(etc, 'httpd', 'boot-pass-dialog'), '#!/bin/sh\n# First boot only: the pass phrase given at installation (init removes it once booted).\nexec cat /etc/httpd/boot-passphrase\n', 0o755);
    await write(join(etc, 'httpd', 'conf', 'httpd.conf'), apacheConf({
      name, dialog: 'builtin', pidFile: '/var/run/httpd.pid', runtimeDir: '/run/httpd', logDir: '/var/log/httpd', docRoot: '/etc/httpd/htdocs',
      crt: '/etc/pki/tls/certs/localhost.crt', key: '/etc/pki/tls/private/localhost.key', user: 'www-data',
    }).replace('SSLPassPhraseDialog builtin', '<IfDefine LAB_BOOT>\n  SSLPassPhraseDialog exec:/etc/httpd/boot-pass-dialog\n</IfDefine>\n<IfDefine !LAB_BOOT>\n  SSLPassPhraseDialog builtin\n</IfDefine>'));
  } else {
    await chmod(key, 0o600);
    await write(join(etc, 'httpd', 'httpd.conf'), nginxConf('/etc/httpd/server.key'));
  }
  await write(
    join(etc, 'ssh', 'sshd_config'),
    [...SSHD_COMMON, ...(legacy ? SSHD_LEGACY : [`HostKey ${keyFile.replace(etc, '/etc')}`]), ''].join('\n'),
  );

  // The seed's service paths.
  const initd = join(etc, 'init.d');
  const scripts: Record<string, string> = {
    sshd: initScript(labDir, 'sshd', '/var/run/sshd.pid', '22', '/usr/sbin/sshd -D -f /etc/ssh/sshd_config -E /var/log/secure'),
    httpd: passphrase
      ? initScript(labDir, 'httpd', '/var/run/httpd.pid', '80 443', `${labDir}/sbin/apache/httpd`, `. ${labDir}/bin/apache-httpd.sh\n`)
      : initScript(labDir, 'httpd', '/var/run/httpd.pid', '80 443', `${labDir}/sbin/httpd -c /etc/httpd/httpd.conf`),
    vsftpd: initScript(labDir, 'vsftpd', '/var/run/vsftpd.pid', '21', '/usr/sbin/vsftpd /etc/vsftpd.conf'),
    dovecot: initScript(labDir, 'dovecot', '/var/run/dovecot.pid', '110 143', '/usr/sbin/dovecot -F -c /etc/dovecot.conf'),
    ...(postfix
      // EL 6's MTA: postfix's master in the foreground (-d), as init's other daemons.
      ? { postfix: initScript(labDir, 'postfix', '/var/run/postfix.pid', '25', '/usr/lib/postfix/sbin/master -d') }
      : sendmail
        // EL 5's sendmail, in the foreground (-bD) as init's other daemons.
        ? { sendmail: initScript(labDir, 'sendmail', '/var/run/sendmail.pid', '25', '/usr/sbin/sendmail -bD -q30m') }
        : { sendmail: initScript(labDir, 'sendmail', '/var/run/sendmail.pid', '25', '/usr/sbin/sendmail -bdf -q30m -oP /run/exim4.pid') }),
    xinetd: initScript(labDir, 'xinetd', '/var/run/xinetd.pid', '23', `${labDir}/sbin/xinetd -d -p/run/xinetd.d.pid /etc/xinetd.conf`),
    inetd: initScript(labDir, 'inetd', '/var/run/inetd.pid', '7', `${labDir}/sbin/inetd -d -p/run/inetd.d.pid /etc/inetd.conf`),
  };
  for (const [s, text] of Object.entries(scripts)) await write(join(initd, s), text, 0o755);
  const rcd = join(dir, 'usr-local-etc', 'rc.d');
  await write(join(rcd, 'apache22.sh'), '#!/bin/sh\n# The FreeBSD path of the seed: the same httpd.\nexec /etc/init.d/httpd "$@"\n', 0o755);
  await symlink('apache22.sh', join(rcd, 'apache22')).catch(() => undefined);

  await write(
    join(dir, 'host.env'),
    `LAB_DIR=${labDir}\nLAB_HOST=${name}\nLAB_NETNS=${plan.netns}\nLAB_VARIANT=${variant}\nLAB_GATEWAY=${plan.gateway}\n${process.env.MAMORI_LAB_ETC === 'copy' ? 'LAB_ETC=copy\n' : ''}` +
      `LAB_SERVICES="${servicesOf(variant).join(' ')}"\n` +
      (postfix !== undefined ? `LAB_LAYERS="/usr/lib=${postfix}/usr/lib /usr/sbin=${postfix}/usr/sbin"\n` : '') +
      (sendmail !== undefined ? `LAB_LAYERS="/usr/libexec=${sendmail}/usr/libexec /usr/sbin=${sendmail}/usr/sbin"\n` : ''),
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

/** Copies the shell assets and makes the daemon-name links every host uses. */
export async function writeLabBin(labDir: string, assetsDir: string): Promise<void> {
  await mkdir(join(labDir, 'bin'), { recursive: true, mode: 0o755 });
  await mkdir(join(labDir, 'sbin'), { recursive: true, mode: 0o755 });
  for (const f of ['init.sh', 'power.sh', 'chassis.sh', 'console.sh', 'rc-functions.sh', 'apache-httpd.sh']) {
    await copyFile(join(assetsDir, f), join(labDir, 'bin', f));
    await chmod(join(labDir, 'bin', f), 0o755);
  }
  // A process is named after the file it was started as: ps and killall see httpd, xinetd
  // and inetd (two names of one binary: `killall inetd` and `pgrep -x inetd` miss xinetd).
  await symlink('/usr/sbin/nginx', join(labDir, 'sbin', 'httpd'));
  // The pass-phrase host's real Apache, also named httpd.
  await mkdir(join(labDir, 'sbin', 'apache'), { recursive: true, mode: 0o755 });
  await symlink('/usr/sbin/apache2', join(labDir, 'sbin', 'apache', 'httpd'));
  await symlink('/usr/sbin/inetutils-inetd', join(labDir, 'sbin', 'xinetd'));
  await symlink('/usr/sbin/inetutils-inetd', join(labDir, 'sbin', 'inetd'));
  // PID 1 of a host shows as init in ps.
  await symlink('/bin/bash', join(labDir, 'sbin', 'init'));
}
