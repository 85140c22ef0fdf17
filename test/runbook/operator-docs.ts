/**
 * The operator's shipped documents (standard runbooks, catalog, policy) read straight
 * from manifests/operator/ and checked against their schemas, for the tests that
 * render and lint them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import type { CatalogDocument, ReviewPolicyDocument, RunbookDocument, ServerDocument } from '../../src/manifest/types.ts';

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
