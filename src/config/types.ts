/**
 * The daemon's configuration after loading: every default filled in, every path
 * absolute, frozen. Its fields are the schema's (schemas/config.schema.json, types
 * in src/manifest/generated/config.ts) with nothing left optional that has a default.
 */
import type { AutoIntervalBudget } from './auto-interval.ts';
import type {
  AccessToken,
  Alertmanager,
  Cluster,
  ConsolePowerProfile,
  Flapping,
  Folder,
  GitRepository,
  HeldRevisions,
  Level,
  MassFailure,
  Probing,
  ReadinessCheck,
  RemediationLimits,
  SMTP,
  StatusWriteBack,
} from '../manifest/generated/config.ts';

export type { ConsolePowerProfile };

export interface SecretRef {
  secretRef: string;
}

/** One webhook endpoint, defaults filled in (config alerting.webhooks[]). Secrets by reference only. */
export interface WebhookEndpointConfig {
  name: string;
  url?: string;
  urlSecret?: SecretRef;
  secret: SecretRef;
  events: string[];
  timeoutSeconds: number;
  retry: { initialSeconds: number; maxSeconds: number; giveUpHours: number };
}

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** One signer's keys; keyring paths absolute, fingerprints upper-case without spaces. */
export interface SignerConfig {
  ssh: string[];
  openpgp: Array<{ fingerprint: string; key?: string; keyring?: string }>;
}

/** signing: names as written (groups are expanded by src/source/signer-policy.ts). */
export interface SigningConfig {
  signers: Record<string, SignerConfig>;
  groups: Record<string, string[]>;
  /** undefined: the rules of the allowedSigners form (customers any signer, operator/** operatorSigners). */
  paths: Array<{ glob: string; signers: string[] }> | undefined;
  since?: string;
  /** An ssh-keygen allowed_signers file (absolute): each principal a signer. */
  allowedSigners?: string;
  operatorSigners: string[];
}

export type FolderSourceConfig = Required<Folder>;
export type GitSourceConfig = Required<Omit<GitRepository, 'credentials'>> & { credentials?: SecretRef };

export interface MamoriConfigShape {
  /** The file it was read from; undefined for the embedded defaults. */
  configFile: string | undefined;
  /** Relative paths in the file are taken from here: the file's folder, else the working directory. */
  baseDir: string;
  /** source.path (folder) and source.cacheDir (git) are absolute. */
  source: FolderSourceConfig | GitSourceConfig;
  /** An explicit operator folder (absolute), or undefined: the manifests' operator/, else mamori's own. */
  operatorDir: string | undefined;
  stateDir: string;
  secretsDir: string;
  managementNetworks: string[];
  targetNetworks: string[];
  sourceAddress: string | undefined;
  /**
   * `intervalSeconds` is always a number here: with `auto` it is the interval for no servers (the
   * politeness floor) until the daemon computes the fleet's; `auto` is then the budget, filled.
   */
  probe: Required<Omit<Probing, 'intervalSeconds' | 'auto'>> & { intervalSeconds: number; auto?: AutoIntervalBudget & { explicitPowerWaitSeconds?: number } };
  remediation: Required<Omit<RemediationLimits, 'flapping'>> & { flapping: Required<Flapping> };
  massFailure: Required<MassFailure>;
  /**
   * Vantage points (README: vantage points); undefined without `vantages:` — one vantage, today's
   * rules. `self` is the daemon's own network; each agent reports with its token.
   */
  vantages: VantagesConfig | undefined;
  consoleProfiles: Record<string, ConsolePowerProfile>;
  /**
   * `token` is the operator's (kept for older configs); `tokens` every scoped one (src/http/scope.ts).
   * `socket` is absolute (`<stateDir>/mamori.sock` by default).
   */
  http: {
    listen: string;
    token?: SecretRef;
    tokens: AccessToken[];
    publicHosts: string[];
    socket: string;
    socketMode: '0600' | '0660';
    webhookSecret?: SecretRef;
    /** HTTPS on `listen` (paths absolute); the files are re-read while running (src/http/tls-files.ts). */
    tls?: { certFile: string; keyFile: string };
  };
  mail: {
    from: string;
    operator?: string;
    /** The sender's display name (mamori). */
    fromName: string;
    replyTo?: string;
    /** Per language; a language not given falls back to the built-in name. */
    providerName: { ja?: string; en?: string };
    /** IANA zone of every time in mails, on the page, and of report months (Asia/Tokyo). */
    timeZone: string;
    smtp?: Required<Omit<SMTP, 'auth'>> & { auth?: SecretRef };
    maxPerServerPerHour: number;
  };
  /** Off unless configured. */
  signing: SigningConfig | undefined;
  /** Off unless configured. */
  statusWriteBack: Required<StatusWriteBack> | undefined;
  holds: Required<HeldRevisions>;
  readiness: Required<ReadinessCheck>;
  /** Certificate policy; caFiles absolute. */
  tls: { warningDays: number[]; caFiles: string[]; systemRoots: boolean };
  /** Off unless configured. */
  alerting: { alertmanager?: Required<Alertmanager>; webhooks: WebhookEndpointConfig[] };
  /** Replicas on etcd; off (mamori alone) unless configured. The replica defaults to the host name. */
  cluster: Required<Cluster> | undefined;
  log: { level: Level; pretty: boolean | undefined };
}

export interface VantagesConfig {
  self: { name: string; network: string };
  agents: Array<{ name: string; network: string; token: SecretRef }>;
  quorum: { power: number; freshSeconds: number; maxSkewSeconds: number; manyServers: number };
}

export type MamoriConfig = DeepReadonly<MamoriConfigShape>;
