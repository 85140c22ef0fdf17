/**
 * The daemon's config: read → parse (positions) → validate against
 * schemas/config.schema.json → fill defaults → freeze. Without a file, the embedded
 * defaults (defaults.ts). An invalid config is refused whole, with every finding.
 */
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MamoriError } from '../errors.ts';
import type { ConfigDocument, SignedChanges } from '../manifest/generated/config.ts';
import { parseYaml, type PositionIndex } from '../manifest/parse-yaml.ts';
import { targetCheck } from '../manifest/target-networks.ts';
import { schemaSet } from '../manifest/schemas.ts';
import { explainSchemaErrors } from '../manifest/schema-errors.ts';
import { scanInlineSecrets } from '../manifest/secret-scan.ts';
import { MANIFEST_LIMITS } from '../manifest/limits.ts';
import { formatFinding } from '../manifest/format-findings.ts';
import type { Finding } from '../manifest/types.ts';
import { CONFIG_DEFAULTS, DEFAULT_MANAGEMENT_NETWORKS, DEFAULT_TARGET_NETWORKS } from './defaults.ts';
import type { MamoriConfig, MamoriConfigShape, SignerConfig, SigningConfig, VantagesConfig } from './types.ts';
import { WEBHOOK_EVENT_TYPES } from '../notify/webhook-event.ts';
import { AUTO_INTERVAL_DEFAULTS, autoInterval, autoPowerWaitSeconds } from './auto-interval.ts';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** Fill the defaults into a config document that has passed the schema. */
export function resolveConfig(doc: ConfigDocument, baseDir: string, configFile: string | undefined): MamoriConfig {
  const d = CONFIG_DEFAULTS;
  const abs = (p: string): string => resolve(baseDir, p);
  const stateDir = abs(doc.stateDir ?? d.stateDir);
  const { auto: autoDoc, intervalSeconds: interval, ...probeDoc } = doc.probe ?? {};
  const auto = interval === 'auto' ? { ...AUTO_INTERVAL_DEFAULTS, ...autoDoc, ...(doc.remediation?.destructiveWaitSeconds !== undefined ? { explicitPowerWaitSeconds: doc.remediation.destructiveWaitSeconds } : {}) } : undefined;
  const probe = {
    ...d.probe,
    ...probeDoc,
    intervalSeconds: auto !== undefined ? autoInterval(0, auto).seconds : typeof interval === 'number' ? interval : d.probe.intervalSeconds,
    ...(auto !== undefined ? { auto } : {}),
  };
  let source: MamoriConfigShape['source'];
  if (doc.source?.type === 'git') {
    const g = doc.source;
    source = {
      type: 'git',
      url: g.url,
      ref: g.ref ?? d.gitSource.ref,
      path: g.path ?? d.gitSource.path,
      pollSeconds: g.pollSeconds ?? d.gitSource.pollSeconds,
      cacheDir: g.cacheDir !== undefined ? abs(g.cacheDir) : resolve(stateDir, d.gitSource.cacheDir),
      ...(g.credentials ? { credentials: { ...g.credentials } } : {}),
    };
  } else {
    source = {
      type: 'folder',
      path: abs(doc.source?.path ?? d.folderSource.path),
      debounceMs: doc.source?.debounceMs ?? d.folderSource.debounceMs,
    };
  }
  const smtp = doc.mail?.smtp;
  const shape: MamoriConfigShape = {
    configFile,
    baseDir,
    source,
    operatorDir: doc.operatorDir !== undefined ? abs(doc.operatorDir) : undefined,
    stateDir,
    secretsDir: abs(doc.secretsDir ?? d.secretsDir),
    managementNetworks: [...(doc.managementNetworks ?? DEFAULT_MANAGEMENT_NETWORKS)],
    targetNetworks: [...(doc.targetNetworks ?? DEFAULT_TARGET_NETWORKS)],
    sourceAddress: doc.sourceAddress,
    probe,
    remediation: {
      concurrency: doc.remediation?.concurrency ?? d.remediation.concurrency,
      restartsPerServicePerHour: doc.remediation?.restartsPerServicePerHour ?? d.remediation.restartsPerServicePerHour,
      powerCyclesPerServerPer6h: doc.remediation?.powerCyclesPerServerPer6h ?? d.remediation.powerCyclesPerServerPer6h,
      attemptsPerIncident: doc.remediation?.attemptsPerIncident ?? d.remediation.attemptsPerIncident,
      // One probe interval by default: the design's "wait one interval before any destructive action".
      destructiveWaitSeconds: auto !== undefined ? autoPowerWaitSeconds(probe.intervalSeconds, auto, auto.explicitPowerWaitSeconds) : (doc.remediation?.destructiveWaitSeconds ?? probe.intervalSeconds),
      flapping: { ...d.remediation.flapping, ...doc.remediation?.flapping },
    },
    massFailure: {
      ...d.massFailure,
      ...doc.massFailure,
      canaries: (doc.massFailure?.canaries ?? []).map((c) => ({ ...c })),
    },
    vantages: resolveVantages(doc, probe.intervalSeconds),
    consoleProfiles: structuredClone(doc.consoleProfiles ?? d.consoleProfiles) as MamoriConfigShape['consoleProfiles'],
    http: {
      listen: doc.http?.listen ?? d.http.listen,
      ...(doc.http?.token ? { token: { ...doc.http.token } } : {}),
      tokens: (doc.http?.tokens ?? []).map((t) => ({ ...t })),
      publicHosts: (doc.http?.publicHosts ?? []).map((h) => h.toLowerCase()),
      socket: abs(doc.http?.socket ?? join(stateDir, d.http.socket)),
      socketMode: doc.http?.socketMode ?? d.http.socketMode,
      ...(doc.http?.webhookSecret ? { webhookSecret: { ...doc.http.webhookSecret } } : {}),
      ...(doc.http?.tls ? { tls: { certFile: abs(doc.http.tls.certFile), keyFile: abs(doc.http.tls.keyFile) } } : {}),
    },
    mail: {
      from: doc.mail?.from ?? d.mail.from,
      ...(doc.mail?.operator !== undefined ? { operator: doc.mail.operator } : {}),
      fromName: doc.mail?.fromName ?? d.mail.fromName,
      ...(doc.mail?.replyTo !== undefined ? { replyTo: doc.mail.replyTo } : {}),
      providerName: typeof doc.mail?.providerName === 'string' ? { ja: doc.mail.providerName, en: doc.mail.providerName } : { ...doc.mail?.providerName },
      timeZone: doc.mail?.timeZone ?? d.mail.timeZone,
      ...(smtp
        ? {
            smtp: {
              host: smtp.host,
              port: smtp.port ?? d.smtp.port,
              secure: smtp.secure ?? d.smtp.secure,
              requireTLS: smtp.requireTLS ?? d.smtp.requireTLS,
              ...(smtp.auth ? { auth: { ...smtp.auth } } : {}),
            },
          }
        : {}),
      maxPerServerPerHour: doc.mail?.maxPerServerPerHour ?? d.mail.maxPerServerPerHour,
    },
    signing: doc.signing ? resolveSigning(doc.signing, abs) : undefined,
    statusWriteBack: doc.statusWriteBack ? { ...d.statusWriteBack, ...doc.statusWriteBack } : undefined,
    holds: { ...d.holds, ...doc.holds },
    readiness: { ...d.readiness, ...doc.readiness },
    tls: {
      warningDays: [...(doc.tls?.warningDays ?? d.tls.warningDays)],
      caFiles: (doc.tls?.caFiles ?? []).map((f) => abs(f)),
      systemRoots: doc.tls?.systemRoots ?? d.tls.systemRoots,
    },
    alerting: {
      ...(doc.alerting?.alertmanager
        ? { alertmanager: { urls: [...doc.alerting.alertmanager.urls], resendSeconds: doc.alerting.alertmanager.resendSeconds ?? 60, timeoutSeconds: doc.alerting.alertmanager.timeoutSeconds ?? 5 } }
        : {}),
      webhooks: (doc.alerting?.webhooks ?? []).map((w) => ({
        name: w.name,
        ...(w.url !== undefined ? { url: w.url } : {}),
        ...(w.urlSecret !== undefined ? { urlSecret: { ...w.urlSecret } } : {}),
        secret: { ...w.secret },
        events: [...(w.events ?? WEBHOOK_EVENT_TYPES)],
        timeoutSeconds: w.timeoutSeconds ?? 10,
        retry: { initialSeconds: w.retry?.initialSeconds ?? 5, maxSeconds: w.retry?.maxSeconds ?? 900, giveUpHours: w.retry?.giveUpHours ?? 72 },
      })),
    },
    cluster: doc.cluster
      ? {
          endpoints: [...doc.cluster.endpoints],
          prefix: doc.cluster.prefix ?? '/mamori',
          replica: doc.cluster.replica ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63),
          apiUrl: doc.cluster.apiUrl ?? defaultApiUrl(doc.http?.listen ?? d.http.listen, doc.http?.tls !== undefined),
          leaseSeconds: doc.cluster.leaseSeconds ?? 10,
          stepDeadlineSeconds: doc.cluster.stepDeadlineSeconds ?? 900,
        }
      : undefined,
    log: { level: doc.log?.level ?? d.log.level, pretty: doc.log?.pretty },
  };
  return deepFreeze(shape) as MamoriConfig;
}

