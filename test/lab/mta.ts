/**
 * Real MTAs for lab hosts that Debian cannot install side by side: its MTA packages conflict
 * (`Conflicts: mail-transport-agent`, exim4 stays installed for today's hosts and the bench), so
 * scripts/install-deps.sh fetches each with `apt-get download` and unpacks it with `dpkg-deb -x`
 * into a tree of its own under MTA_ROOT. A host that runs one lays the tree's files at their
 * real paths inside the host only: copied into a systemd host's own disk, or laid over the
 * machine's folders (read-only overlays) in a SysV host's mount namespace.
 *
 * postfix: EL 6 and later's MTA (`master`, the queue in /var/spool/postfix, `postfix start|stop`).
 */
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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
