/** Tables for the small pure parts: versions, networks, YAML positions and refusals, schema sentences. */
import { describe, expect, test } from 'vitest';
import { compareVersions, versionInRange } from '../../src/manifest/version.ts';
import { isCidr, isIpAddress, networksCover } from '../../src/manifest/networks.ts';
import { anyAddressCheck, assertTarget, reloadableTargetCheck, targetCheck } from '../../src/manifest/target-networks.ts';
import { isMamoriError } from '../../src/errors.ts';
import { parseYaml } from '../../src/manifest/parse-yaml.ts';
import { schemaSet } from '../../src/manifest/schemas.ts';
import { explainSchemaErrors } from '../../src/manifest/schema-errors.ts';
import { formatGithubAnnotation } from '../../src/manifest/format-findings.ts';

describe('compareVersions', () => {
  test.each([
    ['10.0', '6.3', 1],
    ['6.3', '6.3', 0],
    ['5', '5.0', 0],
    ['5.10', '5.9', 1],
    ['4.8', '5', -1],
    ['6.2', '6.3', -1],
  ])('%s vs %s → %i', (a, b, want) => {
    expect(Math.sign(compareVersions(a, b))).toBe(want);
  });
  test('ranges are [min, below)', () => {
    expect(versionInRange('6.3', '6.3', '16')).toBe(true);
    expect(versionInRange('16', '6.3', '16')).toBe(false);
    expect(versionInRange('15.9', '6.3', '16')).toBe(true);
  });
});

describe('networks', () => {
  test.each([
    ['203.0.113.10', true],
    ['2001:db8::1', true],
    ['203.0.113.300', false],
    ['203.0.113', false],
    ['0x7f.1', false],
    ['web01.example', false],
    ['fe80::1%eth0', false],
    ['203.0.113.10; reboot', false],
    ['::1', true],
    ['::', true],
    // IPv4 written as IPv6: refused in every spelling
    ['::203.0.113.10', false],
    ['::ffff:203.0.113.10', false],
    ['0:0:0:0:0:ffff:203.0.113.10', false],
    ['::ffff:cb00:710a', false],
    ['::cb00:710a', false],
    ['::ffff:0:cb00:710a', false],
    ['2001:db8::203.0.113.10', false],
  ])('isIpAddress(%s) = %s', (v, want) => expect(isIpAddress(v)).toBe(want));
  test.each([
    ['210.224.172.0/24', true],
    ['2001:db8::/32', true],
    ['210.224.172.0/33', false],
    ['210.224.172.0', false],
    ['210.224.172.0/24/1', false],
    ['::ffff:210.224.172.0/120', false],
    ['::ffff:0:0/96', false],
    ['::d2e0:ac00/120', false],
    ['::/0', true],
  ])('isCidr(%s) = %s', (v, want) => expect(isCidr(v)).toBe(want));
  test('coverage of management networks; target containment', () => {
    expect(networksCover(['210.224.172.0/23'], '210.224.172.0/24')).toBe(true);
    expect(networksCover(['210.224.172.0/25'], '210.224.172.0/24')).toBe(false);
    expect(networksCover(['0.0.0.0/0'], '210.188.224.0/24')).toBe(true);
  });
});