/**
 * Where the other replicas reach this one by default: its http.listen (https with http.tls); a
 * listen on every address (0.0.0.0, [::]) is reached by the host name.
 */
export function defaultApiUrl(listen: string, tls = false): string {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = listen.slice(i + 1);
  const reachable = host === '0.0.0.0' || host === '[::]' || host === '::' ? hostname() : host;
  return `${tls ? 'https' : 'http'}://${reachable}:${port}`;
}

export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/ /g, '').toUpperCase();
}

function resolveSigning(s: SignedChanges, abs: (p: string) => string): SigningConfig {
  const signers: Record<string, SignerConfig> = {};
  for (const [name, signer] of Object.entries(s.signers ?? {})) {
    if (!signer) continue;
    signers[name] = {
      ssh: [...(signer.ssh ?? [])],
      openpgp: (signer.openpgp ?? []).map((k) => ({
        fingerprint: normalizeFingerprint(k.fingerprint),
        ...(k.key !== undefined ? { key: k.key } : {}),
        ...(k.keyring !== undefined ? { keyring: abs(k.keyring) } : {}),
      })),
    };
  }
  const groups: Record<string, string[]> = {};
  for (const [name, members] of Object.entries(s.groups ?? {})) if (members) groups[name] = [...members];
  return {
    signers,
    groups,
    paths: s.paths?.map((r) => ({ glob: r.glob, signers: [...r.signers] })),
    ...(s.since !== undefined ? { since: s.since } : {}),
    ...(s.allowedSigners !== undefined ? { allowedSigners: abs(s.allowedSigners) } : {}),
    operatorSigners: [...(s.operatorSigners ?? [])],
  };
}

