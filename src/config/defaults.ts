/**
 * The embedded defaults: what mamori runs on without a config file.
 *
 * Target networks: without a config, mamori may connect only to places that cannot
 * be a real customer — the loopback, the lab's namespaces (10.231.0.0/16) and the
 * documentation ranges of RFC 5737 / RFC 3849. An operator lists the real customer
 * networks in mamori.yaml; a manifest naming any other address is refused.
 */
export const DEFAULT_MANAGEMENT_NETWORKS = ['210.224.172.0/24', '210.188.224.0/24'] as const;

export const DEFAULT_TARGET_NETWORKS = [
  '127.0.0.0/8',
  '::1/128',
  '10.231.0.0/16',
  '192.0.2.0/24',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '2001:db8::/32',
] as const;

export const CONFIG_DEFAULTS = {
  folderSource: { path: 'manifests', debounceMs: 300 },
  gitSource: { ref: 'main', path: '', pollSeconds: 60, cacheDir: 'git' /* under stateDir */ },
  stateDir: 'state',
  secretsDir: 'secrets',
  probe: { intervalSeconds: 30, timeoutSeconds: 5, retryIntervalSeconds: 1, failuresToDown: 3, jitter: 0.1, concurrency: 512 },
  remediation: {
    concurrency: 4,
    restartsPerServicePerHour: 3,
    powerCyclesPerServerPer6h: 1,
    attemptsPerIncident: 2,
    flapping: { transitions: 6, windowMinutes: 30 },
  },
  massFailure: { minServers: 3, fraction: 0.5, fleetFraction: 0.2, powerActionsPerHour: 10 },
  /** The seed's own channel: a person in the data centre. Replaced whole by a config's consoleProfiles. */
  consoleProfiles: { manual: { driver: 'manual' as const } },
  http: { listen: '127.0.0.1:9750', socket: 'mamori.sock', socketMode: '0600' as const },
  mail: { from: 'mamori@localhost', fromName: 'mamori', timeZone: 'Asia/Tokyo', maxPerServerPerHour: 4 },
  smtp: { port: 587, secure: false, requireTLS: false },
  statusWriteBack: { branch: 'mamori-status', intervalSeconds: 60 },
  holds: { maxRemovedFraction: 0.2, holdRollbacks: true },
  readiness: { enabled: true, intervalHours: 24, concurrency: 4 },
  tls: { warningDays: [30, 7], systemRoots: true },
  log: { level: 'info' as const },
} as const;
