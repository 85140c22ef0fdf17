/**
 * `mamori run` with http.tls and a real `mamori agent` over TLS on the loopback (openssl-made
 * certificates): the agent that trusts the daemon's CA is heard; one pinning another certificate is
 * refused and says why; a renewed pair is served after SIGHUP without a restart; a key that is not
 * the certificate's stops the start with the config file and the field named.
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { certFingerprint } from '../../src/http/tls-client.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';
import { makeCa, makeServerCert, type TestCa, type TestCert } from '../support/test-certs.ts';
import { BIN, freePort, killStrays, spawnDaemon } from './daemon-process.ts';

const TOKEN = 'second-vantage-token-0123456789';

let certs: string;
let caA: TestCa;
let caB: TestCa;
let certA: TestCert;
let certB: TestCert;
beforeAll(() => {
  certs = mkdtempSync(join(tmpdir(), 'mamori-https-certs-'));
  caA = makeCa(certs, 'ca-a');
  caB = makeCa(certs, 'ca-b');
  certA = makeServerCert(certs, caA, 'daemon-a', 'IP:127.0.0.1');
  certB = makeServerCert(certs, caB, 'daemon-b', 'IP:127.0.0.1');
}, 60_000);
afterAll(() => rmSync(certs, { recursive: true, force: true }));

const dirs: string[] = [];
afterEach(() => {
  killStrays();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A daemon folder: no servers, one agent vantage, http.tls naming tls/daemon.pem and tls/daemon.key. */
function daemonDir(cert: TestCert, key: string, port: number): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-https-'));
  dirs.push(dir);
  cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(dir, 'manifests', 'operator'), { recursive: true });
  mkdirSync(join(dir, 'manifests', 'customers'), { recursive: true });
  mkdirSync(join(dir, 'secrets'), { mode: 0o700 });
  chmodSync(join(dir, 'secrets'), 0o700);
  writeFileSync(join(dir, 'secrets', 'agent-second'), `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'agent-token'), `${TOKEN}\n`, { mode: 0o600 });
  mkdirSync(join(dir, 'tls'));
  copyFileSync(cert.certFile, join(dir, 'tls', 'daemon.pem'));
  copyFileSync(key, join(dir, 'tls', 'daemon.key'));
  chmodSync(join(dir, 'tls', 'daemon.key'), 0o600);
  const config = join(dir, 'mamori.yaml');
  writeFileSync(
    config,
    `apiVersion: mamori/v1
kind: Config
source: { type: folder, path: manifests }
http:
  listen: "127.0.0.1:${port}"
  tls: { certFile: tls/daemon.pem, keyFile: tls/daemon.key }
vantages:
  - { name: primary, network: 127.0.0.1/32, self: true }
  - { name: second, network: 127.0.0.2/32, token: { secretRef: agent-second } }
`,
  );
  return { dir, config };
}

/** `mamori agent --once` against the daemon: its exit code and what it said. */
function agentOnce(dir: string, port: number, trust: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [BIN, 'agent', '--daemon', `https://127.0.0.1:${port}`, '--vantage', 'second', '--token-file', join(dir, 'agent-token'), '--once', ...trust], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    }),
  );
}

describe('mamori run over HTTPS (http.tls) with a real agent', () => {
  it('the agent trusting its CA is heard, a wrong pin is refused; a renewal is served after SIGHUP', async () => {
    const port = await freePort();
    const { dir, config } = daemonDir(certA, certA.keyFile, port);
    const d = await spawnDaemon({ cwd: dir, config, port });
    const served = await d.waitForLog('https certificate');
    expect(served.fingerprint256).toBe(certFingerprint(certA.pem));

    const heard = await agentOnce(dir, port, ['--ca-file', caA.certFile]);
    expect(heard.code, heard.out).toBe(0);
    const refused = await agentOnce(dir, port, ['--daemon-fingerprint', certFingerprint(certB.pem)]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('MAMORI_AGENT_TLS_REFUSED');
    expect(refused.out).toContain('is not the pinned one (--daemon-fingerprint)');

    // Renewal (another CA even): the files replaced, SIGHUP, the new pair served at once.
    copyFileSync(certB.certFile, join(dir, 'tls', 'daemon.pem'));
    copyFileSync(certB.keyFile, join(dir, 'tls', 'daemon.key'));
    d.child.kill('SIGHUP');
    const reloaded = await d.waitForLog('https certificate reloaded', 30_000);
    expect(reloaded.fingerprint256).toBe(certFingerprint(certB.pem));
    const renewed = await agentOnce(dir, port, ['--ca-file', caB.certFile]);
    expect(renewed.code, renewed.out).toBe(0);
    const old = await agentOnce(dir, port, ['--ca-file', caA.certFile]);
    expect(old.out).toMatch(/MAMORI_AGENT_TLS_REFUSED: .*does not chain to --ca-file/);

    d.child.kill('SIGTERM');
    expect((await d.exited).code, d.stderr()).toBe(0);
  }, 120_000);

  it('a key that is not the certificate\'s stops the start, naming the config file and the field', async () => {
    const port = await freePort();
    const { dir, config } = daemonDir(certA, certB.keyFile, port);
    await expect(spawnDaemon({ cwd: dir, config, port })).rejects.toThrow(/MAMORI_HTTP_TLS_INVALID.*mamori\.yaml: http\.tls\.keyFile .*daemon\.key: is not the key of http\.tls\.certFile/);
  }, 60_000);
});
