/**
 * What a service is when nothing more specific is said: its standard port and the
 * daemon that usually serves it (the seed's RHEL/CentOS daemons). A runbook's
 * spec.process and a server's service option `process` override the daemon.
 */
import type { ServiceName } from '../manifest/types.ts';
import { DEFAULT_PORTS } from '../probe/types.ts';

/** The probe's table (one list of standard ports), with ping's absence of one made explicit. */
export const DEFAULT_PORT: Readonly<Record<ServiceName, number | undefined>> = Object.freeze({ ping: undefined, ...DEFAULT_PORTS });

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
  smtps: 'sendmail',
  pop3s: 'dovecot',
  imaps: 'dovecot',
};