/** The embedded defaults, relative paths taken from `cwd`. */
export function defaultConfig(cwd: string = process.cwd()): MamoriConfig {
  return resolveConfig({}, cwd, undefined);
}

/** What the schema cannot say: canaries are probed, so they must lie in the target networks too. */
function configChecks(doc: ConfigDocument, positions: PositionIndex, file: string): Finding[] {
  const targets = targetCheck(doc.targetNetworks ?? [...DEFAULT_TARGET_NETWORKS]);
  const out: Finding[] = [];
  (doc.massFailure?.canaries ?? []).forEach((c, i) => {
    const v = targets.check(c.address);
    if (v.ok) return;
    const field = `massFailure.canaries[${i}].address`;
    const p = positions.positionOf(field);
    out.push({ file, line: p.line, col: p.col, field, rule: v.reason === 'ipv4-embedded' ? 'network-ipv4-embedded' : 'network-target', severity: 'error', message: v.message });
  });
  out.push(...signingChecks(doc.signing, positions, file));
  out.push(...httpChecks(doc, positions, file));
  out.push(...vantageChecks(doc, positions, file));
  out.push(...mailChecks(doc, positions, file));
  out.push(...webhookChecks(doc, positions, file));
  return out;
}

/** What the schema cannot say about webhooks: unique names, one URL (written or by secret), no credentials in it, a delay range that makes sense. */
function webhookChecks(doc: ConfigDocument, positions: PositionIndex, file: string): Finding[] {
  const out: Finding[] = [];
  const finding = (field: string, message: string): void => {
    const p = positions.positionOf(field);
    out.push({ file, line: p.line, col: p.col, field, rule: 'webhook', severity: 'error', message });
  };
  const seen = new Map<string, number>();
  (doc.alerting?.webhooks ?? []).forEach((w, i) => {
    const at = `alerting.webhooks[${i}]`;
    const first = seen.get(w.name);
    if (first !== undefined) finding(`${at}.name`, `webhook ${w.name} is named twice (also alerting.webhooks[${first}]): names must be unique`);
    else seen.set(w.name, i);
    if ((w.url === undefined) === (w.urlSecret === undefined)) finding(at, 'give the endpoint\'s url, or urlSecret (the URL from a secret), one of the two');
    if (w.url !== undefined) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(w.url);
      } catch {
        finding(`${at}.url`, 'not a URL');
      }
      // The value is not repeated: it may hold a credential.
      if (parsed && (parsed.username !== '' || parsed.password !== '')) finding(`${at}.url`, 'a URL with user:password@ writes a credential into the config: use urlSecret (the whole URL from a secret) instead, and change that password');
    }
    const r = w.retry;
    if (r?.initialSeconds !== undefined && r.maxSeconds !== undefined && r.maxSeconds < r.initialSeconds) finding(`${at}.retry.maxSeconds`, `the longest delay (${r.maxSeconds} s) is shorter than the first (${r.initialSeconds} s)`);
  });
  return out;
}

