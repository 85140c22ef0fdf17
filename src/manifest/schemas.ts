/**
 * The JSON Schemas in schemas/, compiled once per process with ajv (draft 2020-12)
 * and the formats they use. Compiling is the slow part of ajv; validating is fast,
 * so every caller shares these compiled validators.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { packagePath } from '../package-info.ts';
import { isCidr, isIpAddress } from './networks.ts';

export type SchemaName = 'server' | 'runbook' | 'catalog' | 'policy' | 'config';

/** schemas/ in mamori's own package folder (a checkout or an installed package). */
export const SCHEMA_DIR = packagePath('schemas', true);

export interface SchemaSet {
  validator(name: SchemaName): ValidateFunction;
  /** The raw schema documents, keyed by file name (`server.schema.json`). */
  documents: ReadonlyMap<string, Record<string, unknown>>;
}

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020, formats: string[]) => Ajv2020;

function readSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_DIR + file, 'utf8')) as Record<string, unknown>;
}

function build(): SchemaSet {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true });
  addFormats(ajv, ['email', 'date-time']);
  ajv.addFormat('mamori-cidr', { type: 'string', validate: isCidr });
  ajv.addFormat('mamori-ip', { type: 'string', validate: isIpAddress });
  const documents = new Map<string, Record<string, unknown>>();
  for (const file of ['common', 'server', 'runbook', 'catalog', 'policy', 'config']) {
    const schema = readSchema(`${file}.schema.json`);
    documents.set(`${file}.schema.json`, schema);
    ajv.addSchema(schema, `${file}.schema.json`);
  }
  const compiled = new Map<SchemaName, ValidateFunction>();
  return {
    documents,
    validator(name) {
      let v = compiled.get(name);
      if (v === undefined) {
        v = ajv.getSchema(`${name}.schema.json`);
        if (v === undefined) throw new Error(`schema ${name} not registered`);
        compiled.set(name, v);
      }
      return v;
    },
  };
}

// One compiled set per process: the schemas are files shipped with mamori and
// never change while it runs, and compiling them per document would cost more
// than the validation itself.
let shared: SchemaSet | undefined;
export function schemaSet(): SchemaSet {
  shared ??= build();
  return shared;
}
