/**
 * What a service is when nothing more specific is said: its standard port and the
 * daemon that usually serves it (the seed's RHEL/CentOS daemons). A runbook's
 * spec.process and a server's service option `process` override the daemon.
 */
import type { ServiceName } from '../manifest/types.ts';

export const DEFAULT_PORT: Record<ServiceName, number | undefined> = {
  ping: undefined,
  http: 80,
  https: 443,
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  pop3: 110,
  imap: 143,
};

export const DEFAULT_PROCESS: Record<ServiceName, string | undefined> = {
  ping: undefined,
  http: 'httpd',
  https: 'httpd',
  ftp: 'vsftpd',
  ssh: 'sshd',
  telnet: 'inetd',
  smtp: 'sendmail',
  pop3: 'dovecot',
  imap: 'dovecot',
};
