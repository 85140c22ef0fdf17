/**
 * Words every layer shares: the services mamori watches and the ways a probe can fail.
 * The bottom of the import graph (it imports nothing), so that notify can word a mail about a
 * service without importing the probes, and probe, manifest and notify agree on one list.
 */

/** The services watched (the seed's nine, then the implicit-TLS mail ports). */
export const SERVICE_NAMES = ['ping', 'http', 'https', 'ftp', 'ssh', 'telnet', 'smtp', 'pop3', 'imap', 'smtps', 'pop3s', 'imaps'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * Why a probe failed. `timeout` carries its phase in ProbeFailure.phase; `unreachable` is
 * EHOSTUNREACH/ENETUNREACH (or ICMP 100 % loss); `protocol` is a peer that answered, but wrongly.
 */
export type FailureKind = 'timeout' | 'refused' | 'reset' | 'unreachable' | 'tls' | 'protocol' | 'error';
