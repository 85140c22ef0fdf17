/**
 * ajv's errors turned into findings a customer can act on: the field path, its
 * position, and a sentence built from the schema's own titles and descriptions.
 * oneOf noise is collapsed into one finding per place; values are never quoted
 * (a wrong value may be a pasted secret).
 */
import type { ErrorObject } from 'ajv';
import type { Finding } from './types.ts';
import type { PositionIndex } from './parse-yaml.ts';
import { fieldFromPointer, joinField } from './field-path.ts';
import { classifyHostile, hostileMessage } from './hostile.ts';
import { ipv4EmbeddedForm } from './networks.ts';

type Schema = Record<string, unknown>;

interface Pending {
  /** ajv's instancePath of the place the finding is about. */
  pointer: string;
  schemaPath: string;
  field: string;
  message: string;
  rule: string;
  /** A finding about a key (its position is the key's). */
  key?: boolean;
}

const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
/** A console token: no alternative can match the same character twice, so it runs in linear time. */
const CONSOLE_TARGET_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]*([.:][A-Za-z0-9][A-Za-z0-9_-]*)*$';

/** Friendlier words for the patterns people meet most. */
const PATTERN_WORDS: Record<string, string> = {
  [NAME_PATTERN]: 'lower-case letters, digits and hyphens (1-63 characters, starting and ending with a letter or digit)',
  '^SHA256:[A-Za-z0-9+/]{43}=?$': 'SHA256:<43 base64 characters> (as ssh-keygen -lf prints it)',
  '^[0-9]+(\\.[0-9]+){0,3}$': 'a dotted version such as "5.4" (quoted)',
  '^[a-z][a-z0-9-]{0,31}$': 'a lower-case key of letters, digits and hyphens, starting with a letter',
  '^[^\\r\\n]*$': 'one line of text',
  '^[^\\r\\n<>"]*$': 'one line of text without < > or "',
  '^[a-z_][a-z0-9_-]{0,31}$': 'a Unix user name (lower-case letters, digits, _ and -)',
  '^[A-Z][A-Za-z0-9]{0,63}$': 'a PascalCase word such as ManualCheckRequired',
  [CONSOLE_TARGET_PATTERN]: 'a console token such as port7 or ts1:7: words of letters, digits, _ and - joined by single . or : (never a path: no /, no ..)',
};

const FORMAT_WORDS: Record<string, string> = {
  'mamori-ip': 'an IPv4 or IPv6 address such as 203.0.113.10 (no host names)',
  'mamori-cidr': 'a network in CIDR notation, such as 210.224.172.0/24',
  email: 'one e-mail address, such as ops@example.com',
  'date-time': 'an RFC 3339 time with a time zone, such as 2026-01-31T02:00:00+09:00',
};

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map of fields',
  null: 'empty',
};

function typeWords(t: unknown): string {
  if (Array.isArray(t)) return t.map(typeWords).join(' or ');
  return typeof t === 'string' ? (TYPE_WORDS[t] ?? t) : 'another type';
}

function describe(schema: unknown): string {
  if (schema === null || typeof schema !== 'object') return '';
  const s = schema as Schema;
  const title = typeof s.title === 'string' ? s.title : undefined;
  const description = typeof s.description === 'string' ? s.description : undefined;
  if (title && description) return `${title}: ${description}`;
  return title ?? description ?? '';
}

