/**
 * YAML to a plain value plus the source position of every field, refusing what a
 * manifest never needs and an attacker would use: duplicate keys, tags, alias
 * bombs, deep nesting, several documents in one file, binary content.
 *
 * Messages never quote the source: a line with a syntax error may be a secret
 * someone pasted by mistake.
 */
import { LineCounter, Parser, Composer, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { Finding, SourcePosition } from './types.ts';
import { joinField } from './field-path.ts';
import { MANIFEST_LIMITS } from './limits.ts';

export interface PositionIndex {
  /** The position of a field, or of its nearest enclosing field that exists. */
  positionOf(field: string): SourcePosition;
  has(field: string): boolean;
}

export interface ParsedYaml {
  /** The document as plain data; undefined when it could not be read at all. */
  value: unknown;
  positions: PositionIndex;
  /** Errors found while reading; when any is present, `value` must not be trusted. */
  findings: Finding[];
}

const TOP: SourcePosition = { line: 1, col: 1 };
const CORE_TAG = /^tag:yaml\.org,2002:(str|int|float|bool|null|map|seq)$/;

class Positions implements PositionIndex {
  readonly map = new Map<string, SourcePosition>([['', TOP]]);
  positionOf(field: string): SourcePosition {
    let f: string | undefined = field;
    while (f !== undefined) {
      const p = this.map.get(f);
      if (p !== undefined) return p;
      f = shorten(f);
    }
    return TOP;
  }
  has(field: string): boolean {
    return this.map.has(field);
  }
}

function shorten(field: string): string | undefined {
  if (field === '') return undefined;
  const bracket = field.lastIndexOf('[');
  const dot = field.lastIndexOf('.');
  const cut = Math.max(bracket, dot);
  return cut <= 0 ? '' : field.slice(0, cut);
}

/**
 * Flow collections nest without growing the file much (`[[[[…`), and the YAML parser
 * spends seconds on 100,000 levels: count them before parsing. Quoted text and
 * comments are skipped; brackets inside plain scalars are rare and usually balanced.
 */
function flowDepthExceeds(text: string, limit: number): number | undefined {
  let depth = 0;
  let quote = '';
  let comment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (comment) {
      if (c === 10) comment = false;
      continue;
    }
    if (quote !== '') {
      if (quote === '"' && c === 92) i++;
      else if (text[i] === quote) quote = '';
      continue;
    }
    if (c === 91 || c === 123) {
      if (++depth > limit) return i;
    } else if (c === 93 || c === 125) {
      if (depth > 0) depth--;
    } else if (c === 34 || c === 39) {
      const prev = i > 0 ? text[i - 1] : ' ';
      if (prev === ' ' || prev === '[' || prev === '{' || prev === ',' || prev === ':' || prev === '\n') quote = text[i] as string;
    } else if (c === 35) {
      const prev = i > 0 ? text[i - 1] : ' ';
      if (prev === ' ' || prev === '\n' || prev === '\t') comment = true;
    }
  }
  return undefined;
}

