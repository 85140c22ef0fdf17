import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { statusFromYaml, statusToYaml } from '../../src/status/status-yaml.ts';

/** Plain data as status files hold it: strings of any kind (a peer's banner, a runbook's output), numbers, booleans, nesting. */
const key = fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__');
const leaf = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('True', 'False', 'null', '~', 'yes', 'no', '0x1F', '1e3', '-', '- x', ': x', '#x', 'a: b', ' lead', 'trail ', 'x\ny', '', '2026-12-07T01:13:51.007Z', '@x', '`x', "'q'", '"d"'),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
  fc.boolean(),
  fc.constant(null),
);
const data = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
})).object;

describe('status files as YAML', () => {
  test('what is written reads back the same, by yaml and by the fast reader', () => {
    fc.assert(
      fc.property(data, (doc) => {
        const text = statusToYaml(doc);
        expect(parse(text)).toEqual(doc);
        expect(statusFromYaml(text)).toEqual(doc);
      }),
      { numRuns: 500 },
    );
  });

  test('files that yaml wrote (before) read the same with the fast reader', () => {
    fc.assert(
      fc.property(data, (doc) => {
        expect(statusFromYaml(stringify(doc, { lineWidth: 0 }))).toEqual(doc);
      }),
      { numRuns: 500 },
    );
  });

  test("a status document's text is the text yaml wrote for it", () => {
    const at = '2026-12-07T01:13:51.007Z';
    const doc = {
      apiVersion: 'mamori/v1',
      kind: 'ServerStatus',
      metadata: { name: 's8268', customer: 'c68' },
      observedRevision: '9564df679b933483abc517ed9227fa00c3469fb5',
      updatedAt: at,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'AllServicesUp', message: 'every watched service answers', lastTransitionTime: at },
        { type: 'Degraded', status: 'False', reason: 'NoFailures', message: '', lastTransitionTime: at },
      ],
      services: {
        http: { state: 'Healthy', since: at, consecutiveFailures: 0, lastProbe: { at, up: true, latencyMs: 0.412, peer: 'HTTP/1.1 200 OK' } },
        ssh: { state: 'Down', since: at, consecutiveFailures: 3, lastProbe: { at, up: false, latencyMs: 5000, failure: { kind: 'timeout', phase: 'banner', message: 'no reply within 5000 ms' } } },
      },
      incidents: { open: [], recent: [{ id: 'c68/s8268.ssh.1', service: 'ssh', transcript: 'line one\nline two: with a colon\n' }] },
    };
    expect(statusToYaml(doc)).toBe(stringify(doc, { lineWidth: 0 }));
  });

  test('a field left undefined is left out, as before', () => {
    expect(parse(statusToYaml({ a: 1, b: undefined, c: { d: undefined, e: 'x' } }))).toEqual({ a: 1, c: { e: 'x' } });
  });

  test('text the fast reader refuses is read by yaml', () => {
    // js-yaml refuses a tag it does not know; yaml reads the value (with a warning).
    expect(statusFromYaml('a: !custom x\nb: 2\n')).toEqual({ a: 'x', b: 2 });
  });
});
