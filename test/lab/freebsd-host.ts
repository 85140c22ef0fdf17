/**
 * A FreeBSD-like lab host (freebsd6, freebsd7, freebsd13). Real FreeBSD cannot run here (no
 * FreeBSD kernel, no VM): the host is a Linux namespace host (init.sh as PID 1, as the SysV
 * ones) that keeps FreeBSD's conventions wherever mamori and its runbooks touch them:
 *
 * - `uname -s` says FreeBSD, `uname -r` the release (6.4-RELEASE, 7.4-RELEASE, 13.2-RELEASE);
 *   13 has `/bin/freebsd-version`. No /etc/redhat-release, no /etc/os-release of Debian's.
 * - Boot is FreeBSD's: `/etc/rc` starts the rc.d scripts of `/etc/rc.d` and
 *   `/usr/local/etc/rc.d` that `/etc/rc.conf` enables (`sshd_enable="YES"`, ...); soft power-off
 *   runs `/etc/rc.shutdown`. The scripts source `/etc/rc.subr` (the lab's POSIX-sh rendering of
 *   FreeBSD's: start/stop/restart/status, the one- and fast- prefixes, "Cannot 'start' x. Set
 *   x_enable to YES", "Waiting for PIDS"), which also notes each start and stop in
 *   /var/log/messages, the lab's stand-in for the console log a test reads.
 * - Ports' rc scripts as each era named them: `/usr/local/etc/rc.d/apache22.sh` (6.x),
 *   `/usr/local/etc/rc.d/apache22` (7.x), `apache24` and `dovecot` (13); `service(8)` on 7.4 and
 *   13 (6.x had none).
 * - inetd is `/usr/sbin/inetd` (inetutils-inetd under that name, FreeBSD's flags accepted,
 *   pid in /var/run/inetd.pid, a HUP re-reads /etc/inetd.conf). It serves ftp and telnet; on
 *   6.x/7.x also smtp (`sendmail -bs`), pop3 and imap (GNU mailutils' pop3d/imap4d in inetd
 *   mode): the seed's "mail from inetd". On 13, sendmail (`-bd`, exim under sendmail's name as
 *   on the standard hosts) and dovecot are daemons with rc scripts.
 * - sshd is `/usr/sbin/sshd`, daemonising, `/var/run/sshd.pid`; httpd is a real Apache
 *   (Debian's 2.4 as `/usr/local/sbin/httpd`, config in `/usr/local/etc/apache2x/httpd.conf`).
 *
 * The FreeBSD tools are laid over /usr/sbin and /usr/bin inside the host's mount namespace
 * (read-only overlays; the machine's own folders are not touched).
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostKeys, HostPlan } from './host-files.ts';
import { MANAGEMENT_UID, MANAGEMENT_USER } from './names.ts';
import { runOk } from './run.ts';
import { apacheConf } from './systemd-host.ts';
import { freebsdRelease, type LabVariant } from './types.ts';

async function write(path: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await rm(path, { force: true });
  await writeFile(path, text, { mode });
  await chmod(path, mode);
}

/** The Apache of each era: its rc script's name and path, and its config folder. */
function apacheOf(variant: LabVariant): { name: string; script: string; confDir: string } {
  if (variant === 'freebsd6') return { name: 'apache22', script: 'apache22.sh', confDir: '/usr/local/etc/apache22' };
  if (variant === 'freebsd7') return { name: 'apache22', script: 'apache22', confDir: '/usr/local/etc/apache22' };
  return { name: 'apache24', script: 'apache24', confDir: '/usr/local/etc/apache24' };
}

/** Mail from inetd (the seed's FreeBSD 6.3-9), or sendmail and dovecot as daemons (10 and later). */
function mailFromInetd(variant: LabVariant): boolean {
  return variant !== 'freebsd13';
}