export function parseYaml(text: string, file: string): ParsedYaml {
  const positions = new Positions();
  const findings: Finding[] = [];
  const lc = new LineCounter();
  const at = (offset: number): SourcePosition => {
    const p = lc.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const fail = (pos: SourcePosition, field: string, rule: string, message: string): ParsedYaml => {
    findings.push({ file, line: pos.line, col: pos.col, field, rule, message, severity: 'error' });
    return { value: undefined, positions, findings };
  };

  if (text.includes('\u0000')) {
    return fail(TOP, '', 'file-binary', 'the file contains NUL bytes: a manifest is UTF-8 text');
  }
  const deepAt = flowDepthExceeds(text, MANIFEST_LIMITS.maxDepth);
  if (deepAt !== undefined) {
    // Count lines by hand: the LineCounter is only filled by the parser.
    const before = text.slice(0, deepAt);
    const line = before.split('\n').length;
    const col = deepAt - before.lastIndexOf('\n');
    return fail({ line, col }, '', 'yaml-depth', `nesting deeper than ${MANIFEST_LIMITS.maxDepth} levels is refused`);
  }

  const docs: Document.Parsed[] = [];
  const composer = new Composer({ uniqueKeys: true, prettyErrors: false, schema: 'core', customTags: [] });
  for (const doc of composer.compose(new Parser(lc.addNewLine).parse(text), true, text.length)) docs.push(doc);
  const doc = docs[0];
  if (docs.length > 1) {
    const second = docs[1];
    const pos = second?.range ? at(second.range[0]) : TOP;
    fail(pos, '', 'yaml-multiple-documents', 'one document per file: split the documents at --- into files of their own');
  }
  if (doc === undefined) return fail(TOP, '', 'yaml-empty', 'the file is empty: a manifest is one YAML document');

  let syntax = false;
  for (const e of doc.errors) {
    if (e.code === 'DUPLICATE_KEY') continue; // reported below, with the field
    syntax = true;
    fail(at(e.pos[0]), '', 'yaml-syntax', `not valid YAML: ${firstLine(e.message)}`);
  }
  for (const w of doc.warnings) {
    if (w.code === 'TAG_RESOLVE_FAILED') continue; // reported below, with the field
    fail(at(w.pos[0]), '', 'yaml-syntax', `questionable YAML: ${firstLine(w.message)}`);
  }
  if (syntax) return { value: undefined, positions, findings };

  // Walk the tree without recursion: record positions, refuse tags, complex keys,
  // duplicate keys and depth.
  let firstAlias: { field: string; pos: SourcePosition } | undefined;
  let bad = false;
  const stack: Array<{ node: unknown; field: string; depth: number }> = [{ node: doc.contents, field: '', depth: 0 }];
  while (stack.length > 0) {
    const { node, field, depth } = stack.pop() as { node: unknown; field: string; depth: number };
    if (node === null || node === undefined) continue;
    const n = node as Node;
    const pos = n.range ? at(n.range[0]) : positions.positionOf(field);
    if (depth > MANIFEST_LIMITS.maxDepth) {
      fail(pos, field, 'yaml-depth', `nesting deeper than ${MANIFEST_LIMITS.maxDepth} levels is refused`);
      bad = true;
      break;
    }
    if (isAlias(n)) {
      firstAlias ??= { field, pos };
      continue;
    }
    if (!isScalar(n) && !isMap(n) && !isSeq(n)) continue;
    if (n.tag !== undefined && !CORE_TAG.test(n.tag)) {
      fail(pos, field, 'yaml-tag', 'YAML tags (!name) are not accepted: write a plain value');
      bad = true;
      continue;
    }
    if (isMap(n)) {
      const seen = new Set<string>();
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        const key = pair.key;
        if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number' && typeof key.value !== 'boolean')) {
          const kpos = key !== null && typeof key === 'object' && 'range' in key && Array.isArray(key.range) ? at(key.range[0] as number) : pos;
          fail(kpos, field, 'yaml-key', 'keys must be plain names');
          bad = true;
          continue;
        }
        if (key.tag !== undefined && !CORE_TAG.test(key.tag)) {
          fail(key.range ? at(key.range[0]) : pos, field, 'yaml-tag', 'YAML tags (!name) are not accepted: write a plain value');
          bad = true;
          continue;
        }
        const name = String(key.value);
        const child = joinField(field, name);
        const kpos = key.range ? at(key.range[0]) : pos;
        if (seen.has(name)) {
          fail(kpos, child, 'yaml-duplicate-key', `the key ${name} appears twice in the same map: keep one`);
          bad = true;
          continue;
        }
        seen.add(name);
        positions.map.set(child, kpos);
        stack.push({ node: pair.value, field: child, depth: depth + 1 });
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => {
        const child = joinField(field, i);
        const ipos = item !== null && typeof item === 'object' && 'range' in item && Array.isArray(item.range) ? at(item.range[0] as number) : pos;
        positions.map.set(child, ipos);
        stack.push({ node: item, field: child, depth: depth + 1 });
      });
    }
  }
  if (bad) return { value: undefined, positions, findings };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MANIFEST_LIMITS.maxAliasCount });
  } catch (err) {
    if (err instanceof ReferenceError && firstAlias !== undefined) {
      return fail(firstAlias.pos, firstAlias.field, 'yaml-alias', `aliases expand to too much (more than ${MANIFEST_LIMITS.maxAliasCount} expansions): write the values out`);
    }
    const message = err instanceof Error ? firstLine(err.message) : 'unreadable';
    return fail(firstAlias?.pos ?? TOP, firstAlias?.field ?? '', 'yaml-alias', `aliases cannot be resolved: ${message}`);
  }
  return { value, positions, findings };
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}