function expectedWords(schema: Schema): string {
  if (typeof schema.format === 'string' && FORMAT_WORDS[schema.format]) return FORMAT_WORDS[schema.format] as string;
  if (typeof schema.pattern === 'string' && PATTERN_WORDS[schema.pattern]) return PATTERN_WORDS[schema.pattern] as string;
  const d = typeof schema.description === 'string' ? schema.description : undefined;
  return d ? `as described: ${d}` : 'of the documented form';
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min((prev[j] as number) + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}

function closest(name: string, options: string[]): string | undefined {
  let best: string | undefined;
  let score = 3;
  for (const o of options) {
    const d = levenshtein(name.toLowerCase(), o.toLowerCase());
    if (d < score) {
      best = o;
      score = d;
    }
  }
  return best;
}

function isEmailish(field: string, schema: Schema): boolean {
  return schema.format === 'email' || /(^|\.)(contact|mail)(\.|\[|$)/.test(field);
}

/** Names become file names; console targets are spliced into the operator's console commands (often into a path). */
function fileNamed(schema: Schema): boolean {
  return schema.pattern === NAME_PATTERN || schema.pattern === CONSOLE_TARGET_PATTERN;
}

/** One error → one pending finding, or undefined when it only restates another. */
function explain(e: ErrorObject, data: unknown): Pending | undefined {
  const parent = (e.parentSchema ?? {}) as Schema;
  const base = fieldFromPointer(e.instancePath, data);
  const p = e.params as Record<string, unknown>;
  const at = (field: string, message: string, rule = 'schema', key = false): Pending => ({
    pointer: e.instancePath,
    schemaPath: e.schemaPath,
    field,
    message,
    rule,
    key,
  });

  // Errors about a property *name* (propertyNames): the key is the field.
  if (e.propertyName !== undefined) {
    const field = joinField(base, e.propertyName);
    if (e.keyword === 'enum') return at(field, `is not allowed here: the keys must be one of ${(p.allowedValues as unknown[]).join(', ')}`, 'schema', true);
    if (e.keyword === 'pattern') return at(field, `is not an allowed key: keys must be ${expectedWords(parent)}`, 'schema', true);
    return at(field, 'is not an allowed key here', 'schema', true);
  }
  const value = e.data;
  switch (e.keyword) {
    case 'propertyNames':
      return undefined; // the inner error names the key
    case 'required': {
      const missing = String(p.missingProperty);
      const props = (parent.properties ?? {}) as Record<string, unknown>;
      const about = describe(props[missing]);
      return at(joinField(base, missing), `is required${about ? ` (${about})` : ''}`);
    }
    case 'additionalProperties': {
      const extra = String(p.additionalProperty);
      if (parent.title === 'Console and power' && /^(command|console|power|consoleCommand|powerCommand|argv|driver)$/.test(extra)) {
        return at(joinField(base, extra), "is refused: a manifest names one of the operator's console/power profiles (spec.console.profile), never a command", 'owner-console-profile', true);
      }
      const known = Object.keys((parent.properties ?? {}) as Record<string, unknown>);
      const guess = closest(extra, known);
      const where = typeof parent.title === 'string' ? ` of ${parent.title}` : '';
      const hint = guess ? `: did you mean ${guess}?` : known.length > 0 && known.length <= 14 ? `: the fields are ${known.join(', ')}` : '';
      return at(joinField(base, extra), `is not a field${where}${hint}`, 'schema', true);
    }
    case 'type': {
      if (p.type === 'string' && typeof value === 'number') {
        return at(base, 'must be text: quote it (for example "5.4") so that YAML does not read it as a number');
      }
      return at(base, `must be ${typeWords(p.type)}`);
    }
    case 'enum':
      return at(base, `must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`);
    case 'const':
      return at(base, `must be ${String(p.allowedValue)}`);
    case 'pattern':
    case 'format': {
      const expected = expectedWords(parent);
      const embedded = typeof value === 'string' && (parent.format === 'mamori-ip' || parent.format === 'mamori-cidr') ? ipv4EmbeddedForm(value) : undefined;
      if (embedded !== undefined) {
        return at(base, `must be ${expected}: ${String(value)} is ${embedded}; write the IPv4 ${parent.format === 'mamori-ip' ? 'address' : 'network'} itself (parsers disagree on where these forms lead)`, 'network-ipv4-embedded');
      }
      if (typeof value === 'string') {
        const kind = classifyHostile(value, { header: isEmailish(base, parent), fileName: fileNamed(parent) });
        if (kind !== undefined) return at(base, hostileMessage(kind, expected), kind);
      }
      return at(base, `must be ${expected}`);
    }
    case 'maxLength':
      return at(base, `is too long: at most ${String(p.limit)} characters`);
    case 'minLength':
      return at(base, `must not be empty`);
    case 'minimum':
    case 'exclusiveMinimum':
      return at(base, `must be ${e.keyword === 'minimum' ? 'at least' : 'more than'} ${String(p.limit)}`);
    case 'maximum':
    case 'exclusiveMaximum':
      return at(base, `must be ${e.keyword === 'maximum' ? 'at most' : 'less than'} ${String(p.limit)}`);
    case 'minItems':
      return at(base, `needs at least ${String(p.limit)} ${p.limit === 1 ? 'entry' : 'entries'}`);
    case 'maxItems':
      return at(base, `has too many entries: at most ${String(p.limit)}`);
    case 'minProperties':
      return at(base, p.limit === 1 ? 'must not be empty' : `needs at least ${String(p.limit)} fields`);
    case 'maxProperties':
      return at(base, p.limit === 1 ? 'must have exactly one key' : `has too many fields: at most ${String(p.limit)}`);
    case 'uniqueItems':
      return at(joinField(base, Number(p.i)), `repeats entry ${String(p.j)}: list each once`);
    default:
      return at(base, e.message ?? 'is not valid');
  }
}

function under(pointer: string, parent: string): boolean {
  return pointer === parent || pointer.startsWith(`${parent}/`);
}

function branchOf(schemaPath: string, oneOfPath: string): number | undefined {
  if (!schemaPath.startsWith(`${oneOfPath}/`)) return undefined;
  const seg = schemaPath.slice(oneOfPath.length + 1).split('/')[0];
  return seg !== undefined && /^[0-9]+$/.test(seg) ? Number(seg) : undefined;
}

/** A oneOf whose branches only say which key is present (a step's kind). */
function requiredOnlyKeys(branches: Schema[]): string[] | undefined {
  const keys: string[] = [];
  for (const b of branches) {
    const ks = Object.keys(b);
    if (ks.length !== 1 || ks[0] !== 'required' || !Array.isArray(b.required)) return undefined;
    keys.push(...(b.required as string[]));
  }
  return keys;
}

/** A oneOf told apart by one property's const (driver: ipmi | command | manual). */
function discriminator(branches: Schema[]): { prop: string; values: unknown[] } | undefined {
  const first = branches[0]?.properties as Record<string, Schema> | undefined;
  if (!first) return undefined;
  for (const prop of Object.keys(first)) {
    const values = branches.map((b) => ((b.properties as Record<string, Schema> | undefined)?.[prop] as Schema | undefined)?.const);
    if (values.every((v) => v !== undefined)) return { prop, values };
  }
  return undefined;
}

function article(title: string): string {
  const t = title.toLowerCase();
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

const SERVICE_ITEM = /^spec\.services\[\d+\]$/;

function collapseOneOf(e: ErrorObject, inner: Pending[], data: unknown): Pending[] {
  const branches = (Array.isArray(e.schema) ? e.schema : []) as Schema[];
  const parent = (e.parentSchema ?? {}) as Schema;
  const field = fieldFromPointer(e.instancePath, data);
  const value = e.data;
  const one = (message: string, f = field): Pending[] => [{ pointer: e.instancePath, schemaPath: e.schemaPath, field: f, message, rule: 'schema' }];

  const keys = requiredOnlyKeys(branches);
  if (keys !== undefined) {
    const what = typeof parent.title === 'string' ? article(parent.title) : 'this';
    // Keep what is wrong inside the step; drop the "missing check / run / …" noise.
    const rest = inner.filter((x) => !(x.pointer === e.instancePath && x.rule === 'schema' && keys.some((k) => x.field === joinField(field, k))));
    return [...one(`${what} needs exactly one of ${keys.join(', ')}`), ...rest.filter((x) => x.pointer !== e.instancePath || x.key)];
  }
  const disc = discriminator(branches);
  if (disc !== undefined && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const chosen = disc.values.findIndex((v) => v === (value as Record<string, unknown>)[disc.prop]);
    if (chosen < 0) {
      return one(`must be one of ${disc.values.map(String).join(', ')}`, joinField(field, disc.prop));
    }
    const kept = inner.filter((x) => {
      const b = branchOf(x.schemaPath, e.schemaPath);
      return b === chosen || (b === undefined && x.pointer !== e.instancePath);
    });
    return kept.length > 0 ? kept : one('does not match the form of its kind');
  }
  if (e.params && (e.params as { passingSchemas?: unknown }).passingSchemas) {
    return one('matches more than one allowed form: make it unambiguous');
  }
  // Otherwise keep what points deeper than this place (it explains which form was meant),
  // and key errors; else say in one sentence what the place may hold.
  const deeper = inner.filter((x) => x.pointer !== e.instancePath || x.key);
  const unique = dedupe(deeper);
  if (unique.length > 0) return unique;
  if (typeof value === 'string') {
    const kind = classifyHostile(value, { header: false, fileName: false });
    if (kind !== undefined) return [{ ...one('')[0] as Pending, message: hostileMessage(kind, 'a plain word from the documented list'), rule: kind }];
  }
  if (SERVICE_ITEM.test(field)) {
    return one('must be a service name (ping, http, https, ftp, ssh, telnet, smtp, pop3, imap, smtps, pop3s, imaps) or a one-key map of a service to its options, such as { https: { path: / } }');
  }
  const d = describe(parent);
  return one(`does not match any allowed form${d ? ` (${d})` : ''}`);
}

function dedupe(list: Pending[]): Pending[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const k = `${x.field}\u0000${x.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Turn ajv's errors for one document into findings. `skip` holds field paths whose
 * findings are already reported another way (a secret written inline).
 */
export function explainSchemaErrors(
  errors: readonly ErrorObject[],
  data: unknown,
  positions: PositionIndex,
  file: string,
  skip: readonly string[] = [],
): Finding[] {
  let pending: Pending[] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf') {
      const inner = pending.filter((x) => under(x.pointer, e.instancePath));
      const outer = pending.filter((x) => !under(x.pointer, e.instancePath));
      pending = [...outer, ...collapseOneOf(e, inner, data)];
      continue;
    }
    const p = explain(e, data);
    if (p !== undefined) pending.push(p);
  }
  const out: Finding[] = [];
  for (const x of dedupe(pending)) {
    if (skip.some((s) => x.field === s || x.field.startsWith(`${s}.`) || x.field.startsWith(`${s}[`))) continue;
    const pos = positions.positionOf(x.field);
    out.push({ file, line: pos.line, col: pos.col, field: x.field, message: x.message, rule: x.rule, severity: 'error' });
  }
  return out;
}

