/** The lab's public types: what tests, benchmarks and the demo see of a running lab. */

/**
 * standard: the seed-era CentOS 5 server. passphrase: its httpd start asks the SSL key's pass
 * phrase on the terminal. legacy-ssh: its sshd offers only OpenSSH 4.x-era algorithms and an RSA
 * host key. firewall: iptables in the host drops the management network (the gateway) on the
 * service ports, but not on 22 and not ICMP. el7, el8, el9: a real systemd as PID 1
 * (systemd-nspawn) with EL's unit names and a real Apache; el7's SSL key is encrypted and
 * `systemctl restart httpd` asks its pass phrase through systemd's password agent.
 * el5: the CentOS 5 server with a real sendmail (Debian's, unpacked: mta.ts) where standard
 * runs exim under sendmail's name (kept for today's tests and the bench).
 * el6: a CentOS 6 SysV host whose MTA is a real postfix (EL 6 made it the default), as the
 * systemd hosts'. freebsd6, freebsd7, freebsd13: FreeBSD's conventions emulated in a Linux namespace (rc.d
 * scripts, rc.conf, inetd, service(8) on 13, `uname -s` FreeBSD; freebsd-host.ts): 6.4 and 7.4
 * run their mail from inetd, 13.2 runs sendmail and dovecot as daemons.
 */
export type LabVariant = 'standard' | 'passphrase' | 'legacy-ssh' | 'firewall' | 'el5' | 'el6' | 'el7' | 'el8' | 'el9' | 'freebsd6' | 'freebsd7' | 'freebsd13';

export const LAB_VARIANTS: readonly LabVariant[] = ['standard', 'passphrase', 'legacy-ssh', 'firewall', 'el5', 'el6', 'el7', 'el8', 'el9', 'freebsd6', 'freebsd7', 'freebsd13'];

/** sysv: EL's /etc/init.d; systemd: a real systemd; rc: FreeBSD's /etc/rc.d and rc.conf. */
export type InitSystem = 'sysv' | 'systemd' | 'rc';

export function initOf(variant: LabVariant): InitSystem {
  if (variant === 'el7' || variant === 'el8' || variant === 'el9') return 'systemd';
  return isFreebsd(variant) ? 'rc' : 'sysv';
}

export function isFreebsd(variant: LabVariant): boolean {
  return variant === 'freebsd6' || variant === 'freebsd7' || variant === 'freebsd13';
}

/** What `uname -r` says on a FreeBSD-like host (undefined on the Linux ones). */
export function freebsdRelease(variant: LabVariant): string | undefined {
  switch (variant) {
    case 'freebsd6':
      return '6.4-RELEASE';
    case 'freebsd7':
      return '7.4-RELEASE';
    case 'freebsd13':
      return '13.2-RELEASE';
    default:
      return undefined;
  }
}

/**
 * The OS line of a host: its /etc/redhat-release, or `FreeBSD <uname -r>` (what mamori's OS
 * check reads and shows).
 */
export function releaseOf(variant: LabVariant): string {
  const bsd = freebsdRelease(variant);
  if (bsd !== undefined) return `FreeBSD ${bsd}`;
  switch (variant) {
    case 'el6':
      return 'CentOS release 6.10 (Final)';
    case 'el7':
      return 'CentOS Linux release 7.9.2009 (Core)';
    case 'el8':
      return 'CentOS Linux release 8.5.2111';
    case 'el9':
      return 'CentOS Stream release 9';
    default:
      return 'CentOS release 5.11 (Final)';
  }
}

/** Hosts whose SSL key is encrypted with a pass phrase (LabHost.sslPassphrase). */
export function hasSslPassphrase(variant: LabVariant): boolean {
  return variant === 'passphrase' || variant === 'el7';
}

/**
 * The daemons of a lab host, by the names ps shows (SysV hosts) or their units (systemd hosts).
 * On SysV hosts telnet is served by xinetd, as on a real CentOS 4-6 (the standard runbooks
 * restart it); inetd runs beside it only so that the seed's FreeBSD command `killall -HUP
 * inetd` has a process to reload, and serves nothing mamori probes. On systemd hosts telnet is
 * telnet.socket (socket-activated, as on EL 7+).
 */