/** The zone must be one this system's ICU knows: a typo would otherwise show every time in UTC. */
function mailChecks(doc: ConfigDocument, positions: PositionIndex, file: string): Finding[] {
  const zone = doc.mail?.timeZone;
  if (zone === undefined) return [];
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return [];
  } catch {
    const field = 'mail.timeZone';
    const p = positions.positionOf(field);
    return [{ file, line: p.line, col: p.col, field, rule: 'time-zone', severity: 'error', message: `${zone} is not a time zone this system knows (an IANA name such as Asia/Tokyo)` }];
  }
}

/** What the schema cannot say about signing: every name a rule or group uses is a signer or a group. */
function signingChecks(s: SignedChanges | undefined, positions: PositionIndex, file: string): Finding[] {
  if (!s) return [];
  const out: Finding[] = [];
  const at = (field: string, message: string, rule = 'signing'): void => {
    const p = positions.positionOf(field);
    out.push({ file, line: p.line, col: p.col, field, rule, severity: 'error', message });
  };
  const signers = new Set(Object.keys(s.signers ?? {}));
  const groups = new Set(Object.keys(s.groups ?? {}));
  if (signers.size === 0 && s.allowedSigners === undefined) at('signing', 'name the signers (signing.signers) or an allowed signers file (signing.allowedSigners)');
  for (const [name, signer] of Object.entries(s.signers ?? {})) {
    if (groups.has(name)) at(`signing.groups.${name}`, `${name} is both a signer and a group`);
    if (!signer || ((signer.ssh ?? []).length === 0 && (signer.openpgp ?? []).length === 0)) at(`signing.signers.${name}`, `signer ${name} has no key (ssh or openpgp)`);
    (signer?.openpgp ?? []).forEach((k, i) => {
      const field = `signing.signers.${name}.openpgp[${i}]`;
      if ((k.key === undefined) === (k.keyring === undefined)) at(field, 'give the key itself (key) or a keyring file (keyring), one of the two');
      const fpr = normalizeFingerprint(k.fingerprint);
      if (fpr.length !== 40 && fpr.length !== 64) at(`${field}.fingerprint`, 'a fingerprint is 40 hex digits (v4 keys) or 64 (v5 and v6)');
    });
  }
  // With an allowed signers file, principals are signers too: only the file knows them.
  const known = (name: string): boolean => signers.has(name) || groups.has(name) || s.allowedSigners !== undefined;
  for (const [group, members] of Object.entries(s.groups ?? {})) {
    (members ?? []).forEach((m, i) => {
      if (!signers.has(m) && s.allowedSigners === undefined) at(`signing.groups.${group}[${i}]`, `${m} is not a signer (signing.signers)`);
    });
  }
  (s.paths ?? []).forEach((rule, i) => {
    rule.signers.forEach((name, j) => {
      if (!known(name)) at(`signing.paths[${i}].signers[${j}]`, `${name} is neither a signer nor a group`);
    });
  });
  if (s.operatorSigners !== undefined && s.paths !== undefined) at('signing.operatorSigners', 'operatorSigners applies only without paths: put the operators in the path rules');
  return out;
}

