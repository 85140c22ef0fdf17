/**
 * The lab: simulated customer servers (network + PID + mount namespaces running real sshd,
 * httpd, vsftpd, dovecot, sendmail, xinetd for telnet and an inetd for the seed's HUP) with a
 * console and an IPMI BMC each.
 * See test/lab/README.md.
 */
export { startLab, attachLab } from './lab.ts';
export { cleanStaleLab } from './clean.ts';
export { FIREWALLED_PORTS } from './network.ts';
export { bmcPort, defaultLabDir, gatewayAddress, hostAddress, netnsName, MAX_HOSTS } from './names.ts';
export { LAB_SERVICES, LAB_VARIANTS, SERVICE_PORTS } from './types.ts';
export type {
  ConsoleResult, Lab, LabBmc, LabHost, LabHostSpec, LabMailTls, LabPath, LabSecondNetwork, LabService, LabVariant, PowerAction, PowerState, StartLabOptions,
} from './types.ts';