export type LabService = 'sshd' | 'httpd' | 'vsftpd' | 'dovecot' | 'sendmail' | 'postfix' | 'xinetd' | 'inetd' | 'telnet';

export const LAB_SERVICES: readonly LabService[] = ['sshd', 'httpd', 'vsftpd', 'dovecot', 'sendmail', 'postfix', 'xinetd', 'inetd', 'telnet'];

/** What a host of each kind runs (what waitReady waits for by default). */
export function servicesOf(variant: LabVariant): readonly LabService[] {
  if (variant === 'freebsd13') return ['sshd', 'httpd', 'inetd', 'sendmail', 'dovecot'];
  if (isFreebsd(variant)) return ['sshd', 'httpd', 'inetd'];
  if (variant === 'el6') return ['sshd', 'httpd', 'vsftpd', 'dovecot', 'postfix', 'xinetd', 'inetd'];
  return initOf(variant) === 'systemd'
    ? ['sshd', 'httpd', 'vsftpd', 'dovecot', 'postfix', 'telnet']
    : ['sshd', 'httpd', 'vsftpd', 'dovecot', 'sendmail', 'xinetd', 'inetd'];
}

/**
 * The ports a service of a host of this variant listens on. On FreeBSD-like hosts inetd serves
 * ftp and telnet (6.x/7.x: smtp, pop3 and imap too, the seed's mail from inetd).
 */
export function portsOf(variant: LabVariant, service: LabService): readonly number[] {
  if (service === 'inetd' && isFreebsd(variant)) return variant === 'freebsd13' ? [21, 23] : [21, 23, 25, 110, 143];
  return SERVICE_PORTS[service];
}

/** The TCP ports each daemon listens on inside a host. */
export const SERVICE_PORTS: Readonly<Record<LabService, readonly number[]>> = {
  sshd: [22],
  httpd: [80, 443],
  vsftpd: [21],
  dovecot: [110, 143],
  sendmail: [25],
  postfix: [25],
  xinetd: [23],
  // echo on the host's own loopback only: a sign of life for readiness, unreachable from outside.
  inetd: [7],
  telnet: [23],
};

export type PowerAction = 'off' | 'on' | 'status' | 'cycle' | 'reset' | 'soft';
export type PowerState = 'on' | 'off';

/** A certificate (PEM) the test made, for the mail daemons of a host. */
export interface LabMailTls {
  cert: string;
  key: string;
}

export interface LabHostSpec {
  /** Short name, [a-z0-9-], also the host's hostname. */
  name: string;
  variant?: LabVariant;
  /**
   * Mail over TLS with this certificate: exim offers STARTTLS on 25 and TLS on 465, dovecot
   * STLS/STARTTLS on 110/143 and TLS on 995/993. Without it neither offers TLS (STARTTLS is refused).
   */
  mailTls?: LabMailTls;
}

export interface LabBmc {
  host: '127.0.0.1';
  /** UDP port of the host's ipmi_sim (RMCP+): 9000 + id*16 + host index. */
  port: number;
  user: string;
  /** File (0600) holding the BMC password: give it to ipmitool with -f or IPMI_PASSWORD + -E. */
  passwordFile: string;
}

export interface LabHost {
  name: string;
  variant: LabVariant;
  /** The release line mamori's OS check reads ('CentOS Linux release 7.9.2009 (Core)', 'FreeBSD 7.4-RELEASE'). */
  os: string;
  init: InitSystem;
  /** 10.231.<id>.(11 + index) */
  address: string;
  /** Network namespace name: ml<id>-<name>. */
  netns: string;
  /** 'SHA256:...' of the sshd host key made at start (ed25519; RSA for legacy-ssh). */
  hostKeyFingerprint: string;
  /** 'ssh-ed25519' or 'ssh-rsa'. */
  hostKeyAlgorithm: string;
  /** The host key's public line ('ssh-ed25519 AAAA...'): known_hosts is `${address} ${hostPublicKey}`. */
  hostPublicKey: string;
  /** The fixed MAC of the host's eth0. */
  mac: string;
  bmc: LabBmc;
  /** The SSL key's pass phrase (passphrase and el7 variants), generated at start. */
  sslPassphrase?: string;
  /** The host's folder on the machine (its /etc overlay, logs, run files). */
  dir: string;
}