/** FreeBSD's rc.subr, as much as the lab's scripts use, in POSIX sh. */
export const RC_SUBR = `# /etc/rc.subr of a FreeBSD-like lab host: the part of FreeBSD's rc.subr its rc.d scripts use.
# A script sets name, rcvar, command, command_args, pidfile (procname, required_files,
# sig_stop, extra_commands) and calls run_rc_command "$1". Start and stop are also noted in
# /var/log/messages (the lab's record of what rc did).

load_rc_config() {
	[ -r /etc/defaults/rc.conf ] && . /etc/defaults/rc.conf
	[ -r /etc/rc.conf ] && . /etc/rc.conf
	[ -r /etc/rc.conf.local ] && . /etc/rc.conf.local
	return 0
}

checkyesno() {
	eval _value=\\$\${1}
	case $_value in
	[Yy][Ee][Ss] | [Tt][Rr][Uu][Ee] | [Oo][Nn] | 1) return 0 ;;
	*) return 1 ;;
	esac
}

set_rcvar() {
	echo "\${1:-$name}_enable"
}

# The pid in $1 when the process it names runs as $2 (its command's name).
check_pidfile() {
	_pid=
	[ -r "$1" ] || return 1
	read _pid _rest <"$1" || true
	case $_pid in '' | *[!0-9]*) _pid= ; return 1 ;; esac
	_comm=$(ps -p "$_pid" -o comm= 2>/dev/null | sed 's/^ *//')
	[ "$_comm" = "\${2##*/}" ] || { _pid= ; return 1; }
	echo "$_pid"
}

check_process() {
	pgrep -x "\${1##*/}" | tr '\\n' ' ' | sed 's/ *$//'
}

wait_for_pids() {
	_list="$*"
	[ -n "$_list" ] || return 0
	_prefix=
	_n=0
	while [ -n "$_list" ] && [ $_n -lt 100 ]; do
		_nlist=
		for _p in $_list; do
			kill -0 "$_p" 2>/dev/null && _nlist="$_nlist $_p"
		done
		[ -z "$_nlist" ] && break
		if [ "$_nlist" != "$_list" ] || [ $_n -eq 0 ]; then
			printf '%s' "\${_prefix:-Waiting for PIDS:}$_nlist"
			_prefix=", "
		fi
		_list=$_nlist
		sleep 0.1
		_n=$((_n + 1))
	done
	[ -n "$_prefix" ] && echo "."
	return 0
}

_rc_note() {
	echo "$(date '+%b %e %T') $(hostname -s 2>/dev/null || hostname) rc: $name $1" >>/var/log/messages 2>/dev/null
}

run_rc_command() {
	rc_arg=$1
	_rc_prefix=
	case $rc_arg in
	fast*) _rc_prefix=fast; rc_arg=\${rc_arg#fast} ;;
	force*) _rc_prefix=force; rc_arg=\${rc_arg#force} ;;
	one*) _rc_prefix=one; rc_arg=\${rc_arg#one} ;;
	quiet*) _rc_prefix=quiet; rc_arg=\${rc_arg#quiet} ;;
	esac
	_cmds="start stop restart status rcvar enabled $extra_commands"
	_known=
	for _c in $_cmds; do [ "$_c" = "$rc_arg" ] && _known=1; done
	if [ -z "$_known" ]; then
		echo "Usage: $0 [fast|force|one|quiet]($(echo $_cmds | tr ' ' '|'))" >&2
		return 1
	fi
	if [ "$rc_arg" = rcvar ]; then
		echo "# $name"
		eval _v=\\$$rcvar
		echo "$rcvar=\\"$_v\\""
		return 0
	fi
	if [ -n "$rcvar" ] && [ "$_rc_prefix" != one ] && [ "$_rc_prefix" != force ] && ! checkyesno "$rcvar"; then
		[ "$rc_arg" = enabled ] && return 1
		[ "$_rc_prefix" = fast ] && return 0
		echo "Cannot '$rc_arg' $name. Set $rcvar to YES in /etc/rc.conf or use 'one$rc_arg' instead of '$rc_arg'." >&2
		return 1
	fi
	[ "$rc_arg" = enabled ] && return 0
	eval _flags=\\\${\${name}_flags-}
	_procname=\${procname:-$command}
	if [ -n "$pidfile" ]; then
		rc_pid=$(check_pidfile "$pidfile" "$_procname")
	else
		rc_pid=$(check_process "$_procname")
	fi
	case $rc_arg in
	status)
		if [ -n "$rc_pid" ]; then
			echo "$name is running as pid $rc_pid."
			return 0
		fi
		echo "$name is not running."
		return 1
		;;
	start)
		if [ -n "$rc_pid" ]; then
			[ "$_rc_prefix" = fast ] && return 0
			echo "$name already running? (pid=$rc_pid)."
			return 1
		fi
		for _f in $required_files; do
			if [ ! -r "$_f" ]; then
				echo "$0: WARNING: $_f is not readable." >&2
				return 1
			fi
		done
		_rc_note start
		echo "Starting $name."
		# The daemon's output goes to a file, shown once the command returns: a daemon that keeps
		# its stderr (dovecot's master does) would otherwise hold an SSH session open for good.
		_out=/var/log/rc.$name.out
		# shellcheck disable=SC2086
		$command $_flags $command_args </dev/null >"$_out" 2>&1
		_rc=$?
		cat "$_out"
		return $_rc
		;;
	stop)
		if [ -z "$rc_pid" ]; then
			echo "$name not running? (check \${pidfile:-its process})."
			return 1
		fi
		_rc_note stop
		echo "Stopping $name."
		kill -\${sig_stop:-TERM} $rc_pid
		wait_for_pids $rc_pid
		return 0
		;;
	restart)
		( run_rc_command "\${_rc_prefix}stop" )
		run_rc_command "\${_rc_prefix}start"
		return $?
		;;
	reload)
		if [ -z "$rc_pid" ]; then
			echo "$name not running? (check \${pidfile:-its process})."
			return 1
		fi
		_rc_note reload
		echo "Reloading $name config files."
		kill -\${sig_reload:-HUP} $rc_pid
		return 0
		;;
	esac
}
`;

