/**
 * Validate a whole revision of the manifests from its files' contents: no disk, so
 * `mamori plan` and the git source can check a commit's files as they are.
 *
 *   per file: size → UTF-8 → YAML (positions, hostile input) → inline secrets →
 *             schema → ownership (place, kind, customer, file name)
 *   across:   duplicate names → semantic checks (built-in + options.checks)
 *             → drop invalid runbooks → references and runbook coverage
 *             → drop invalid servers
 *
 * Every finding is reported; a bad document never hides the good ones.
 */
import { serverIdOf } from './server-id.ts';
import type {
  ManifestConfig,
  CatalogDocument,
  CheckInput,
  DocumentKind,
  Finding,
  LoadedDocument,
  ManifestFile,
  ManifestSet,
  ReviewPolicyDocument,
  RunbookDocument,
  RunbookSelector,
  SemanticCheck,
  ServerDocument,
} from './types.ts';
import { parseYaml, type PositionIndex } from './parse-yaml.ts';
import { schemaSet, type SchemaName } from './schemas.ts';
import { explainSchemaErrors } from './schema-errors.ts';
import { scanInlineSecrets } from './secret-scan.ts';
import { placementOf, wrongKindMessage, isManifestPath, isStrayPath, strayMessage, type Placement } from './ownership.ts';
import { fastParse, LazyPositions } from './fast-parse.ts';
import { MANIFEST_LIMITS } from './limits.ts';
import { BUILTIN_CHECKS } from './checks/index.ts';
import { runbookReferenceFindings, type KnownRunbook } from './checks/runbook-references.ts';
import { coverageFindings } from './checks/coverage.ts';
import { fallbackSelectRunbook } from './runbook-fallback.ts';

export interface ValidateOptions {
  config: ManifestConfig;
  /**
   * Each file's own checks (size → … → ownership) kept from the last call and reused for a file
   * whose path and content are the same: a revision that changes one file of 10,000 parses one.
   * The checks across files run on the whole revision; runbook coverage, which reads one server and
   * the usable runbooks, is reused for an unchanged server while the runbooks are the same. The
   * findings are those of a validation without the cache.
   */
  cache?: FileCheckCache;
  /** Checks beyond the built-in ones (e.g. the review policy's lint of custom runbooks). */
  checks?: readonly SemanticCheck[];
  /** Runbook selection (src/runbook/select.ts); without it, the loader's fallback. */
  selectRunbook?: RunbookSelector;
}

const KIND_SCHEMA: Record<DocumentKind, SchemaName> = { Server: 'server', Runbook: 'runbook', Catalog: 'catalog', ReviewPolicy: 'policy' };
const KINDS = Object.keys(KIND_SCHEMA) as DocumentKind[];

type AnyLoaded = LoadedDocument<unknown> & { absolutePath?: string };

/** Schema findings reported per file; the rest are counted. */
const MAX_FINDINGS_PER_FILE = 50;
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

function fileFinding(file: ManifestFile, rule: string, message: string, field = '', line = 1, col = 1, severity: Finding['severity'] = 'error'): Finding {
  return { file: file.path, line, col, field, message, rule, severity, ...(file.absolutePath !== undefined ? { path: file.absolutePath } : {}) };
}

