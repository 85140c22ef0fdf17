/**
 * `mamori run` with signed changes in the allowed-signers form (real `git commit -S` with ssh-keygen
 * keys made here): a signed change is applied and probed; a server added by an unsigned commit, or
 * by one signed with an unknown key, is refused — the rest of the revision applies, the refused
 * server is not probed, and the operator gets a message (the outbox).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHubBody } from '../../src/http/auth.ts';
import { createGitFixture, makeSigningKey, loopbackFor, serverPath, serverYaml, writeAllowedSigners, type GitFixture, type SigningKey } from '../source/git-fixture.ts';
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
  const t = await new ProbeTarget(loopbackFor(name)).start();
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

  it('refuses a server added by an unsigned commit, applies the rest, and tells the operator', async () => {
    const t = await server('web03');
    const unsigned = repo.commit('unsigned: add web03');
    repo.push();
    await hook();
    await expect.poll(() => statusField(daemon, 'desired', 'revision'), { timeout: 30_000, interval: 100 }).toBe(unsigned);
    const findings = (await statusField(daemon, 'desired', 'findings')) as Array<{ file: string; rule: string; message: string }>;
    expect(findings).toEqual([expect.objectContaining({ file: serverPath('web03'), rule: 'signer-not-allowed' })]);
    expect(findings[0]?.message).toContain('not signed');
    expect(t.hits).toEqual([]);
    // The operator and the customer who owns the file are each told once.
    const toOperator = (): string[] => sentMail().filter((m) => m.includes(unsigned) && /^To: noc@example\.test/m.test(m));
    await expect.poll(() => toOperator().length, { timeout: 30_000, interval: 200 }).toBeGreaterThan(0);
    const mail = toOperator()[0] ?? '';
    expect(toOperator()).toHaveLength(1);
    expect(mail).toMatch(/^X-Mamori-Kind: change-refused/m);
    expect(mail).toContain(serverPath('web03'));
  });

  it('refuses a server added by a commit signed with a key that is not allowed', async () => {
    const t = await server('web04');
    const wrong = repo.commit('signed by a stranger: add web04', { signWith: stranger.path });
    repo.push();
    await hook();
    await expect.poll(() => statusField(daemon, 'desired', 'revision'), { timeout: 30_000, interval: 100 }).toBe(wrong);
    const findings = (await statusField(daemon, 'desired', 'findings')) as Array<{ file: string; rule: string; message: string }>;
    expect(findings.map((f) => f.file).sort()).toEqual([serverPath('web03'), serverPath('web04')]);
    expect(findings.find((f) => f.file === serverPath('web04'))?.message).toContain('a key that is not in the configuration');
    expect(t.hits).toEqual([]);
  });
});