function resolveVantages(doc: ConfigDocument, intervalSeconds: number): VantagesConfig | undefined {
  const list = doc.vantages ?? [];
  const self = list.find((v) => v.self === true);
  if (self === undefined) return undefined;
  return {
    self: { name: self.name, network: self.network },
    agents: list.filter((v) => v.self !== true && v.token !== undefined).map((v) => ({ name: v.name, network: v.network, token: { secretRef: (v.token as { secretRef: string }).secretRef } })),
    quorum: {
      power: doc.quorum?.power ?? 2,
      freshSeconds: doc.quorum?.freshSeconds ?? 3 * intervalSeconds,
      maxSkewSeconds: doc.quorum?.maxSkewSeconds ?? 30,
      manyServers: doc.quorum?.manyServers ?? doc.massFailure?.minServers ?? 3,
    },
  };
}

/** Exactly one self vantage, every other with its own token, names unique, and a power quorum the vantages can reach. */
function vantageChecks(doc: ConfigDocument, positions: PositionIndex, file: string): Finding[] {
  const out: Finding[] = [];
  const finding = (field: string, message: string): void => {
    const p = positions.positionOf(field);
    out.push({ file, line: p.line, col: p.col, field, rule: 'vantages', severity: 'error', message });
  };
  const list = doc.vantages ?? [];
  if (list.length === 0) {
    if (doc.quorum !== undefined) finding('quorum', 'quorum applies only with vantages: name the vantage points (vantages:), or remove quorum');
    return out;
  }
  const selves = list.flatMap((v, i) => (v.self === true ? [i] : []));
  if (selves.length !== 1) finding('vantages', `exactly one vantage is the daemon's own (self: true); ${selves.length} are`);
  const seen = new Map<string, number>();
  list.forEach((v, i) => {
    const twin = seen.get(v.name);
    if (twin !== undefined) finding(`vantages[${i}].name`, `the vantage name ${v.name} is also vantages[${twin}]'s: each vantage needs its own name`);
    seen.set(v.name, i);
    if (v.self === true && v.token !== undefined) finding(`vantages[${i}].token`, 'the daemon\'s own vantage has no agent token: remove token');
    if (v.self !== true && v.token === undefined) finding(`vantages[${i}]`, `the vantage ${v.name} is an agent's: give it a token (token: { secretRef: … }) for its reports`);
  });
  const power = doc.quorum?.power ?? 2;
  if (power > list.length) finding('quorum.power', `a power cycle would need ${power} vantages and only ${list.length} are configured: no host could ever be power-cycled; lower quorum.power or add a vantage`);
  return out;
}

