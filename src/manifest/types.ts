/**
 * The document types as the rest of mamori sees them. The shapes come from the
 * schemas (src/manifest/generated/, made by `npm run gen:types`); this file only
 * names them and adds what loading adds: where a document came from and who owns it.
 */
import type { ServerDocument } from './generated/server.ts';
import type { RunbookDocument, Step2 as GeneratedStep } from './generated/runbook.ts';
import type { CatalogDocument } from './generated/catalog.ts';
import type { ReviewPolicyDocument } from './generated/policy.ts';
import type { ConfigDocument } from './generated/config.ts';
import type { ServiceName } from '../vocabulary.ts';

export type { ServerDocument, RunbookDocument, CatalogDocument, ReviewPolicyDocument, ConfigDocument };
export type RunbookStep = GeneratedStep;
export type DocumentKind = 'Server' | 'Runbook' | 'Catalog' | 'ReviewPolicy';

export { SERVICE_NAMES, type ServiceName } from '../vocabulary.ts';

/** Who owns a document: decided by where it lives (operator/ or customers/<name>/). */
export type Owner = { kind: 'operator' } | { kind: 'customer'; customer: string };

/** A position in a source file, 1-based, as editors and GitHub annotations count. */
export interface SourcePosition {
  line: number;
  col: number;
}

/** One problem found in the manifests: enough for `file:line:col: field: message`. */
export interface Finding {
  file: string;
  line: number;
  col: number;
  /** The field's path in the document, e.g. `spec.access.hostKey` or `spec.steps[2].run.command`. */
  field: string;
  message: string;
  /** A stable rule name (`schema`, `owner-reference`, `os-refused`, `policy-forbidden-command`, …). */
  rule: string;
  severity: 'error' | 'warning';
  /** The file on disk, when the document was read from disk (for editors and annotations). */
  path?: string;
}

export interface LoadedDocument<T> {
  kind: DocumentKind;
  doc: T;
  /** Path relative to the manifests root, with forward slashes. */
  file: string;
  owner: Owner;
  /** Positions of the document's fields, keyed by field path ('' is the document). */
  positionOf(field: string): SourcePosition;
}

/** A whole revision of the manifests, loaded and checked. */
export interface ManifestSet {
  servers: Map<string, LoadedDocument<ServerDocument>>;
  runbooks: Map<string, LoadedDocument<RunbookDocument>>;
  catalog: LoadedDocument<CatalogDocument>;
  policy: LoadedDocument<ReviewPolicyDocument>;
  /** Every problem found; a server with an error finding is not in `servers`. */
  findings: Finding[];
}

/**
 * One manifest file as the validator sees it: its path inside the manifests tree
 * (`customers/acme/servers/web01.yaml`, forward slashes; ownership comes from it)
 * and its content. Bytes are checked for UTF-8; text is taken as it is.
 */
export interface ManifestFile {
  path: string;
  content: string | Uint8Array;
  /** Where it is on disk, if it is (findings carry it as `path`). */
  absolutePath?: string;
}

/**
 * What loading and checking manifests read of the daemon's config (src/config/types.ts's
 * MamoriConfig has these fields): declared here, so that manifest/ imports nothing above it.
 */
export interface ManifestConfig {
  /** The operator's documents, when they are not under the manifests root. */
  readonly operatorDir: string | undefined;
  readonly managementNetworks: readonly string[];
  readonly targetNetworks: readonly string[];
  /** Only the names are read: a server's console profile must be one of them. */
  readonly consoleProfiles: Readonly<Record<string, unknown>>;
}

/** What a semantic check sees: every document that passed its schema and ownership checks. */
export interface CheckInput {
  servers: readonly LoadedDocument<ServerDocument>[];
  /** Every schema-valid runbook, the operator's and the customers'. */
  runbooks: readonly LoadedDocument<RunbookDocument>[];
  catalog: LoadedDocument<CatalogDocument>;
  policy: LoadedDocument<ReviewPolicyDocument>;
  /** false when operator/policy.yaml is absent (the policy is then empty). */
  policyPresent: boolean;
  config: ManifestConfig;
}

/**
 * A check a schema cannot make. Checks are pure: they read the input and return
 * findings (build them with `findingAt` from src/manifest/finding.ts).
 */
export interface SemanticCheck {
  /** A short name for logs and tests. */
  name: string;
  check(input: CheckInput): Finding[];
}

/**
 * Which runbook repairs `service` on `server`: the server's own choice
 * (spec.runbooks) or the most specific standard runbook; undefined when none.
 * src/runbook/select.ts provides the real one; the loader has a fallback that
 * answers only whether one exists.
 */
export type RunbookSelector = (
  server: LoadedDocument<ServerDocument>,
  service: ServiceName,
  runbooks: ReadonlyMap<string, LoadedDocument<RunbookDocument>>,
) => LoadedDocument<RunbookDocument> | undefined;