function decode(file: ManifestFile): { text: string } | { finding: Finding } {
  const size = typeof file.content === 'string' ? Buffer.byteLength(file.content, 'utf8') : file.content.byteLength;
  if (size > MANIFEST_LIMITS.maxFileBytes) {
    return { finding: fileFinding(file, 'file-too-large', `the file is ${size} bytes; a manifest may be at most ${MANIFEST_LIMITS.maxFileBytes} bytes`) };
  }
  let text: string;
  if (typeof file.content === 'string') text = file.content;
  else {
    if (file.content.includes(0)) return { finding: fileFinding(file, 'file-binary', 'the file contains NUL bytes: a manifest is UTF-8 text') };
    try {
      text = decoder.decode(file.content);
    } catch {
      return { finding: fileFinding(file, 'file-binary', 'the file is not valid UTF-8 text') };
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text };
}

function loaded(kind: DocumentKind, doc: unknown, file: ManifestFile, owner: LoadedDocument<unknown>['owner'], positions: PositionIndex): AnyLoaded {
  return {
    kind,
    doc,
    file: file.path,
    owner,
    positionOf: (field: string) => positions.positionOf(field),
    ...(file.absolutePath !== undefined ? { absolutePath: file.absolutePath } : {}),
  };
}

function withPath(f: Finding, file: ManifestFile): Finding {
  return file.absolutePath !== undefined && f.path === undefined ? { ...f, path: file.absolutePath } : f;
}

/** A document refused on its own, whose kind and name could still be read (so references to it can say why). */
interface Refused {
  kind: DocumentKind;
  name: string;
  file: string;
  owner: LoadedDocument<unknown>['owner'];
}

/**
 * Check one file on its own; returns its document when it can be used at all.
 * Plain documents are read on the fast path; one with any finding is read again
 * by yaml, so that what is reported comes from the exact reader.
 */
function checkFile(file: ManifestFile, findings: Finding[], refused: Refused[]): AnyLoaded | undefined {
  const place = placementOf(file.path);
  if (!place.ok) {
    findings.push(fileFinding(file, place.rule, place.message));
    return undefined;
  }
  const decoded = decode(file);
  if ('finding' in decoded) {
    findings.push(decoded.finding);
    return undefined;
  }
  const fast = fastParse(decoded.text);
  if (fast !== undefined) {
    const own: Finding[] = [];
    const ownRefused: Refused[] = [];
    const doc = checkValue(file, place.placement, fast.value, new LazyPositions(decoded.text, file.path), own, ownRefused);
    if (own.length === 0) return doc;
  }
  const parsed = parseYaml(decoded.text, file.path);
  findings.push(...parsed.findings.map((f) => withPath(f, file)));
  if (parsed.findings.some((f) => f.severity === 'error')) return undefined;
  return checkValue(file, place.placement, parsed.value, parsed.positions, findings, refused);
}

function checkValue(file: ManifestFile, placement: Placement, value: unknown, positions: PositionIndex, findings: Finding[], refused: Refused[]): AnyLoaded | undefined {
  const at = (field: string, rule: string, message: string): Finding => {
    const p = positions.positionOf(field);
    return fileFinding(file, rule, message, field, p.line, p.col);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    findings.push(at('', 'schema', 'a manifest is a map with apiVersion, kind, metadata and spec'));
    return undefined;
  }
  const obj = value as Record<string, unknown>;
  const kind = obj.kind;
  if (typeof kind !== 'string' || !KINDS.includes(kind as DocumentKind)) {
    findings.push(at('kind', 'schema', `must be ${placement.kind} here (the kinds are ${KINDS.join(', ')})`));
    return undefined;
  }
  const docKind = kind as DocumentKind;
  let ok = true;
  if (docKind !== placement.kind) {
    findings.push(at('kind', 'owner-kind', wrongKindMessage(docKind, placement)));
    ok = false;
  }
  const schemaName = KIND_SCHEMA[docKind];
  const secrets = scanInlineSecrets(schemaName, value, positions, file.path).map((f) => withPath(f, file));
  findings.push(...secrets);
  if (secrets.length > 0) ok = false;
  const validate = schemaSet().validator(schemaName);
  if (!validate(value)) {
    const explained = explainSchemaErrors(validate.errors ?? [], value, positions, file.path, secrets.map((s) => s.field)).map((f) => withPath(f, file));
    // A file of 20,000 unknown keys is one mistake (or an attack), not 20,000 lines of output.
    findings.push(...explained.slice(0, MAX_FINDINGS_PER_FILE));
    if (explained.length > MAX_FINDINGS_PER_FILE) {
      findings.push(fileFinding(file, 'schema', `and ${explained.length - MAX_FINDINGS_PER_FILE} more problems in this file, not shown`));
    }
    ok = false;
  }
  // Ownership and naming, whenever metadata is readable, so that all errors show at once.
  const meta = obj.metadata;
  if (meta !== null && typeof meta === 'object' && !Array.isArray(meta)) {
    const m = meta as Record<string, unknown>;
    if (typeof m.name === 'string' && NAME.test(m.name) && m.name !== placement.expectedName) {
      findings.push(at('metadata.name', 'file-name', `must equal the file's name: the file is ${placement.expectedName}.yaml, so the name is ${placement.expectedName} (rename the file or the document)`));
      ok = false;
    }
    const customer = m.customer;
    if (placement.owner.kind === 'customer') {
      if (customer === undefined) {
        findings.push(at('metadata.customer', 'owner-customer', `is required: this document is in customer ${placement.owner.customer}'s folder, so write customer: ${placement.owner.customer}`));
        ok = false;
      } else if (customer !== placement.owner.customer) {
        findings.push(
          at('metadata.customer', 'owner-customer', `must be ${placement.owner.customer}, the customer whose folder holds this document: a customer's documents live in customers/<customer>/`),
        );
        ok = false;
      }
    } else if (customer !== undefined) {
      findings.push(
        at(
          'metadata.customer',
          'owner-customer',
          docKind === 'Runbook'
            ? 'an operator runbook has no customer: a customer runbook lives in customers/<customer>/runbooks/, and operator/runbooks/ holds only the standard runbooks'
            : 'operator documents have no customer',
        ),
      );
      ok = false;
    }
  }
  if (!ok) {
    const name = (meta as { name?: unknown } | null | undefined)?.name;
    if (typeof name === 'string') refused.push({ kind: docKind, name, file: file.path, owner: placement.owner });
    return undefined;
  }
  return loaded(docKind, value, file, placement.owner, positions);
}

/** What a file's own checks gave: its usable document (if any), its findings, and what was refused with a readable name. */
interface FileCheck {
  doc: AnyLoaded | undefined;
  findings: readonly Finding[];
  refused: readonly Refused[];
}

interface CachedCheck {
  content: string | Uint8Array;
  absolutePath: string | undefined;
  check: FileCheck;
}

function sameContent(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * The per-file results of the last validation (see ValidateOptions.cache). A file's own checks
 * read nothing but its path and bytes (the schemas are fixed), so an equal file has equal
 * results. Only the last call's files are kept (and the coverage of their servers).
 */
export class FileCheckCache {
  private last = new Map<string, CachedCheck>();
  /** Files read afresh by the last call (the rest came from the cache). */
  checked = 0;

  /** The file's own checks, from the last call when it is the same file. */
  check(file: ManifestFile, next: Map<string, CachedCheck>): FileCheck {
    const hit = this.last.get(file.path);
    let check: FileCheck;
    if (hit !== undefined && hit.absolutePath === file.absolutePath && sameContent(hit.content, file.content)) check = hit.check;
    else {
      check = checkFileAlone(file);
      this.checked++;
    }
    next.set(file.path, { content: file.content, absolutePath: file.absolutePath, check });
    return check;
  }

  /** Runbook coverage by server document, valid while the usable runbooks and the selector are the very same objects. */
  private coverage: { runbooks: readonly LoadedDocument<RunbookDocument>[]; select: RunbookSelector | undefined; byServer: WeakMap<object, Finding[]> } = {
    runbooks: [],
    select: undefined,
    byServer: new WeakMap(),
  };

  /**
   * coverageFindings, server by server: which runbook repairs each service reads only the server's
   * document, the usable runbooks and the selector (pure: src/runbook/select.ts), so a server whose
   * document object is reused (its file unchanged) keeps its findings while those are unchanged.
   */
  coverageFindings(servers: readonly LoadedDocument<ServerDocument>[], runbooks: ReadonlyMap<string, LoadedDocument<RunbookDocument>>, select: RunbookSelector): Finding[] {
    const list = [...runbooks.values()];
    const last = this.coverage;
    if (last.select !== select || last.runbooks.length !== list.length || list.some((r, i) => r !== last.runbooks[i])) {
      this.coverage = { runbooks: list, select, byServer: new WeakMap() };
    }
    const byServer = this.coverage.byServer;
    const out: Finding[] = [];
    for (const s of servers) {
      let own = byServer.get(s);
      if (own === undefined) {
        own = coverageFindings([s], runbooks, select);
        byServer.set(s, own);
      }
      for (const f of own) out.push(f);
    }
    return out;
  }

  /** Called once per validation with what it checked: the next call compares against these. */
  keep(next: Map<string, CachedCheck>): void {
    this.last = next;
  }

  get size(): number {
    return this.last.size;
  }
}

function checkFileAlone(file: ManifestFile): FileCheck {
  const findings: Finding[] = [];
  const refused: Refused[] = [];
  const doc = checkFile(file, findings, refused);
  return { doc, findings, refused };
}

function emptyCatalog(): LoadedDocument<CatalogDocument> {
  const doc: CatalogDocument = { apiVersion: 'mamori/v1', kind: 'Catalog', metadata: { name: 'catalog' }, spec: { operatingSystems: [], plans: [] } };
  return { kind: 'Catalog', doc, file: 'operator/catalog.yaml', owner: { kind: 'operator' }, positionOf: () => ({ line: 1, col: 1 }) };
}

function emptyPolicy(): LoadedDocument<ReviewPolicyDocument> {
  const doc: ReviewPolicyDocument = { apiVersion: 'mamori/v1', kind: 'ReviewPolicy', metadata: { name: 'policy' }, spec: { forbiddenCommands: [] } };
  return { kind: 'ReviewPolicy', doc, file: 'operator/policy.yaml', owner: { kind: 'operator' }, positionOf: () => ({ line: 1, col: 1 }) };
}

/**
 * Names used twice: every document with the name gets a finding, and none of them is used. `keyOf`
 * says where a name must be unique: servers within their customer (customer/name), runbooks across
 * the whole tree (a server names a runbook by its bare name).
 */
function duplicates<T extends AnyLoaded>(docs: T[], what: string, findings: Finding[], keyOf: (d: T) => string, scope: string): T[] {
  const byName = new Map<string, T[]>();
  for (const d of docs) {
    const name = keyOf(d);
    const list = byName.get(name);
    if (list) list.push(d);
    else byName.set(name, [d]);
  }
  const keep: T[] = [];
  for (const list of byName.values()) {
    if (list.length === 1) {
      keep.push(list[0] as T);
      continue;
    }
    for (const d of list) {
      const others = list.filter((o) => o !== d);
      const p = d.positionOf('metadata.name');
      findings.push({
        file: d.file,
        line: p.line,
        col: p.col,
        field: 'metadata.name',
        rule: 'duplicate-name',
        message: `the ${what} name ${(d.doc as { metadata: { name: string } }).metadata.name} is also used by ${others.map((o) => `${o.file}:${o.positionOf('metadata.name').line}`).join(', ')}: ${what} names are unique ${scope}`,
        severity: 'error',
        ...(d.absolutePath !== undefined ? { path: d.absolutePath } : {}),
      });
    }
  }
  return keep;
}

function errorFiles(findings: readonly Finding[]): Set<string> {
  return new Set(findings.filter((f) => f.severity === 'error').map((f) => f.file));
}

export function validateDocuments(files: readonly ManifestFile[], options: ValidateOptions): ManifestSet {
  const findings: Finding[] = [];
  const docs: AnyLoaded[] = [];
  const refused: Refused[] = [];
  const cache = options.cache;
  const kept = new Map<string, CachedCheck>();
  if (cache !== undefined) cache.checked = 0;
  for (const file of files) {
    if (!isManifestPath(file.path)) {
      // A revision's files from git include every YAML file under the manifests path.
      if (isStrayPath(file.path)) findings.push(fileFinding(file, 'file-stray', strayMessage()));
      continue;
    }
    if (cache === undefined) {
      const d = checkFile(file, findings, refused);
      if (d !== undefined) docs.push(d);
      continue;
    }
    const own = cache.check(file, kept);
    for (const f of own.findings) findings.push(f);
    for (const r of own.refused) refused.push(r);
    if (own.doc !== undefined) docs.push(own.doc);
  }
  cache?.keep(kept);
  const byKind = <T>(k: DocumentKind): Array<LoadedDocument<T> & { absolutePath?: string }> =>
    docs.filter((d) => d.kind === k) as Array<LoadedDocument<T> & { absolutePath?: string }>;

  const catalogs = byKind<CatalogDocument>('Catalog');
  const policies = byKind<ReviewPolicyDocument>('ReviewPolicy');
  const catalogPresent = files.some((f) => f.path === 'operator/catalog.yaml');
  let catalog = catalogs[0];
  if (catalog === undefined) {
    if (!catalogPresent) {
      findings.push({ file: 'operator/catalog.yaml', line: 1, col: 1, field: '', rule: 'catalog-missing', message: 'the operator catalog is missing: no server can be accepted without it', severity: 'error' });
    }
    catalog = emptyCatalog();
  }
  const policyPresent = files.some((f) => f.path === 'operator/policy.yaml');
  let policy = policies[0];
  if (policy === undefined) {
    if (!policyPresent) {
      findings.push({
        file: 'operator/policy.yaml',
        line: 1,
        col: 1,
        field: '',
        rule: 'policy-missing',
        message: 'there is no review policy: custom runbooks are checked against no forbidden commands',
        severity: 'warning',
      });
    }
    policy = emptyPolicy();
  }

  const servers = duplicates(byKind<ServerDocument>('Server'), 'server', findings, (d) => serverIdOf(d.doc), 'within a customer');
  const runbooks = duplicates(byKind<RunbookDocument>('Runbook'), 'runbook', findings, (d) => d.doc.metadata.name, 'across all customers');
  const input: CheckInput = { servers, runbooks, catalog, policy, policyPresent: policies.length > 0, config: options.config };
  for (const check of [...BUILTIN_CHECKS, ...(options.checks ?? [])]) {
    findings.push(...check.check(input));
  }

  // Runbooks with errors are not used; servers that name one fail below.
  let bad = errorFiles(findings);
  const known = new Map<string, KnownRunbook>();
  for (const r of refused) if (r.kind === 'Runbook') known.set(r.name, { valid: false, file: r.file, owner: r.owner });
  for (const r of byKind<RunbookDocument>('Runbook')) known.set(r.doc.metadata.name, { valid: false, file: r.file, owner: r.owner });
  const goodRunbooks = new Map<string, LoadedDocument<RunbookDocument>>();
  for (const r of runbooks) {
    if (bad.has(r.file)) continue;
    known.set(r.doc.metadata.name, { valid: true, doc: r });
    goodRunbooks.set(r.doc.metadata.name, r);
  }
  const candidates = servers.filter((s) => !bad.has(s.file));
  findings.push(...runbookReferenceFindings(candidates, known));
  const select = options.selectRunbook ?? fallbackSelectRunbook;
  const coverage = cache !== undefined ? cache.coverageFindings(candidates, goodRunbooks, select) : coverageFindings(candidates, goodRunbooks, select);
  for (const f of coverage) findings.push(f);

  bad = errorFiles(findings);
  const goodServers = new Map<string, LoadedDocument<ServerDocument>>();
  for (const s of servers) if (!bad.has(s.file)) goodServers.set(serverIdOf(s.doc), s);
  return { servers: goodServers, runbooks: goodRunbooks, catalog, policy, findings };
}
