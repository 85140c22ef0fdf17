/**
 * Secrets written where a secretRef belongs. The finding says where and what to do,
 * never what the value was: a manifest is in git, and so is every CI log.
 */
import type { Finding } from './types.ts';
import type { PositionIndex } from './parse-yaml.ts';
import { joinField } from './field-path.ts';
import type { SchemaName } from './schemas.ts';

/** Fields that must hold `{ secretRef: name }`, per kind ('*' matches any key). */
const SECRET_SLOTS: Record<SchemaName, string[][]> = {
  server: [
    ['spec', 'access', 'credentials'],
    ['spec', 'access', 'sudo', 'password'],
    ['spec', 'console', 'credentials'],
    ['spec', 'secrets', '*'],
  ],
  config: [
    ['source', 'credentials'],
    ['http', 'token'],
    ['http', 'tokens', '*'],
    ['http', 'webhookSecret'],
    ['mail', 'smtp', 'auth'],
    ['alerting', 'webhooks', '*', 'secret'],
    ['alerting', 'webhooks', '*', 'urlSecret'],
  ],
  runbook: [],
  catalog: [],
  policy: [],
};

/** Keys that, holding a plain value anywhere, can only be a secret typed in. */
const SECRET_KEY = /^(password|passwd|passphrase|pass|privatekey|private_key|private-key|apikey|api_key|api-key|token|credentials)$/i;
const PEM = /-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|CERTIFICATE)-----|PRIVATE KEY-----/;

const MESSAGE =
  'a secret is written here: write { secretRef: <name> } instead and put the secret in the secrets folder or in MAMORI_SECRET_<NAME>. The value is not repeated here; as it is now in the history, change it';

export function scanInlineSecrets(kind: SchemaName, data: unknown, positions: PositionIndex, file: string): Finding[] {
  const found = new Set<string>();
  const add = (field: string): void => {
    found.add(field);
  };
  // Known slots: anything but a map there is a secret typed in.
  for (const slot of SECRET_SLOTS[kind]) {
    const walk = (node: unknown, i: number, field: string): void => {
      if (i === slot.length) {
        if (node !== undefined && node !== null && (typeof node !== 'object' || Array.isArray(node))) add(field);
        return;
      }
      const seg = slot[i] as string;
      // '*' walks a list's items too (http.tokens[*]); a named key never matches a list.
      if (node === null || typeof node !== 'object' || (Array.isArray(node) && seg !== '*')) return;
      const obj = node as Record<string, unknown>;
      for (const key of seg === '*' ? Object.keys(obj) : [seg]) {
        if (key in obj) walk(obj[key], i + 1, joinField(field, Array.isArray(node) ? Number(key) : key));
      }
    };
    walk(data, 0, '');
  }
  // Anywhere: PEM blocks, and plain values under keys that only ever name secrets.
  const stack: Array<{ node: unknown; field: string; key: string | undefined }> = [{ node: data, field: '', key: undefined }];
  let budget = 100_000;
  while (stack.length > 0 && budget-- > 0) {
    const { node, field, key } = stack.pop() as { node: unknown; field: string; key: string | undefined };
    if (typeof node === 'string') {
      if (PEM.test(node) || (key !== undefined && SECRET_KEY.test(key) && node.length > 0)) add(field);
    } else if (typeof node === 'number' && key !== undefined && SECRET_KEY.test(key)) {
      add(field);
    } else if (Array.isArray(node)) {
      node.forEach((v, i) => stack.push({ node: v, field: joinField(field, i), key }));
    } else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) stack.push({ node: v, field: joinField(field, k), key: k });
    }
  }
  return [...found].sort().map((field) => {
    const pos = positions.positionOf(field);
    return { file, line: pos.line, col: pos.col, field, rule: 'secret-inline', message: MESSAGE, severity: 'error' as const };
  });
}
