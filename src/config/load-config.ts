/**
 * The daemon's config: read → parse (positions) → validate against
 * schemas/config.schema.json → fill defaults → freeze. Without a file, the embedded
 * defaults (defaults.ts). An invalid config is refused whole, with every finding.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { MamoriError } from '../errors.ts';
import type { ConfigDocument } from '../manifest/generated/config.ts';
import { parseYaml, type PositionIndex } from '../manifest/parse-yaml.ts';
import { targetCheck } from '../manifest/target-networks.ts';
import { schemaSet } from '../manifest/schemas.ts';
import { explainSchemaErrors } from '../manifest/schema-errors.ts';
import { scanInlineSecrets } from '../manifest/secret-scan.ts';
import { MANIFEST_LIMITS } from '../manifest/limits.ts';
import { formatFinding } from '../manifest/format-findings.ts';
import type { Finding } from '../manifest/types.ts';
import { CONFIG_DEFAULTS, DEFAULT_MANAGEMENT_NETWORKS, DEFAULT_TARGET_NETWORKS } from './defaults.ts';
import type { MamoriConfig, MamoriConfigShape } from './types.ts';

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
  const probe = { ...d.probe, ...doc.probe };
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
      destructiveWaitSeconds: doc.remediation?.destructiveWaitSeconds ?? probe.intervalSeconds,
      flapping: { ...d.remediation.flapping, ...doc.remediation?.flapping },
    },
    massFailure: {
      ...d.massFailure,
      ...doc.massFailure,
      canaries: (doc.massFailure?.canaries ?? []).map((c) => ({ ...c })),
    },
    consoleProfiles: structuredClone(doc.consoleProfiles ?? d.consoleProfiles) as MamoriConfigShape['consoleProfiles'],
    http: {
      listen: doc.http?.listen ?? d.http.listen,
      ...(doc.http?.token ? { token: { ...doc.http.token } } : {}),
      ...(doc.http?.webhookSecret ? { webhookSecret: { ...doc.http.webhookSecret } } : {}),
    },
    mail: {
      from: doc.mail?.from ?? d.mail.from,
      ...(doc.mail?.operator !== undefined ? { operator: doc.mail.operator } : {}),
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
    signing: doc.signing
      ? { allowedSigners: abs(doc.signing.allowedSigners), operatorSigners: [...(doc.signing.operatorSigners ?? [])] }
      : undefined,
    statusWriteBack: doc.statusWriteBack ? { ...d.statusWriteBack, ...doc.statusWriteBack } : undefined,
    holds: { ...d.holds, ...doc.holds },
    readiness: { ...d.readiness, ...doc.readiness },
    log: { level: doc.log?.level ?? d.log.level, pretty: doc.log?.pretty },
  };
  return deepFreeze(shape) as MamoriConfig;
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
