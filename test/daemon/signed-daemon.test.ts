/**
 * `mamori run` with signed revisions (real `git commit -S` with ssh-keygen keys made here): a
 * signed revision is applied and probed, an unsigned one and one signed by an unknown key are
 * refused — the previous revision keeps running and the operator gets a message (the outbox).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHubBody } from '../../src/http/auth.ts';
import { createGitFixture, makeSigningKey, serverPath, serverYaml, writeAllowedSigners, type GitFixture, type SigningKey } from '../source/git-fixture.ts';
import { freePort, killStrays, ProbeTarget, spawnDaemon, statusField, type DaemonProcess } from './daemon-process.ts';

const SECRET = 'signed-webhook-secret';
let repo: GitFixture;
let daemon: DaemonProcess;
let operator: SigningKey;
let stranger: SigningKey;
const targets: ProbeTarget[] = [];
let firstTarget: ProbeTarget | undefined;

async function hook(): Promise<void> {
  const body = '{}';
  const r = await daemon.post('/hooks/git', body, { 'x-hub-signature-256': signHubBody(SECRET, body) });
  expect(r.status).toBe(202);
}

async function server(name: string): Promise<ProbeTarget> {
  const t = await new ProbeTarget().start();
  targets.push(t);
  repo.write(serverPath(name), serverYaml(name, { port: t.port }));
  return t;
}

function sentMail(): string[] {
  try {
    const dir = join(repo.dir, 'state', 'outbox', 'sent');
    return readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => readFileSync(join(dir, f), 'utf8'));
  } catch {
    return [];
  }
}

beforeAll(async () => {
  repo = createGitFixture();
  operator = makeSigningKey(repo.dir, 'ops@example.test');
  stranger = makeSigningKey(repo.dir, 'mallory@example.test');
  writeAllowedSigners(join(repo.dir, 'allowed_signers'), [operator]);
  const first = await server('web01');
  repo.commit('signed base', { signWith: operator.path });
  repo.push();
  const port = await freePort();
  const config = join(repo.dir, 'mamori.yaml');
  writeFileSync(
    config,
    `apiVersion: mamori/v1
kind: Config
source: { type: git, url: ${repo.bare}, pollSeconds: 3600 }
http: { listen: "127.0.0.1:${port}", webhookSecret: { secretRef: hook } }
probe: { intervalSeconds: 1 }
mail: { operator: noc@example.test }
signing: { allowedSigners: allowed_signers, operatorSigners: [ops@example.test] }
`,
  );
  daemon = await spawnDaemon({ cwd: repo.dir, config, port, env: { MAMORI_SECRET_HOOK: SECRET } });
  firstTarget = first;
});

afterAll(async () => {
  killStrays();
  for (const t of targets) await t.close();
  repo?.cleanup();
});

describe('mamori run with signed revisions', () => {
  it('applies and probes a revision signed by an allowed signer', async () => {
    await expect.poll(() => firstTarget?.hits.length ?? 0, { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    const t = await server('web02');
    const rev = repo.commit('signed: add web02', { signWith: operator.path });
    repo.push();
    await hook();
    await expect.poll(() => t.hits.length, { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    expect(await statusField(daemon, 'desired', 'revision')).toBe(rev);
  });

  it('refuses an unsigned revision, keeps the previous one, and tells the operator', async () => {
    const kept = await statusField(daemon, 'desired', 'revision');
    const t = await server('web03');
    const unsigned = repo.commit('unsigned: add web03');
    repo.push();
    await hook();
    await expect.poll(() => statusField(daemon, 'desired', 'refused', 'revision'), { timeout: 30_000, interval: 100 }).toBe(unsigned);
    expect(await statusField(daemon, 'desired', 'refused', 'reason')).toBe('Unsigned');
    expect(await statusField(daemon, 'desired', 'revision')).toBe(kept);
    expect(t.hits).toEqual([]);
    await expect.poll(() => sentMail().filter((m) => m.includes(unsigned.slice(0, 12))).length, { timeout: 30_000, interval: 200 }).toBeGreaterThan(0);
    const mail = sentMail().find((m) => m.includes(unsigned.slice(0, 12))) ?? '';
    expect(mail).toMatch(/^To: noc@example\.test/m);
  });

  it('refuses a revision signed by a key that is not allowed', async () => {
    const kept = await statusField(daemon, 'desired', 'revision');
    const wrong = repo.commit('signed by a stranger', { signWith: stranger.path });
    repo.push();
    await hook();
    await expect.poll(() => statusField(daemon, 'desired', 'refused', 'revision'), { timeout: 30_000, interval: 100 }).toBe(wrong);
    expect(await statusField(daemon, 'desired', 'refused', 'reason')).toBe('UntrustedSigner');
    expect(await statusField(daemon, 'desired', 'revision')).toBe(kept);
    const { text } = await daemon.get('/metrics');
    expect(text).toMatch(/^mamori_source_revision_refused 1$/m);
  });
});