function rcScript(o: { name: string; rcvar?: string; command: string; args?: string; pidfile?: string; procname?: string; required?: string; extra?: string; require: string; header?: string }): string {
  return `#!/bin/sh
#
# ${o.header ?? `$FreeBSD$`}
#
# PROVIDE: ${o.name}
# REQUIRE: ${o.require}
# KEYWORD: shutdown

. /etc/rc.subr

name="${o.name}"
rcvar="${o.rcvar ?? `${o.name}_enable`}"
command="${o.command}"
${o.args ? `command_args="${o.args}"\n` : ''}${o.pidfile ? `pidfile="${o.pidfile}"\n` : ''}${o.procname ? `procname="${o.procname}"\n` : ''}${o.required ? `required_files="${o.required}"\n` : ''}${o.extra ? `extra_commands="${o.extra}"\n` : ''}
load_rc_config $name
run_rc_command "$1"
`;
}

/** /etc/rc: start every enabled script, base system first, then the ports'. */
function etcRc(local: readonly string[]): string {
  return `#!/bin/sh
# /etc/rc of a FreeBSD-like lab host: the boot's rc scripts (base system, then ports), each
# with "faststart" (a disabled one is skipped quietly), as rcorder would run them here.
PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin
export PATH
echo "Starting services:"
/etc/rc.d/syslogd faststart
for s in /etc/rc.d/sshd /etc/rc.d/inetd /etc/rc.d/sendmail${local.map((l) => ` /usr/local/etc/rc.d/${l}`).join('')}; do
	[ -x "$s" ] && "$s" faststart &
done
wait
`;
}

function etcRcShutdown(local: readonly string[]): string {
  const order = [...local].reverse().map((l) => `/usr/local/etc/rc.d/${l}`).concat(['/etc/rc.d/sendmail', '/etc/rc.d/inetd', '/etc/rc.d/sshd', '/etc/rc.d/syslogd']);
  return `#!/bin/sh
# /etc/rc.shutdown of a FreeBSD-like lab host: the scripts with KEYWORD shutdown, in reverse.
PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin
export PATH
echo "Stopping services:"
for s in ${order.join(' ')}; do
	[ -x "$s" ] && "$s" faststop
done
exit 0
`;
}

