/**
 * The operator's shipped documents (standard runbooks, catalog, policy) read straight
 * from manifests/operator/ and checked against their schemas, for the tests that
 * render and lint them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { LineCounter, isMap, isNode, isScalar, isSeq, parse, parseDocument } from 'yaml';
import type { CatalogDocument, DocumentKind, LoadedDocument, Owner, ReviewPolicyDocument, RunbookDocument, ServerDocument, SourcePosition } from '../../src/manifest/types.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const OPERATOR_DIR = `${ROOT}manifests/operator/`;

function validator(name: string): (doc: unknown) => string | undefined {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  ajv.addFormat('mamori-cidr', true);
  ajv.addFormat('mamori-ip', true);
  ajv.addFormat('email', true);
  ajv.addFormat('date-time', true);
  ajv.addSchema(JSON.parse(readFileSync(`${ROOT}schemas/common.schema.json`, 'utf8')) as object, 'common.schema.json');
  const validate = ajv.compile(JSON.parse(readFileSync(`${ROOT}schemas/${name}.schema.json`, 'utf8')) as object);
  return (doc) => (validate(doc) ? undefined : JSON.stringify(validate.errors));
}

export function readValid<T>(path: string, schema: string): T {
  const doc: unknown = parse(readFileSync(path, 'utf8'));
  const problem = validator(schema)(doc);
  if (problem !== undefined) throw new Error(`${path}: ${problem}`);
  return doc as T;
}

export function standardRunbookFiles(): string[] {
  return readdirSync(`${OPERATOR_DIR}runbooks`).filter((f) => f.endsWith('.yaml')).sort();
}

export function standardRunbooks(): RunbookDocument[] {
  return standardRunbookFiles().map((f) => readValid<RunbookDocument>(`${OPERATOR_DIR}runbooks/${f}`, 'runbook'));
}

export function catalog(): CatalogDocument {
  return readValid<CatalogDocument>(`${OPERATOR_DIR}catalog.yaml`, 'catalog');
}

export function policy(): ReviewPolicyDocument {
  return readValid<ReviewPolicyDocument>(`${OPERATOR_DIR}policy.yaml`, 'policy');
}

/** A server as a customer would write it, for rendering. */
export function server(os: ServerDocument['spec']['os'], extra: Partial<ServerDocument['spec']> = {}, name = 'web01'): ServerDocument {
  return {
    apiVersion: 'mamori/v1',
    kind: 'Server',
    metadata: { name, customer: 'acme' },
    spec: {
      address: '203.0.113.10',
      os,
      plan: 'basic',
      contact: { email: 'ops@acme.example' },
      allowedNetworks: ['210.224.172.0/24', '210.188.224.0/24'],
      services: ['ping', 'http', 'https', 'ftp', 'ssh', 'telnet', 'smtp', 'pop3', 'imap'],
      access: { user: 'mamori', hostKey: `SHA256:${'A'.repeat(43)}`, credentials: { secretRef: 'acme-web01' } },
      ...extra,
    },
  };
}

/**
 * A document as the loader hands it over, with field positions at their keys (as
 * src/manifest/parse-yaml.ts records them), without the loader's other checks.
 */
export function loadedFromYaml<T>(text: string, file: string, owner: Owner, kind: DocumentKind = 'Runbook'): LoadedDocument<T> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  const positions = new Map<string, SourcePosition>([['', { line: 1, col: 1 }]]);
  const at = (offset: number): SourcePosition => lineCounter.linePos(offset);
  const walk = (node: unknown, field: string): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        const child = field === '' ? key : `${field}.${key}`;
        if (isScalar(pair.key) && pair.key.range) positions.set(child, at(pair.key.range[0]));
        walk(pair.value, child);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const child = `${field}[${index}]`;
        if (isNode(item) && item.range) positions.set(child, at(item.range[0]));
        walk(item, child);
      });
    }
  };
  walk(document.contents, '');
  return {
    kind,
    doc: document.toJS() as T,
    file,
    owner,
    positionOf(field: string): SourcePosition {
      for (let f = field; ; f = f.replace(/(\.[^.[\]]+|\[[0-9]+\])$/, '')) {
        const p = positions.get(f);
        if (p !== undefined) return p;
        if (f === '') return { line: 1, col: 1 };
      }
    },
  };
}
