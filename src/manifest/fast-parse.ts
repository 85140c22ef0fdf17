/**
 * The fast path for plain documents. The yaml package gives positions and every
 * refusal, but costs ~200 µs a page; js-yaml reads the same plain YAML 1.2 core
 * documents ten times faster. So: a document without anchors, aliases, tags,
 * directives, several documents or explicit keys is read with js-yaml; positions
 * are computed with yaml only when someone asks (a finding, an editor link).
 * Anything js-yaml refuses, and any document that has a finding at all, is read
 * again by yaml (parse-yaml.ts), whose findings are the ones reported.
 */
import jsyaml from 'js-yaml';
import { parseYaml, type PositionIndex } from './parse-yaml.ts';
import { MANIFEST_LIMITS } from './limits.ts';
import type { SourcePosition } from './types.ts';

/** Syntax the fast path leaves to yaml: anchors, aliases, tags, directives, document markers, explicit keys. */
const NOT_PLAIN = /[&*!%]|^(---|\.\.\.)|^\s*\?\s/m;

function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<{ v: unknown; d: number }> = [{ v: value, d: 0 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop() as { v: unknown; d: number };
    if (d > max) max = d;
    if (d > MANIFEST_LIMITS.maxDepth) return d;
    if (Array.isArray(v)) for (const x of v) stack.push({ v: x, d: d + 1 });
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v as Record<string, unknown>)) stack.push({ v: x, d: d + 1 });
  }
  return max;
}

/** The document's value when it is plain YAML that js-yaml reads without complaint; undefined otherwise. */
export function fastParse(text: string): { value: unknown } | undefined {
  if (NOT_PLAIN.test(text) || text.includes('\u0000')) return undefined;
  let value: unknown;
  try {
    value = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA, json: false });
  } catch {
    return undefined;
  }
  if (depthOf(value) > MANIFEST_LIMITS.maxDepth) return undefined;
  return { value };
}

/** Positions computed by yaml on first use. */
export class LazyPositions implements PositionIndex {
  #text: string | undefined;
  #file: string;
  #inner: PositionIndex | undefined;
  constructor(text: string, file: string) {
    this.#text = text;
    this.#file = file;
  }
  #index(): PositionIndex {
    if (this.#inner === undefined) {
      this.#inner = parseYaml(this.#text ?? '', this.#file).positions;
      this.#text = undefined;
    }
    return this.#inner;
  }
  positionOf(field: string): SourcePosition {
    return this.#index().positionOf(field);
  }
  has(field: string): boolean {
    return this.#index().has(field);
  }
}