function uname(variant: LabVariant, hostname: string): string {
  const release = freebsdRelease(variant) ?? '';
  const ident = `FreeBSD ${release} #0: ${variant === 'freebsd6' ? 'Wed Nov 26 19:26:28 UTC 2008' : variant === 'freebsd7' ? 'Fri Feb 18 01:55:22 UTC 2011' : 'Fri Apr  7 08:30:52 UTC 2023'}     root@build.freebsd.org:/usr/obj/usr/src/sys/GENERIC`;
  return `#!/bin/sh
# uname(1) of a FreeBSD-like lab host: the kernel underneath is Linux; the host says what the
# FreeBSD it stands for would say.
s=; n=; r=; v=; m=; p=; i=; any=
while getopts amnprsviKU o; do
	case $o in
	a) s=1; n=1; r=1; v=1; m=1 ;;
	s) s=1 ;; n) n=1 ;; r) r=1 ;; v) v=1 ;; m) m=1 ;; p) p=1 ;; i) i=1 ;;
	K) echo ${variant === 'freebsd13' ? '1302001' : variant === 'freebsd7' ? '704000' : '604000'}; exit 0 ;;
	U) echo ${variant === 'freebsd13' ? '1302001' : variant === 'freebsd7' ? '704000' : '604000'}; exit 0 ;;
	*) echo "usage: uname [-aiKmnoprsUv]" >&2; exit 1 ;;
	esac
	any=1
done
[ -n "$any" ] || s=1
out=
[ -n "$s" ] && out="$out FreeBSD"
[ -n "$n" ] && out="$out $(cat /proc/sys/kernel/hostname 2>/dev/null || echo ${hostname})"
[ -n "$r" ] && out="$out ${release}"
[ -n "$v" ] && out="$out ${ident}"
[ -n "$m" ] && out="$out amd64"
[ -n "$p" ] && out="$out amd64"
[ -n "$i" ] && out="$out GENERIC"
echo "\${out# }"
`;
}

function freebsdVersion(variant: LabVariant): string {
  const release = `${freebsdRelease(variant) ?? ''}-p4`;
  return `#!/bin/sh
# freebsd-version(1) of a FreeBSD-like lab host (FreeBSD 10 and later have it).
case "$1" in
-k | -r) echo "${release}" ;;
-u | '') echo "${release}" ;;
*) echo "usage: freebsd-version [-kru]" >&2; exit 1 ;;
esac
`;
}

function inetdWrapper(labDir: string): string {
  return `#!/bin/bash
# /usr/sbin/inetd of a FreeBSD-like lab host: inetutils-inetd under the name inetd. FreeBSD's
# flags are accepted (-w/-W TCP wrappers, -C/-c/-R rates, -l logging, -a address: not
# emulated); -p names the pid file (FreeBSD's default /var/run/inetd.pid). It detaches, and a
# HUP re-reads the configuration (/etc/inetd.conf).
pidfile=/var/run/inetd.pid
given="$*"
while getopts dlwWa:c:C:R:s:p: o; do
	case $o in
	p) pidfile=$OPTARG ;;
	'?') echo "usage: inetd [-dlWw] [-a address] [-R rate] [-c maximum] [-C rate] [-p pidfile] [configuration_file]" >&2; exit 1 ;;
	esac
done
shift $((OPTIND - 1))
echo "$(date '+%b %e %T') $(hostname) inetd: starting (/usr/sbin/inetd $given)" >>/var/log/messages 2>/dev/null
exec -a /usr/sbin/inetd ${labDir}/sbin/inetd -p"$pidfile" "\${1:-/etc/inetd.conf}"
`;
}

