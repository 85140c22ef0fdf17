/**
 * Status files as YAML text, both ways, at a fleet's pace. The yaml package took ~5 ms to write
 * and ~14 ms to read one 3 KB status file on this box (10,000 servers: a minute of CPU to write
 * them all at start, more than two to read them back after a restart); js-yaml, already used for
 * manifests (manifest/fast-parse.ts), takes ~0.3–0.5 ms for the same text. Written with the
 * options below, js-yaml's text is the text yaml wrote (block style, double quotes, no folding):
 * files written before and after read the same. A file js-yaml refuses is read again by yaml, so
 * nothing that yaml read before is refused now. Plain data only: the core schema, no references.
 */
import jsyaml from 'js-yaml';
import { parse } from 'yaml';

// skipInvalid: a field set to undefined is left out, as yaml left it out.
const DUMP: jsyaml.DumpOptions = { schema: jsyaml.CORE_SCHEMA, lineWidth: -1, noRefs: true, quotingType: '"', skipInvalid: true };

/** A status document (plain data: objects, arrays, strings, numbers, booleans) as YAML text. */
export function statusToYaml(doc: unknown): string {
  return jsyaml.dump(doc, DUMP);
}

/** A status file's text as data: js-yaml (core schema), or yaml for anything js-yaml refuses. */
export function statusFromYaml(text: string): unknown {
  try {
    return jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA });
  } catch {
    // Warnings (an unknown tag) are not errors here: the value is read as yaml reads it.
    return parse(text, { logLevel: 'error' });
  }
}
