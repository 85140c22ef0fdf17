/**
 * Real MTAs for lab hosts that Debian cannot install side by side: its MTA packages conflict
 * (`Conflicts: mail-transport-agent`, exim4 stays installed for today's hosts and the bench), so
 * scripts/install-deps.sh fetches each with `apt-get download` and unpacks it with `dpkg-deb -x`
 * into a tree of its own under MTA_ROOT. A host that runs one lays the tree's files at their
 * real paths inside the host only: copied into a systemd host's own disk, or laid over the
 * machine's folders (read-only overlays) in a SysV host's mount namespace.
 *
 * sendmail: EL 5's MTA (the daemon `sendmail`, the queue in /var/spool/mqueue, its sendmail.cf
 * built with m4 from the package's own macros).
 * postfix: EL 6 and later's MTA (`master`, the queue in /var/spool/postfix, `postfix start|stop`).
 */
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './run.ts';

/** Where install-deps.sh unpacks the MTA trees (outside any checkout: CI may clone under /root, 0700). */
export const MTA_ROOT = process.env.MAMORI_LAB_MTA_ROOT ?? '/var/lib/mamori-lab/mta';

/** The postfix user and the postdrop group inside a host (not the machine's: postfix is not installed there). */
export const POSTFIX_UID = 4240;
export const POSTFIX_GID = 4240;
export const POSTDROP_GID = 4241;

/** The unpacked postfix package; throws saying how to get it when it is missing. */
export function postfixTree(): string {
  const tree = join(MTA_ROOT, 'postfix');
  if (!existsSync(join(tree, 'usr/lib/postfix/sbin/master'))) {
    throw new Error(`lab: postfix is not unpacked in ${tree} (run scripts/install-deps.sh: it fetches Debian's postfix with apt-get download and unpacks it there)`);
  }
  return tree;
}

/** The unpacked sendmail packages (sendmail-bin, -base, -cf); throws saying how to get them when missing. */
export function sendmailTree(): string {
  const tree = join(MTA_ROOT, 'sendmail');
  if (!existsSync(join(tree, 'usr/libexec/sendmail/sendmail')) || !existsSync(join(tree, 'usr/share/sendmail/cf/m4/cf.m4'))) {
    throw new Error(`lab: sendmail is not unpacked in ${tree} (run scripts/install-deps.sh: it fetches Debian's sendmail-bin, sendmail-base and sendmail-cf with apt-get download and unpacks them there)`);
  }
  return tree;
}

/**
 * The sendmail.mc of an EL 5 lab host, for m4 with the tree's macros: a daemon on 25 that
 * accepts mail for the lab's domains and discards it (the local mailer is /bin/true), never
 * waits on DNS or ident (the lab has neither), keeps its own pid file beside the one init
 * writes, and does not refuse connections for the load average (sendmail's default refuses
 * at 12 per CPU, which a loaded 2-core test machine reaches).
 */
export function sendmailMc(tree: string, name: string): string {
  return `divert(-1)dnl
# sendmail of a lab host (EL 5): mail for the lab's domains is accepted and discarded.
divert(0)dnl
include(\`${tree}/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(\`mamori lab ${name}')dnl
OSTYPE(\`linux')dnl
define(\`LOCAL_MAILER_PATH', \`/bin/true')dnl
define(\`LOCAL_MAILER_ARGS', \`true $u')dnl
define(\`confDOMAIN_NAME', \`${name}.lab.test')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confPID_FILE', \`/var/run/sendmail.mta.pid')dnl
define(\`confSERVICE_SWITCH_FILE', \`/etc/mail/service.switch')dnl
define(\`ALIAS_FILE', \`/etc/aliases')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confPRIVACY_FLAGS', \`goaway')dnl
define(\`confLOG_LEVEL', \`9')dnl
define(\`confREFUSE_LA', \`1000')dnl
define(\`confQUEUE_LA', \`1000')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
LOCAL_DOMAIN(\`lab.test')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA, Port=smtp')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
`;
}

/**
 * Writes /etc/mail (sendmail.cf from m4, the host names it answers for, a service switch of
 * files only) and the aliases map, and makes the queue: /var/spool/mqueue, root's and 0700, as
 * sendmail insists.
 */