const SERVICE_8 = `#!/bin/sh
# service(8) of a FreeBSD-like lab host: runs an rc script of /etc/rc.d or /usr/local/etc/rc.d
# with a clean environment, as FreeBSD's does.
usage() {
	echo "usage: service [-j <jail name or id>] -e" >&2
	echo "       service [-j <jail name or id>] -R" >&2
	echo "       service [-j <jail name or id>] [-v] -l | -r" >&2
	echo "       service [-j <jail name or id>] [-v] <rc.d script> start|stop|etc." >&2
	exit 1
}
case "$1" in
-l)
	ls /etc/rc.d /usr/local/etc/rc.d 2>/dev/null | grep -v ':$' | grep . | sort -u
	exit 0
	;;
-e)
	for s in /etc/rc.d/* /usr/local/etc/rc.d/*; do
		[ -x "$s" ] && "$s" enabled 2>/dev/null && echo "$s"
	done
	exit 0
	;;
-*) usage ;;
esac
[ $# -ge 2 ] || usage
script=$1
shift
for dir in /etc/rc.d /usr/local/etc/rc.d; do
	if [ -x "$dir/$script" ]; then
		cd /
		exec env -i HOME=/ PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin "$dir/$script" "$@"
	fi
done
echo "$script does not exist in /etc/rc.d or the local startup" >&2
echo "directories (/usr/local/etc/rc.d), or is not executable" >&2
exit 1
`;

/** FreeBSD's /etc/syslog.conf, the lines that matter here. */
const SYSLOG_CONF = `# /etc/syslog.conf of a FreeBSD-like lab host
*.notice;authpriv.none;kern.debug;lpr.info;mail.crit;news.err\t/var/log/messages
security.*\t\t\t\t\t/var/log/security
auth.info;authpriv.info\t\t\t\t/var/log/auth.log
mail.info\t\t\t\t\t/var/log/maillog
daemon.info\t\t\t\t\t/var/log/daemon.log
`;

function rcConf(variant: LabVariant, plan: HostPlan): string {
  const apache = apacheOf(variant).name;
  const lines = [
    `# /etc/rc.conf of ${plan.name} (lab)`,
    `hostname="${plan.name}.lab.test"`,
    `ifconfig_em0="inet ${plan.address} netmask 255.255.255.0"`,
    `defaultrouter="${plan.gateway}"`,
    'syslogd_enable="YES"',
    'sshd_enable="YES"',
    'inetd_enable="YES"',
    'inetd_flags="-wW"',
    `${apache}_enable="YES"`,
  ];
  if (mailFromInetd(variant)) lines.push('# mail (smtp, pop3, imap) runs from inetd', 'sendmail_enable="NONE"');
  else lines.push('sendmail_enable="YES"', 'dovecot_enable="YES"');
  return `${lines.join('\n')}\n`;
}

function inetdConf(variant: LabVariant): string {
  const lines = [
    '# /etc/inetd.conf of a FreeBSD-like lab host (after a change: killall -HUP inetd)',
    '# ftpd is vsftpd in inetd mode, telnetd inetutils\'; FreeBSD would name /usr/libexec/ftpd and telnetd.',
    'ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/vsftpd\tvsftpd /etc/vsftpd-inetd.conf',
    'telnet\tstream\ttcp\tnowait\troot\t/usr/sbin/telnetd\ttelnetd',
  ];
  if (mailFromInetd(variant)) {
    lines.push(
      'smtp\tstream\ttcp\tnowait\troot\t/usr/sbin/sendmail\tsendmail -bs',
      'pop3\tstream\ttcp\tnowait\troot\t/usr/sbin/pop3d\tpop3d --inetd',
      'imap2\tstream\ttcp\tnowait\troot\t/usr/sbin/imap4d\timap4d --inetd',
    );
  }
  return `${lines.join('\n')}\n`;
}