export interface ConsoleResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Lab {
  id: number;
  /** 10.231.<id>.0/24 */
  subnet: string;
  /** 10.231.<id>.1: the machine's address on the lab bridge, so the source of every probe. */
  gateway: string;
  /** The lab's working folder (keys, configs, logs). */
  dir: string;
  /** 'mamori': key login, NOPASSWD sudo on every host. */
  managementUser: string;
  /** Private key (ed25519, OpenSSH format, 0600) of the management user; accepted by all but legacy-ssh hosts. */
  managementKeyPath: string;
  /** Private key (RSA 2048, PEM, 0600) accepted by every host, the legacy-ssh one included. */
  legacyKeyPath: string;
  /** A known_hosts file (0644) with every host's address and host key. */
  knownHostsPath: string;
  hosts: LabHost[];
  host(name: string): LabHost;
  /** Runs `bash -c command` as root inside the host's namespaces (works when sshd is dead). */
  console(name: string, command: string, opts?: { timeoutMs?: number }): Promise<ConsoleResult>;
  /** SIGKILLs the daemon (and its process group) by its pid file, then waits until its ports close. */
  breakService(name: string, service: LabService): Promise<void>;
  /** Through the host's BMC with ipmitool (-I lanplus -C 3 -E), the path mamori uses. */
  power(name: string, action: PowerAction): Promise<PowerState>;
  /** Waits until every daemon of a host listens (after power on, say). */
  waitReady(name: string, opts?: { timeoutMs?: number; services?: readonly LabService[] }): Promise<void>;
  /** Link down: the host stays alive but is off the network. */
  pull(name: string): Promise<void>;
  /** Link up again. */
  plug(name: string): Promise<void>;
  /** The second management network and its vantage point's namespace (a lab started with `secondNetwork`). */
  second?: LabSecondNetwork;
  /**
   * Cuts one management path to a host (`primary`: the lab bridge the machine probes from;
   * `second`: the second network's), or both: iptables inside the host's namespace drops what
   * arrives on that NIC. The host keeps running; `mend` lifts it. Idempotent.
   */
  cut(name: string, path: LabPath | 'both'): Promise<void>;
  mend(name: string, path: LabPath | 'both'): Promise<void>;
  /** True when the host answers ping over that path (from the machine, or from the vantage point's namespace). */
  answers(name: string, path: LabPath): Promise<boolean>;
  /** Tears down everything of this lab: processes by PID, namespaces, bridge, /etc/netns, the folder. */
  stop(): Promise<void>;
}

/** The management networks a lab host is reached by. */
export type LabPath = 'primary' | 'second';

export interface LabSecondNetwork {
  /** 10.232.<id>.0/24 */
  subnet: string;
  /** 10.232.<id>.1: the machine's address on the second bridge (where a vantage point reaches the daemon). */
  gateway: string;
  /** The bridge mlab<id>b. */
  bridge: string;
  /** The vantage point's network namespace (ml<id>-_vantage), run `mamori agent` in it with `ip netns exec`. */
  vantageNetns: string;
  /** 10.232.<id>.2: the vantage point's address, the source of its probes. */
  vantageAddress: string;
  /** Each host's own address on it (its eth1), by host name: 10.232.<id>.(11 + index). */
  hostAddresses: Record<string, string>;
}

export interface StartLabOptions {
  id: number;
  hosts: LabHostSpec[];
  /**
   * A second management network: its own bridge and range (10.232.<id>.0/24) reaching every host
   * on a second NIC, and a namespace for a vantage point on it (LabSecondNetwork).
   */
  secondNetwork?: boolean;
  /** Default: /tmp/mamori-lab/<id>. Emptied at start. */
  dir?: string;
  /** Bound on the whole start; default 60 s. */
  timeoutMs?: number;
}