/** A customer token names its customer, no other does; a public host name needs a token (behind a proxy every client looks local). */
function httpChecks(doc: ConfigDocument, positions: PositionIndex, file: string): Finding[] {
  const out: Finding[] = [];
  const finding = (field: string, message: string): void => {
    const p = positions.positionOf(field);
    out.push({ file, line: p.line, col: p.col, field, rule: 'http-access', severity: 'error', message });
  };
  const tokens = doc.http?.tokens ?? [];
  tokens.forEach((t, i) => {
    if (t.scope === 'customer' && t.customer === undefined) finding(`http.tokens[${i}]`, 'a customer token names its customer (customer: <name>): it sees that customer\'s servers only');
    if (t.scope !== 'customer' && t.customer !== undefined) finding(`http.tokens[${i}].customer`, `a ${t.scope} token is not a customer's: remove customer, or make it scope customer`);
  });
  if ((doc.http?.publicHosts?.length ?? 0) > 0 && tokens.length === 0 && doc.http?.token === undefined) {
    finding('http.publicHosts', 'public host names need a token (http.token or http.tokens): behind a reverse proxy every client looks local, and without a token local clients read everything');
  }
  return out;
}

/** Findings for a config file's text; empty when it is valid. */
export function checkConfigText(text: string, file: string): { findings: Finding[]; doc: ConfigDocument | undefined } {
  const parsed = parseYaml(text, file);
  if (parsed.findings.some((f) => f.severity === 'error')) return { findings: parsed.findings, doc: undefined };
  const value = parsed.value ?? {};
  const secrets = scanInlineSecrets('config', value, parsed.positions, file);
  const validate = schemaSet().validator('config');
  const findings = [...parsed.findings, ...secrets];
  if (!validate(value)) {
    findings.push(...explainSchemaErrors(validate.errors ?? [], value, parsed.positions, file, secrets.map((s) => s.field)));
  }
  if (findings.length === 0) findings.push(...configChecks(value as ConfigDocument, parsed.positions, file));
  return { findings, doc: findings.some((f) => f.severity === 'error') ? undefined : (value as ConfigDocument) };
}

/** Parse and check config text; throws MAMORI_CONFIG_INVALID naming every finding. */
export function parseConfig(text: string, file: string, baseDir: string): MamoriConfig {
  const { findings, doc } = checkConfigText(text, file);
  if (doc === undefined) {
    throw new MamoriError('MAMORI_CONFIG_INVALID', `the daemon configuration ${file} is not valid:\n${findings.map(formatFinding).join('\n')}`, {
      details: { file, findings },
    });
  }
  return resolveConfig(doc, baseDir, file);
}

/**
 * Load the daemon config from `path`, or the embedded defaults without one.
 * Relative paths inside the file are taken from the file's folder.
 */
export async function loadConfig(path?: string, options: { cwd?: string } = {}): Promise<MamoriConfig> {
  const cwd = options.cwd ?? process.cwd();
  if (path === undefined) return defaultConfig(cwd);
  const file = resolve(cwd, path);
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MANIFEST_LIMITS.maxFileBytes) throw new Error(`larger than ${MANIFEST_LIMITS.maxFileBytes} bytes`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MamoriError('MAMORI_CONFIG_UNREADABLE', `the daemon configuration ${path} cannot be read: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      details: { file },
    });
  }
  return parseConfig(text, path, dirname(file));
}
