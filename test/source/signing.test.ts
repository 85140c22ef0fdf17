import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { GitSource } from '../../src/source/git.ts';
import { isOperatorPath } from '../../src/source/signing.ts';
import { SourceSyncer } from '../../src/source/syncer.ts';
import { createGitFixture, makeSigningKey, serverPath, serverYaml, writeAllowedSigners, type GitFixture, type SigningKey } from './git-fixture.ts';
import { recordingDesired } from './harness.ts';

let fixtures: GitFixture[] = [];
let syncers: SourceSyncer[] = [];
afterEach(async () => {
  for (const s of syncers) await s.stop();
  for (const f of fixtures) f.cleanup();
  fixtures = [];
  syncers = [];
});

let keysDir: GitFixture;
let operator: SigningKey;
let customer: SigningKey;
let stranger: SigningKey;
let allowedSigners: string;
beforeAll(() => {
  keysDir = createGitFixture({ withOperator: false });
  operator = makeSigningKey(keysDir.dir, 'ops@example.test');
  customer = makeSigningKey(keysDir.dir, 'dev@acme.example');
  stranger = makeSigningKey(keysDir.dir, 'mallory@example.test');
  allowedSigners = join(keysDir.dir, 'allowed_signers');
  // The stranger's key is real and signs validly: it is simply not in the file.
  writeAllowedSigners(allowedSigners, [operator, customer]);
  return () => keysDir.cleanup();
});

function setup() {
  const repo = createGitFixture();
  fixtures.push(repo);
  const rec = recordingDesired();
  const source = new GitSource({
    url: repo.bare,
    ref: 'main',
    path: '',
    cacheDir: join(repo.dir, 'cache'),
    signing: { allowedSignersFile: allowedSigners, operatorSigners: [operator.principal] },
    logger: silentLogger(),
  });
  const syncer = new SourceSyncer({ source, desired: rec.desired, logger: silentLogger() });
  syncers.push(syncer);
  return { repo, rec, syncer };
}

describe('signed revisions', () => {
  it('accepts a tip signed by an operator key for every path', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    const rev = repo.commit('signed by the operator', { signWith: operator.path });
    repo.push();
    const report = await syncer.start();
    expect(report.outcome).toMatchObject({ result: 'applied', revision: rev });
    expect([...rec.current().keys()]).toEqual(['web01']);
  });

  it('refuses an unsigned tip and keeps the previous revision', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    const good = repo.commit('signed', { signWith: operator.path });
    repo.push();
    await syncer.start();
    repo.write(serverPath('web02'), serverYaml('web02'));
    const unsigned = repo.commit('unsigned');
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'refused', revision: unsigned, reason: 'Unsigned' });
    expect(rec.desired.appliedRevision).toBe(good);
    expect(rec.desired.status().refused).toMatchObject({ revision: unsigned, reason: 'Unsigned' });
    expect(rec.notifications.map((n) => n.kind)).toEqual(['revision-refused']);
    expect([...rec.current().keys()]).toEqual(['web01']);
  });

  it('refuses a tip signed by a key that is not in the allowed signers file', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    const rev = repo.commit('signed by a stranger', { signWith: stranger.path });
    repo.push();
    const report = await syncer.start();
    expect(report.outcome).toMatchObject({ result: 'refused', revision: rev, reason: 'UntrustedSigner' });
    expect(rec.applied).toEqual([]);
  });

  it('lets an allowed customer signer change customer paths but not operator paths', async () => {
    const { repo, rec, syncer } = setup();
    repo.write(serverPath('web01'), serverYaml('web01'));
    repo.commit('base', { signWith: operator.path });
    repo.push();
    await syncer.start();
    repo.write(serverPath('web02'), serverYaml('web02'));
    const customerChange = repo.commit('customer adds a server', { signWith: customer.path });
    repo.push();
    expect((await syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: customerChange });

    repo.write('operator/runbooks/std-ping.yaml', `${'# a comment the customer adds\n'}${repo.git('show', 'HEAD:operator/runbooks/std-ping.yaml')}`);
    const sneaky = repo.commit('customer edits a standard runbook', { signWith: customer.path });
    repo.push();
    const report = await syncer.trigger('manual');
    expect(report.outcome).toMatchObject({ result: 'refused', revision: sneaky, reason: 'OperatorSignerRequired' });
    expect(rec.desired.appliedRevision).toBe(customerChange);

    // An operator signature on top carries the operator change (judged against the applied revision).
    const blessed = repo.commit('operator signs off', { signWith: operator.path });
    repo.push();
    expect((await syncer.trigger('manual')).outcome).toMatchObject({ result: 'applied', revision: blessed });
  });

  it.each([
    ['operator/catalog.yaml', '', true],
    ['operator', '', true],
    ['customers/acme/servers/a.yaml', '', false],
    ['deploy/operator/runbooks/x.yaml', 'deploy', true],
    ['operator/catalog.yaml', 'deploy', false],
    ['operatorx/catalog.yaml', '', false],
  ])('operator path %s under "%s" → %s', (path, prefix, expected) => {
    expect(isOperatorPath(path, prefix)).toBe(expected);
  });
});