describe('the target check', () => {
  const t = targetCheck(['203.0.113.0/24', '2001:db8::/32']);
  test.each([
    ['203.0.113.7', 'ok'],
    ['2001:db8::7', 'ok'],
    ['198.51.100.7', 'outside'],
    ['2001:db9::7', 'outside'],
    // ipaddr.js reads ::203.0.113.7 as ::ffff:203.0.113.7 and would call it 203.0.113.7; the kernel connects elsewhere
    ['::203.0.113.7', 'ipv4-embedded'],
    ['::ffff:203.0.113.7', 'ipv4-embedded'],
    ['::ffff:cb00:7107', 'ipv4-embedded'],
    ['web01.example', 'not-an-address'],
    ['203.0.113.7 ', 'not-an-address'],
  ])('%s → %s', (address, want) => {
    const v = t.check(address);
    expect(v.ok ? 'ok' : v.reason).toBe(want);
    if (!v.ok) expect(v.message).toContain(want === 'outside' ? '203.0.113.0/24, 2001:db8::/32' : address.trim().slice(0, 10));
  });

  test('an IPv4 network does not hold IPv6 spellings of its addresses, whatever the network', () => {
    expect(targetCheck(['0.0.0.0/0', '::/0']).check('::ffff:10.0.0.1')).toMatchObject({ ok: false, reason: 'ipv4-embedded' });
    expect(anyAddressCheck().check('::10.0.0.1')).toMatchObject({ ok: false, reason: 'ipv4-embedded' });
    expect(anyAddressCheck().check('198.51.100.7')).toEqual({ ok: true });
  });

  test('a reloadable check judges by the networks it was last given', () => {
    const r = reloadableTargetCheck(['203.0.113.0/24']);
    expect(r.check('203.0.113.7').ok).toBe(true);
    r.replace(['198.51.100.0/24']);
    expect(r.check('203.0.113.7')).toMatchObject({ ok: false, reason: 'outside' });
    expect(r.networks).toEqual(['198.51.100.0/24']);
  });

  test('assertTarget throws MAMORI_TARGET_REFUSED naming what would have connected', () => {
    let caught: unknown;
    try {
      assertTarget(t, '198.51.100.7', 'SSH');
    } catch (err) {
      caught = err;
    }
    expect(isMamoriError(caught, 'MAMORI_TARGET_REFUSED')).toBe(true);
    expect((caught as Error).message).toMatch(/^SSH: 198\.51\.100\.7 is outside the operator's target networks/);
  });
});

describe('parseYaml', () => {
  test('positions of keys and list items, 1-based', () => {
    const p = parseYaml('a:\n  b: [x, y]\n  c:\n    - d: 1\n', 'f.yaml');
    expect(p.findings).toEqual([]);
    expect(p.value).toEqual({ a: { b: ['x', 'y'], c: [{ d: 1 }] } });
    expect(p.positions.positionOf('a.b')).toEqual({ line: 2, col: 3 });
    expect(p.positions.positionOf('a.b[1]')).toEqual({ line: 2, col: 10 });
    expect(p.positions.positionOf('a.c[0].d')).toEqual({ line: 4, col: 7 });
    // An absent field falls back to its nearest parent.
    expect(p.positions.positionOf('a.c[0].missing')).toEqual({ line: 4, col: 7 });
  });
  test('a few aliases and the core tags are fine; a comment with brackets does not count as nesting', () => {
    const p = parseYaml(`nets: &n [a, b]\nmore: *n\nv: !!str 5\n# ${'['.repeat(100)}\n`, 'f.yaml');
    expect(p.findings).toEqual([]);
    expect(p.value).toEqual({ nets: ['a', 'b'], more: ['a', 'b'], v: '5' });
  });
  test.each([
    ['a: 1\na: 2\n', 'yaml-duplicate-key', 2],
    ['a: !!binary aGk=\n', 'yaml-tag', 1],
    ['a: !ruby/object x\n', 'yaml-tag', 1],
    ['a: [\n', 'yaml-syntax', 2],
    ['? [a]\n: 1\n', 'yaml-key', 1],
    ['a: 1\n---\nb: 2\n', 'yaml-multiple-documents', 2],
  ])('%j → %s at line %i', (text, rule, line) => {
    const p = parseYaml(text, 'f.yaml');
    expect(p.findings[0]).toMatchObject({ rule, line, severity: 'error' });
  });
  test('an empty document has no value but is not an error of its own (the validator says what a manifest is)', () => {
    for (const text of ['', '# only a comment\n']) {
      const p = parseYaml(text, 'f.yaml');
      expect(p.findings).toEqual([]);
      expect(p.value ?? null).toBeNull();
    }
  });
});

describe('schema sentences', () => {
  function explain(kind: 'server' | 'runbook' | 'config', text: string): string[] {
    const p = parseYaml(text, 'f.yaml');
    const v = schemaSet().validator(kind);
    v(p.value);
    return explainSchemaErrors(v.errors ?? [], p.value, p.positions, 'f.yaml').map((f) => `${f.line} ${f.field}: ${f.message} [${f.rule}]`);
  }
  test('a misspelt service key names the key, not oneOf', () => {
    const out = explain('server', 'spec:\n  services: [ping, { htps: {} }]\n');
    expect(out.filter((l) => l.includes('services'))).toEqual(['2 spec.services[1].htps: is not allowed here: the keys must be one of ping, http, https, ftp, ssh, telnet, smtp, pop3, imap, smtps, pop3s, imaps [schema]']);
  });
  test('a bad option inside a service with options points at the option', () => {
    const out = explain('server', 'spec:\n  services:\n    - https: { path: "no-slash" }\n');
    expect(out.filter((l) => l.includes('services'))).toEqual([expect.stringMatching(/^3 spec\.services\[0\]\.https\.path: must be as described: http\/https: the path fetched/)]);
  });
  test('a folder source with git fields says which fields', () => {
    const out = explain('config', 'source: { type: git }\n');
    expect(out).toEqual(['1 source.url: is required (URL: The repository to clone (file path, ssh:// or https://). Credentials never go in the URL: use credentials.) [schema]']);
  });
  test('an unknown source type lists the types', () => {
    expect(explain('config', 'source: { type: svn }\n')).toEqual(['1 source.type: must be one of folder, git [schema]']);
  });
  test('github annotations escape what would end the command', () => {
    const line = formatGithubAnnotation({ file: 'a,b:c.yaml', line: 1, col: 2, field: 'x', message: '50%\nnext', rule: 'r', severity: 'error' });
    expect(line).toBe('::error file=a%2Cb%3Ac.yaml,line=1,col=2,title=mamori r::x: 50%25%0Anext');
  });
});