function vsftpdInetdConf(hostDir: string): string {
  return `# ftpd from inetd of a FreeBSD-like lab host.
listen=NO
listen_ipv6=NO
anonymous_enable=YES
anon_root=${hostDir}/ftp
ftp_username=ftp
local_enable=NO
write_enable=NO
secure_chroot_dir=${hostDir}/empty
seccomp_sandbox=NO
xferlog_enable=NO
ftpd_banner=${'FreeBSD FTP server ready.'}
`;
}

function dovecotConf(mailPassword: string): string {
  return `# POP3 and IMAP of a FreeBSD 13 lab host (dovecot from ports).
protocols = imap pop3
listen = *
base_dir = /var/run/dovecot
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

function eximConf(name: string): string {
  return `# SMTP of a FreeBSD-like lab host (exim under sendmail's name): mail for the lab goes to :blackhole:.
primary_hostname = ${name}.lab.test
domainlist local_domains = @ : localhost : lab.test : ${name}.lab.test
exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = /var/spool/exim4
log_file_path = /var/log/exim4/%slog
keep_environment =
tls_advertise_hosts =
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

/**
 * Writes a FreeBSD-like host's folder: its /etc layer (rc.conf, rc.subr, rc.d, inetd.conf, ssh,
 * mail), /usr/local/etc (the ports' rc scripts and configs), the tools laid over /usr/sbin and
 * /usr/bin, and makes its host key and certificate.
 */
export async function writeFreebsdHost(plan: HostPlan, sshdLines: readonly string[], signal?: AbortSignal): Promise<HostKeys> {
  const { dir, labDir, name, variant } = plan;
  const etc = join(dir, 'etc');
  for (const d of [
    'etc/rc.d', 'etc/ssh', 'etc/sudoers.d', 'etc/exim4', 'etc-work', 'run', 'log', 'home', 'usr-local-etc/rc.d',
    'usr-local-sbin', 'usr-sbin', 'usr-bin', 'var-lib-exim4', 'var-lib-dovecot', 'spool/exim4', 'ftp/pub', 'empty', 'www',
  ]) await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);

  const [passwd, shadow, group] = await Promise.all(['/etc/passwd', '/etc/shadow', '/etc/group'].map((f) => readFile(f, 'utf8')));
  const eximIds = /^Debian-exim:[^:]*:(\d+):(\d+):/m.exec(passwd ?? '');
  if (eximIds?.[1] && eximIds[2]) await chown(join(dir, 'spool/exim4'), Number(eximIds[1]), Number(eximIds[2]));
  const u = MANAGEMENT_USER;
  const uid = MANAGEMENT_UID;
  const nl = (s: string | undefined): string => (s && !s.endsWith('\n') ? `${s}\n` : (s ?? ''));
  // FreeBSD's /bin/sh (an ash, as Debian's dash) as the management user's shell: mamori's
  // commands must not assume bash there.
  await write(join(etc, 'passwd'), `${nl(passwd)}${u}:x:${uid}:${uid}:mamori management:/home/${u}:/bin/sh\n`);
  await write(join(etc, 'shadow'), `${nl(shadow)}${u}:*:20000:0:99999:7:::\n`, 0o640);
  await write(join(etc, 'group'), `${nl(group)}${u}:x:${uid}:\n`);
  await write(join(etc, 'sudoers.d', u), `${u} ALL=(ALL) NOPASSWD: ALL\n`, 0o440);
  await write(join(etc, 'hostname'), `${name}\n`);
  const hosts = plan.fleet.map((h) => `${h.address} ${h.name}.lab.test ${h.name}`).join('\n');
  await write(join(etc, 'hosts'), `127.0.0.1 localhost\n${plan.address} ${name}.lab.test ${name}\n${plan.gateway} mamori gateway\n${hosts}\n`);
  await write(join(etc, 'resolv.conf'), 'options timeout:1 attempts:1\n');
  await write(join(etc, 'rc.conf'), rcConf(variant, plan));
  await write(join(etc, 'rc.subr'), RC_SUBR);
  await write(join(etc, 'inetd.conf'), inetdConf(variant));
  await write(join(etc, 'vsftpd-inetd.conf'), vsftpdInetdConf(dir));
  await write(join(etc, 'exim4', 'exim4.conf'), eximConf(name));
  await write(join(dir, 'ftp', 'pub', 'README'), `${name}\n`);

  const apache = apacheOf(variant);
  const local = [apache.script, ...(mailFromInetd(variant) ? [] : ['dovecot'])];
  await write(join(etc, 'rc'), etcRc(local), 0o755);
  await write(join(etc, 'rc.shutdown'), etcRcShutdown(local), 0o755);
  const rcd = join(etc, 'rc.d');
  // syslogd as FreeBSD's rc starts it: inetutils' at the same path, on the host's own /dev/log
  // (never the kernel's log: that is the machine's).
  await write(join(rcd, 'syslogd'), rcScript({
    name: 'syslogd', command: '/usr/sbin/syslogd', args: '--no-klog --no-forward -P /var/run/syslog.pid', pidfile: '/var/run/syslog.pid', require: 'mountcritremote FILESYSTEMS newsyslog',
  }), 0o755);
  await write(join(etc, 'syslog.conf'), SYSLOG_CONF);
  await write(join(rcd, 'sshd'), rcScript({ name: 'sshd', command: '/usr/sbin/sshd', pidfile: '/var/run/sshd.pid', require: 'LOGIN FILESYSTEMS' }), 0o755);
  await write(join(rcd, 'inetd'), rcScript({
    name: 'inetd', command: '/usr/sbin/inetd', pidfile: '/var/run/inetd.pid', required: '/etc/inetd.conf', extra: 'reload', require: 'DAEMON LOGIN FILESYSTEMS',
  }), 0o755);
  if (!mailFromInetd(variant)) {
    // FreeBSD's is `-L sm-mta -bd -q30m`; exim (under sendmail's name) spells the pid file itself.
    await write(join(rcd, 'sendmail'), rcScript({
      name: 'sendmail', command: '/usr/sbin/sendmail', args: '-bd -q30m -oP /var/run/sendmail.pid', pidfile: '/var/run/sendmail.pid', require: 'LOGIN FILESYSTEMS',
    }), 0o755);
  }
  const lrcd = join(dir, 'usr-local-etc', 'rc.d');
  await write(join(lrcd, apache.script), rcScript({
    name: apache.name, command: '/usr/local/sbin/httpd', args: `-f ${apache.confDir}/httpd.conf -k start`, pidfile: '/var/run/httpd.pid',
    required: `${apache.confDir}/httpd.conf`, require: 'NETWORKING SERVERS', header: `$FreeBSD: ports/www/${apache.name}/files/${apache.name}.in$`,
  }), 0o755);
  if (!mailFromInetd(variant)) {
    await write(join(lrcd, 'dovecot'), rcScript({
      name: 'dovecot', command: '/usr/local/sbin/dovecot', args: '-c /usr/local/etc/dovecot/dovecot.conf', pidfile: '/var/run/dovecot/master.pid',
      required: '/usr/local/etc/dovecot/dovecot.conf', require: 'LOGIN', header: '$FreeBSD: ports/mail/dovecot/files/dovecot.in$',
    }), 0o755);
    await write(join(dir, 'usr-local-etc', 'dovecot', 'dovecot.conf'), dovecotConf(randomBytes(12).toString('hex')), 0o640);
  }

  // The FreeBSD tools, laid over /usr/sbin and /usr/bin (and /bin, its link) inside the host.
  await write(join(dir, 'usr-sbin', 'inetd'), inetdWrapper(labDir), 0o755);
  if (variant === 'freebsd6') {
    // service(8) came with FreeBSD 7.3: on 6.x the name is a whiteout over Debian's.
    await runOk('mknod', [join(dir, 'usr-sbin', 'service'), 'c', '0', '0'], { signal });
  } else {
    await write(join(dir, 'usr-sbin', 'service'), SERVICE_8, 0o755);
  }
  await write(join(dir, 'usr-bin', 'uname'), uname(variant, name), 0o755);
  if (variant === 'freebsd13') {
    await write(join(dir, 'usr-bin', 'freebsd-version'), freebsdVersion(variant), 0o755);
    await write(join(etc, 'os-release'), 'NAME=FreeBSD\nVERSION="13.2-RELEASE"\nVERSION_ID="13.2"\nID=freebsd\nANSI_COLOR="0;31"\nPRETTY_NAME="FreeBSD 13.2-RELEASE"\nCPE_NAME="cpe:/o:freebsd:freebsd:13.2"\n');
  }
  // The ports' daemons in /usr/local/sbin, named as there: ps shows httpd and dovecot.
  await symlink('/usr/sbin/apache2', join(dir, 'usr-local-sbin', 'httpd'));
  if (!mailFromInetd(variant)) await symlink('/usr/sbin/dovecot', join(dir, 'usr-local-sbin', 'dovecot'));

  const home = join(dir, 'home', u);
  await mkdir(join(home, '.ssh'), { recursive: true });
  await write(join(home, '.ssh', 'authorized_keys'), plan.authorizedKeys, 0o600);
  for (const p of [home, join(home, '.ssh'), join(home, '.ssh', 'authorized_keys')]) await chown(p, uid, uid);
  await chmod(home, 0o750);
  await chmod(join(home, '.ssh'), 0o700);

  const keyFile = join(etc, 'ssh', 'ssh_host_ed25519_key');
  const confDir = join(dir, 'usr-local-etc', apache.confDir.replace('/usr/local/etc/', ''));
  await mkdir(join(confDir, 'ssl'), { recursive: true });
  await Promise.all([
    runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${name}`, '-f', keyFile], { signal }),
    runOk('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', `/CN=${name}.lab.test`, '-addext', `subjectAltName=DNS:${name}.lab.test,IP:${plan.address}`,
      '-keyout', join(confDir, 'ssl', 'server.key'), '-out', join(confDir, 'ssl', 'server.crt'),
    ], { signal }),
  ]);
  await chmod(join(confDir, 'ssl', 'server.key'), 0o600);
  await write(join(dir, 'www', 'index.html'), `<html><body>${name} (lab, FreeBSD ${freebsdRelease(variant) ?? ''})</body></html>\n`);
  await write(join(confDir, 'httpd.conf'), apacheConf({
    name, dialog: 'builtin', pidFile: '/var/run/httpd.pid', runtimeDir: '/var/run', logDir: '/var/log', docRoot: `${dir}/www`,
    crt: `${apache.confDir}/ssl/server.crt`, key: `${apache.confDir}/ssl/server.key`, user: 'www-data',
  }).replace('ErrorLog /var/log/error_log', 'ErrorLog /var/log/httpd-error.log').replace('CustomLog /var/log/access_log', 'CustomLog /var/log/httpd-access.log')
    .replace('ServerRoot /etc/httpd', `ServerRoot ${apache.confDir}`));
  await write(join(etc, 'ssh', 'sshd_config'), [...sshdLines, 'HostKey /etc/ssh/ssh_host_ed25519_key', ''].join('\n'));

  await write(
    join(dir, 'host.env'),
    `LAB_DIR=${labDir}\nLAB_HOST=${name}\nLAB_NETNS=${plan.netns}\nLAB_VARIANT=${variant}\nLAB_GATEWAY=${plan.gateway}\nLAB_INIT=rc\n`,
  );

  const pub = (await readFile(`${keyFile}.pub`, 'utf8')).trim();
  const fp = await runOk('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${keyFile}.pub`], { signal });
  const fingerprint = /SHA256:\S+/.exec(fp)?.[0];
  if (!fingerprint) throw new Error(`lab: no fingerprint for ${keyFile}.pub: ${fp}`);
  const [algorithm, body] = pub.split(/\s+/);
  return { hostKeyFingerprint: fingerprint, hostKeyAlgorithm: algorithm ?? '', hostPublicKey: `${algorithm} ${body}` };
}
