/**
 * The pure parts of signed changes: the glob matcher (no regular expression over customer paths),
 * the path rules (last match decides, groups expanded, no rule → nobody), the parsers of git's
 * output (a file named like a commit id is never taken for one), and the judgement of a range.
 */
import { describe, expect, it } from 'vitest';
import { globMatch } from '../../src/source/glob.ts';
import { judgeChanges, type ChangeRefusal } from '../../src/source/judge-changes.ts';
import { buildSignerPolicy, mayChange, ruleFor } from '../../src/source/signer-policy.ts';
import { parseDiffTree, parseSignatureRecord, type CommitVerdict } from '../../src/source/signing.ts';
import { principalsOf, primaryFingerprints } from '../../src/source/signing-keys.ts';

describe('globMatch', () => {
  it.each([
    ['customers/acme/**', 'customers/acme/servers/web01.yaml', true],
    ['customers/acme/**', 'customers/acme', true],
    ['customers/acme/**', 'customers/acme-evil/servers/web01.yaml', false],
    ['customers/acme/**', 'customers/acmex/servers/web01.yaml', false],
    ['operator/**', 'operator/runbooks/std-ping.yaml', true],
    ['operator/**', 'customers/operator/servers/x.yaml', false],
    ['**/operator/**', 'customers/x/operator/y.yaml', true],
    ['customers/*/runbooks/*.yaml', 'customers/acme/runbooks/acme-httpd.yaml', true],
    ['customers/*/runbooks/*.yaml', 'customers/acme/servers/web01.yaml', false],
    ['customers/*/runbooks/*.yaml', 'customers/acme/runbooks/deep/x.yaml', false],
    ['customers/a?me/**', 'customers/acme/servers/web01.yaml', true],
    ['customers/a?me/**', 'customers/ame/servers/web01.yaml', false],
    ['**', 'anything/at/all.yaml', true],
    ['**/*.yaml', 'a/b/c.yaml', true],
    ['**/*.yaml', 'a/b/c.yml', false],
    ['customers/**/web01.yaml', 'customers/acme/servers/web01.yaml', true],
    ['customers/**/web01.yaml', 'customers/web01.yaml', true],
    ['*', 'a/b', false],
  ])('%s ~ %s → %s', (glob, path, expected) => {
    expect(globMatch(glob, path)).toBe(expected);
  });

  it('stays fast on patterns that make a backtracking regex explode', () => {
    const path = `${'a/'.repeat(200)}b`;
    const glob = `${'**/a/'.repeat(20)}c`;
    const segment = `${'a'.repeat(5000)}b`;
    const started = performance.now();
    expect(globMatch(glob, path)).toBe(false);
    expect(globMatch(`${'*a'.repeat(30)}c`, segment)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('path rules', () => {
  const policy = buildSignerPolicy({
    signers: ['ops-alice', 'ops-bob', 'acme-dev', 'globex-dev'],
    groups: { operators: ['ops-alice', 'ops-bob'] },
    paths: [
      { glob: '**', signers: ['operators'] },
      { glob: 'customers/acme/**', signers: ['acme-dev', 'operators'] },
      { glob: 'customers/acme/runbooks/**', signers: ['operators'] },
      { glob: 'customers/globex/**', signers: ['globex-dev', 'nobody-known'] },
    ],
    operatorSigners: [],
  });

  it.each([
    ['acme-dev', 'customers/acme/servers/web01.yaml', true],
    ['acme-dev', 'customers/acme/runbooks/acme-httpd.yaml', false],
    ['ops-bob', 'customers/acme/runbooks/acme-httpd.yaml', true],
    ['ops-alice', 'customers/globex/servers/app01.yaml', false],
    ['globex-dev', 'customers/globex/servers/app01.yaml', true],
    ['nobody-known', 'customers/globex/servers/app01.yaml', false],
    ['acme-dev', 'operator/catalog.yaml', false],
    ['ops-alice', 'operator/catalog.yaml', true],
    [undefined, 'operator/catalog.yaml', false],
  ])('%s may change %s: %s (the last matching rule decides)', (signer, path, expected) => {
    expect(mayChange(policy, signer, path)).toBe(expected);
  });

  it('lets nobody change a file no rule matches', () => {
    const narrow = buildSignerPolicy({ signers: ['a'], groups: {}, paths: [{ glob: 'customers/acme/**', signers: ['a'] }], operatorSigners: [] });
    expect(ruleFor(narrow, 'operator/catalog.yaml')).toBeUndefined();
    expect(mayChange(narrow, 'a', 'operator/catalog.yaml')).toBe(false);
  });

  it('keeps the allowed-signers form: any principal for customers, operatorSigners for operator/**', () => {
    const legacy = buildSignerPolicy({ signers: ['ops@x', 'dev@acme'], groups: {}, paths: undefined, operatorSigners: ['ops@x'] });
    expect(mayChange(legacy, 'dev@acme', 'customers/globex/servers/a.yaml')).toBe(true);
    expect(mayChange(legacy, 'dev@acme', 'operator/catalog.yaml')).toBe(false);
    expect(mayChange(legacy, 'ops@x', 'operator/catalog.yaml')).toBe(true);
  });
});

describe("parsers of git's output", () => {
  const keys = { ssh: new Set(['ops-alice']), openpgp: new Map([['AAAA1111BBBB2222CCCC3333DDDD4444EEEE5555', 'acme-dev']]) };
  const c = 'a'.repeat(40);
  it.each([
    [`${c}\x1fG\x1fSHA256:abc\x1f\x1fops-alice`, { commit: c, status: 'good', signer: 'ops-alice', key: 'SHA256:abc' }],
    [`${c}\x1fU\x1fSHA256:abc\x1f\x1f`, { commit: c, status: 'unknown-key', key: 'SHA256:abc' }],
    [`${c}\x1fG\x1fSHA256:abc\x1f\x1fsomeone-else`, { commit: c, status: 'unknown-key', key: 'SHA256:abc' }],
    [`${c}\x1fG\x1f0000SUBKEY\x1fAAAA1111BBBB2222CCCC3333DDDD4444EEEE5555\x1fops-alice <evil@x>`, { commit: c, status: 'good', signer: 'acme-dev', key: '0000SUBKEY' }],
    [`${c}\x1fG\x1fFFFF\x1fFFFF\x1fops-alice`, { commit: c, status: 'unknown-key', key: 'FFFF' }],
    [`${c}\x1fN\x1f\x1f\x1f`, { commit: c, status: 'unsigned' }],
    [`${c}\x1fB\x1fSHA256:x\x1f\x1f`, { commit: c, status: 'bad', key: 'SHA256:x' }],
    [`${c}\x1fE\x1f\x1f\x1f`, { commit: c, status: 'unknown-key' }],
    [`${c}\x1fY\x1fAB\x1fAB\x1f`, { commit: c, status: 'expired', key: 'AB' }],
    [`${c}\x1fR\x1fAB\x1fAB\x1f`, { commit: c, status: 'revoked', key: 'AB' }],
  ])('signature record %#', (record, expected) => {
    expect(parseSignatureRecord(record, keys)).toEqual(expected);
  });

  it('never takes a file named like a commit id for a commit', () => {
    const c1 = '1'.repeat(40);
    const c2 = '2'.repeat(40);
    const out = [c1, ':000000 100644 0 abc A', c2, ':100644 100644 abc def M', 'customers/acme/x.yaml', c2, '::100644 100644 100644 a b c MM', 'operator/catalog.yaml', ''].join('\0');
    expect(parseDiffTree(out)).toEqual(
      new Map([
        [c1, [c2, 'customers/acme/x.yaml']],
        [c2, ['operator/catalog.yaml']],
      ]),
    );
  });

  it('reads principals and primary fingerprints', () => {
    expect(principalsOf('# c\nops@x,ops2@x namespaces="git" ssh-ed25519 AAAA\n\ndev@acme ssh-ed25519 BBBB\n')).toEqual(['ops@x', 'ops2@x', 'dev@acme']);
    const colons = ['pub:u:255:22:K1:1::::::scESC:', 'fpr:::::::::AAAA:', 'uid:u::::1::H::x <x@y>:', 'sub:u:255:18:K2:1::::::e:', 'fpr:::::::::SUB1:', 'pub:u:255:22:K3:1::::::scESC:', 'fpr:::::::::bbbb:'].join('\n');
    expect(primaryFingerprints(colons)).toEqual(['AAAA', 'BBBB']);
  });
});

describe('judgeChanges', () => {
  const policy = buildSignerPolicy({
    signers: ['acme-dev', 'globex-dev'],
    groups: {},
    paths: [
      { glob: 'customers/acme/**', signers: ['acme-dev'] },
      { glob: 'customers/globex/**', signers: ['globex-dev'] },
    ],
    operatorSigners: [],
  });
  const A = 'customers/acme/servers/web01.yaml';
  const G = 'customers/globex/servers/app01.yaml';
  const v = (commit: string, signer: string | undefined, paths: string[]): CommitVerdict =>
    signer ? { commit, status: 'good', signer, paths } : { commit, status: 'unsigned', paths };
  const judge = (commits: CommitVerdict[], tip: Record<string, string>, applied: Record<string, string>, previous: ChangeRefusal[] = [], carried: CommitVerdict[] = []) =>
    judgeChanges({ policy, commits, carriedOffenders: carried, tip: new Map(Object.entries(tip)), applied: new Map(Object.entries(applied)), previous });

  it('refuses a file any commit changed without an allowed signer, even under an allowed one', () => {
    const r = judge([v('c2', 'acme-dev', [A]), v('c1', undefined, [A])], { [A]: 'new' }, { [A]: 'old' });
    expect(r).toEqual([expect.objectContaining({ path: A, accepted: 'old', isNew: true, offenders: [expect.objectContaining({ commit: 'c1', status: 'unsigned' })] })]);
  });

  it('refuses nothing when the file is back to its accepted version', () => {
    expect(judge([v('c2', 'globex-dev', [A]), v('c1', 'globex-dev', [A])], { [A]: 'old' }, { [A]: 'old' })).toEqual([]);
  });

  it('ignores paths outside the manifests and judges a new file as absent', () => {
    const r = judge([v('c1', 'globex-dev', ['README.md', A, G])], { [A]: 'x', [G]: 'y', 'README.md': 'z' }, {});
    expect(r.map((x) => [x.path, x.accepted])).toEqual([[A, null]]);
  });

  it('carries a refusal while its offender is in the history, without telling again; lets it go when the offender is gone', () => {
    const previous = judge([v('c1', 'globex-dev', [A])], { [A]: 'bad' }, { [A]: 'old' });
    const carried = judge([v('c3', 'globex-dev', [G])], { [A]: 'bad', [G]: 'g' }, { [A]: 'old' }, previous, [v('c1', 'globex-dev', [A])]);
    expect(carried).toEqual([expect.objectContaining({ path: A, accepted: 'old', isNew: false })]);
    // A later commit by an allowed signer does not launder the refused one...
    expect(judge([v('c4', 'acme-dev', [A])], { [A]: 'bad2' }, { [A]: 'bad' }, carried, [v('c1', 'globex-dev', [A])])).toEqual([
      expect.objectContaining({ path: A, accepted: 'old', isNew: false }),
    ]);
    // ...but once the branch no longer holds it (rewritten), the allowed change applies.
    expect(judge([v('c5', 'acme-dev', [A])], { [A]: 'good' }, { [A]: 'bad' }, carried, [])).toEqual([]);
  });
});