export async function writeSendmailConf(etc: string, spool: string, name: string, signal?: AbortSignal): Promise<void> {
  const tree = sendmailTree();
  const mail = join(etc, 'mail');
  await mkdir(mail, { recursive: true, mode: 0o755 });
  await writeFile(join(mail, 'sendmail.mc'), sendmailMc(tree, name), { mode: 0o644 });
  const cf = await run('m4', [join(mail, 'sendmail.mc')], { signal, timeoutMs: 30_000 });
  if (cf.code !== 0 || !cf.stdout.includes('DaemonPortOptions')) throw new Error(`lab: m4 could not build sendmail.cf for ${name}: ${cf.stderr.trim()}`);
  await writeFile(join(mail, 'sendmail.cf'), cf.stdout, { mode: 0o644 });
  await writeFile(join(mail, 'local-host-names'), `${name}.lab.test\nlab.test\n`, { mode: 0o644 });
  await writeFile(join(mail, 'service.switch'), 'hosts files\naliases files\n', { mode: 0o644 });
  await writeFile(join(etc, 'aliases'), 'postmaster: root\n', { mode: 0o644 });
  const queue = join(spool, 'mqueue');
  await mkdir(queue, { recursive: true });
  await chown(queue, 0, 0);
  await chmod(queue, 0o700);
}

export function postfixMainCf(name: string): string {
  return `# postfix of a lab host: mail for the lab's domains is accepted and discarded.
compatibility_level = 3.6
myhostname = ${name}.lab.test
mydomain = lab.test
myorigin = $myhostname
mydestination = $myhostname, localhost, lab.test
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP Postfix
local_recipient_maps =
local_transport = discard:lab
alias_maps =
alias_database =
biff = no
queue_directory = /var/spool/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
data_directory = /var/spool/postfix-data
mail_owner = postfix
setgid_group = postdrop
maillog_file = /var/log/maillog
smtputf8_enable = no
`;
}

/** Debian's master.cf, without chroots (the lab builds none) and the pipe transports. */
export const POSTFIX_MASTER_CF = `# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/** The queue's folders and their owners, as `postfix set-permissions` leaves them. */
const QUEUE: ReadonlyArray<[string, number, number, number]> = [
  ['', 0, 0, 0o755],
  ['pid', 0, 0, 0o755],
  ['public', POSTFIX_UID, POSTDROP_GID, 0o710],
  ['maildrop', POSTFIX_UID, POSTDROP_GID, 0o730],
  ...['active', 'bounce', 'corrupt', 'defer', 'deferred', 'flush', 'hold', 'incoming', 'private', 'saved', 'trace'].map(
    (d): [string, number, number, number] => [d, POSTFIX_UID, 0, 0o700],
  ),
];

/** Makes the queue under `spool` (the host's /var/spool) and the data folder beside it. */
export async function makePostfixQueue(spool: string): Promise<void> {
  for (const [d, uid, gid, mode] of QUEUE) {
    const p = join(spool, 'postfix', d);
    await mkdir(p, { recursive: true });
    await chown(p, uid, gid);
    await chmod(p, mode);
  }
  const data = join(spool, 'postfix-data');
  await mkdir(data, { recursive: true });
  await chown(data, POSTFIX_UID, POSTFIX_GID);
  await chmod(data, 0o700);
}

/** The passwd/group lines of postfix's user and groups. */
export const POSTFIX_PASSWD = `postfix:x:${POSTFIX_UID}:${POSTFIX_GID}:Postfix:/var/spool/postfix:/usr/sbin/nologin\n`;
export const POSTFIX_SHADOW = 'postfix:*:20000:0:99999:7:::\n';
export const POSTFIX_GROUP = `postfix:x:${POSTFIX_GID}:\npostdrop:x:${POSTDROP_GID}:\n`;

/** Writes main.cf and master.cf into an /etc/postfix folder. */
export async function writePostfixConf(etcPostfix: string, name: string): Promise<void> {
  await mkdir(etcPostfix, { recursive: true });
  await writeFile(join(etcPostfix, 'main.cf'), postfixMainCf(name), { mode: 0o644 });
  await writeFile(join(etcPostfix, 'master.cf'), POSTFIX_MASTER_CF, { mode: 0o644 });
}
