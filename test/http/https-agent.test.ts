/**
 * The agents' door over real TLS on the loopback (certificates made by openssl): the daemon's
 * HttpServer serves http.tls's pair, `mamori agent` trusts it by CA (chain and name) or by pinned
 * fingerprint, and refuses any other certificate before sending anything — not even its token.
 * The pair is re-read while running (a renewal served without a restart; a broken one logged and
 * the pair in use kept), and a bad pair stops the start with the config file and field named.
 */
import { copyFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, checkDaemonUrl, isClearText } from '../../src/agent/agent.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { registerAgentRoutes } from '../../src/http/agent-routes.ts';
import { TokenTable } from '../../src/http/auth.ts';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { HttpServer, type DaemonApi } from '../../src/http/server.ts';
import { certFingerprint, normalizeCertFingerprint } from '../../src/http/tls-client.ts';
import { loadServerTls, TlsReloader, type TlsFiles } from '../../src/http/tls-files.ts';
import { createLogger, silentLogger, type Logger } from '../../src/log.ts';
import { callLocalApi } from '../../src/reconcile/local-api-client.ts';
import { VantageBoard } from '../../src/reconcile/vantage-board.ts';
import { makeCa, makeServerCert, opensslFingerprint, type TestCa, type TestCert } from '../support/test-certs.ts';

const TOKEN_B = 'agent-b-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';

let dir: string;
let caA: TestCa;
let caB: TestCa;
let certA: TestCert;
let certB: TestCert;
/** Signed by the right CA, for another address. */
let certOtherName: TestCert;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-https-'));
  caA = makeCa(dir, 'ca-a');
  caB = makeCa(dir, 'ca-b');
  certA = makeServerCert(dir, caA, 'daemon-a', 'IP:127.0.0.1');
  certB = makeServerCert(dir, caB, 'daemon-b', 'IP:127.0.0.1');
  certOtherName = makeServerCert(dir, caA, 'daemon-elsewhere', 'IP:127.0.0.9');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const api: DaemonApi = {
  ready: () => ({ ready: true, checks: {} }),
  status: () => ({}),
  fleet: () => ({ snapshot: undefined, desired: undefined }),
  resume: async () => ({}),
  reconcile: async (o) => ({ dryRun: o.dryRun }),
  confirm: async () => ({}),
  syncNow: () => undefined,
};

/** The live files the daemon's config names (copied, so a test can renew them). */
function liveFiles(cert: TestCert, name: string): TlsFiles {
  const certFile = join(dir, `${name}-live.pem`);
  const keyFile = join(dir, `${name}-live.key`);
  copyFileSync(cert.certFile, certFile);
  copyFileSync(cert.keyFile, keyFile);
  chmodSync(keyFile, 0o600);
  return { certFile, keyFile, configFile: join(dir, 'mamori.yaml') };
}

async function daemon(files: TlsFiles | undefined, logger: Logger = silentLogger()) {
  const board = new VantageBoard({ self: { name: 'a', network: '10.231.101.0/24' }, remotes: [{ name: 'b', network: '10.232.101.0/24' }], power: 2, freshMs: 90_000, manyServers: 3 }, { maxSkewMs: 30_000 });
  const tls = files !== undefined ? await loadServerTls(files) : undefined;
  const http = new HttpServer({
    listen: '127.0.0.1:0',
    ...(tls !== undefined ? { tls } : {}),
    api,
    metrics: new MamoriMetrics(),
    logger,
    tokens: TokenTable.from([
      { scope: 'agent', name: 'agent-b', token: TOKEN_B },
      { scope: 'operator', name: 'op', token: OPERATOR },
    ]),
  });
  let targetsAsked = 0;
  registerAgentRoutes(http, {
    board,
    agents: new Map([['agent-b', { vantage: 'b', token: TOKEN_B }]]),
    targets: () => {
      targetsAsked += 1;
      return { intervalSeconds: 1, timeoutSeconds: 1, servers: [] };
    },
    watched: () => true,
    now: () => Date.now(),
    logger: silentLogger(),
  });
  const address = await http.start();
  closers.push(() => http.close());
  const reloader = tls !== undefined && files !== undefined ? new TlsReloader({ files, current: tls, apply: (t) => http.setTls(t), logger, intervalMs: 3_600_000 }) : undefined;
  return { board, http, reloader, port: address.port, asked: () => targetsAsked };
}

const agent = (port: number, o: { ca?: string; pins?: string[]; scheme?: string } = {}) =>
  new Agent({
    daemon: `${o.scheme ?? 'https'}://127.0.0.1:${port}`,
    vantage: 'b',
    token: TOKEN_B,
    ...(o.ca !== undefined ? { ca: o.ca, caSource: '--ca-file ca.pem' } : {}),
    ...(o.pins !== undefined ? { pins: o.pins } : {}),
    logger: silentLogger(),
    once: true,
  });

function capture(): { logger: Logger; lines: Array<{ level: number; msg: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: number; msg: string; fields: Record<string, unknown> }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const o = JSON.parse(line) as Record<string, unknown>;
        lines.push({ level: Number(o.level), msg: String(o.msg), fields: o });
      }
      cb();
    },
  });
  return { logger: createLogger({ level: 'info', destination: sink }), lines };
}

describe('the agents\' door over HTTPS', () => {
  it('an agent that trusts the daemon\'s CA reports over TLS; plain HTTP gets no answer there', async () => {
    const d = await daemon(liveFiles(certA, 'ok'));
    expect(await agent(d.port, { ca: caA.pem }).round()).toEqual({ reported: 0, failed: 0 });
    expect(d.asked()).toBe(1);
    // The listener speaks TLS only: a plain request is no request.
    await expect(fetch(`http://127.0.0.1:${d.port}/healthz`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  });

  it('a certificate from another CA, or for another name, is refused before anything is sent', async () => {
    const other = await daemon(liveFiles(certB, 'other-ca'));
    const refused = agent(other.port, { ca: caA.pem }).round();
    await expect(refused).rejects.toMatchObject({ code: 'MAMORI_AGENT_TLS_REFUSED' });
    await expect(refused).rejects.toThrow(/does not chain to --ca-file ca\.pem.*nothing was sent/);
    const elsewhere = await daemon(liveFiles(certOtherName, 'elsewhere'));
    await expect(agent(elsewhere.port, { ca: caA.pem }).round()).rejects.toThrow(/does not name 127\.0\.0\.1/);
    // Without a CA the system's roots decide: a private CA is not among them.
    await expect(agent(other.port).round()).rejects.toThrow(/the system's trusted roots/);
    expect(other.asked() + elsewhere.asked()).toBe(0);
  });

  it('a pinned fingerprint (openssl\'s output as pasted) accepts exactly that certificate', async () => {
    const d = await daemon(liveFiles(certB, 'pinned'));
    const pin = normalizeCertFingerprint(opensslFingerprint(certB.certFile));
    expect(pin).toBe(certFingerprint(certB.pem));
    expect(await agent(d.port, { pins: [pin as string] }).round()).toEqual({ reported: 0, failed: 0 });
    const wrong = normalizeCertFingerprint(opensslFingerprint(certA.certFile)) as string;
    await expect(agent(d.port, { pins: [wrong] }).round()).rejects.toThrow(/is not the pinned one/);
    // CA and pin both given: both must hold.
    await expect(agent(d.port, { ca: caA.pem, pins: [pin as string] }).round()).rejects.toMatchObject({ code: 'MAMORI_AGENT_TLS_REFUSED' });
    expect(d.asked()).toBe(1);
  });

  it('an https agent against a plain-HTTP daemon says so; http:// beyond the loopback is clear text', async () => {
    const d = await daemon(undefined);
    await expect(agent(d.port, { ca: caA.pem }).round()).rejects.toThrow(/does not speak TLS there/);
    expect(await agent(d.port, { scheme: 'http' }).round()).toEqual({ reported: 0, failed: 0 });
    expect(isClearText(checkDaemonUrl('http://10.232.101.1:9750'))).toBe(true);
    expect(isClearText(checkDaemonUrl('http://[::1]:9750'))).toBe(false);
    expect(isClearText(checkDaemonUrl('https://10.232.101.1:9750'))).toBe(false);
    expect(() => checkDaemonUrl('https://agent:secret@10.232.101.1:9750')).toThrow(/no user:password@/);
  });

  it('a renewed pair is served without a restart; a broken renewal is logged once and the pair in use kept', async () => {
    const files = liveFiles(certA, 'renew');
    const { logger, lines } = capture();
    const d = await daemon(files, logger);
    const reloader = d.reloader as TlsReloader;
    expect(await reloader.check()).toBe('unchanged');
    copyFileSync(certB.certFile, files.certFile);
    copyFileSync(certB.keyFile, files.keyFile);
    expect(await reloader.check()).toBe('reloaded');
    expect(lines.find((l) => l.msg === 'https certificate reloaded')?.fields.fingerprint256).toBe(certFingerprint(certB.pem));
    await expect(agent(d.port, { ca: caA.pem }).round()).rejects.toMatchObject({ code: 'MAMORI_AGENT_TLS_REFUSED' });
    expect(await agent(d.port, { ca: caB.pem }).round()).toEqual({ reported: 0, failed: 0 });
    // Half a renewal: a new certificate beside the old key. Refused, logged once, the pair in use kept.
    copyFileSync(certA.certFile, files.certFile);
    expect(await reloader.check()).toBe('refused');
    expect(await reloader.check()).toBe('refused');
    const refusals = lines.filter((l) => l.msg === 'https certificate not reloaded; the one in use is kept');
    expect(refusals).toHaveLength(1);
    expect(String(refusals[0]?.fields.err)).toMatch(/http\.tls\.keyFile .*renew-live\.key: is not the key of http\.tls\.certFile/);
    expect(await agent(d.port, { ca: caB.pem }).round()).toEqual({ reported: 0, failed: 0 });
    expect(reloader.served().fingerprint256).toBe(certFingerprint(certB.pem));
    // The key follows: the new pair is served.
    copyFileSync(certA.keyFile, files.keyFile);
    expect(await reloader.check()).toBe('reloaded');
    expect(await agent(d.port, { ca: caA.pem }).round()).toEqual({ reported: 0, failed: 0 });
  });

  it('the CLI reaches the daemon\'s local API over HTTPS trusting exactly the configured certificate', async () => {
    const files = liveFiles(certA, 'cli');
    const d = await daemon(files);
    const reply = await callLocalApi<{ dryRun: boolean }>({ listen: `127.0.0.1:${d.port}`, token: OPERATOR, tlsCertFile: files.certFile }, '/api/reconcile', { dryRun: true });
    expect(reply).toMatchObject({ status: 200, ok: true, result: { dryRun: true } });
    // Another certificate in the file than the one served: refused, the token never sent.
    await expect(callLocalApi({ listen: `127.0.0.1:${d.port}`, token: OPERATOR, tlsCertFile: certB.certFile }, '/api/reconcile', { dryRun: true })).rejects.toMatchObject({ code: 'MAMORI_HTTP_UNREACHABLE' });
  });

  it('http.tls in the config: paths from the config file\'s folder; both files required', () => {
    const cfg = parseConfig('apiVersion: mamori/v1\nkind: Config\nhttp: { tls: { certFile: tls/daemon.pem, keyFile: /etc/ssl/private/daemon.key } }\n', '/etc/mamori/mamori.yaml', '/etc/mamori');
    expect(cfg.http.tls).toEqual({ certFile: '/etc/mamori/tls/daemon.pem', keyFile: '/etc/ssl/private/daemon.key' });
    expect(() => parseConfig('apiVersion: mamori/v1\nkind: Config\nhttp: { tls: { certFile: tls/daemon.pem } }\n', '/etc/mamori/mamori.yaml', '/etc/mamori')).toThrow(/mamori\.yaml:\d+:\d+: .*keyFile/);
  });

  it('a bad pair names the config file and the field', async () => {
    const cfg = join(dir, 'mamori.yaml');
    const base = { configFile: cfg };
    await expect(loadServerTls({ ...base, certFile: join(dir, 'missing.pem'), keyFile: certA.keyFile })).rejects.toThrow(`${cfg}: http.tls.certFile ${join(dir, 'missing.pem')}: cannot be used: ENOENT`);
    await expect(loadServerTls({ ...base, certFile: certA.certFile, keyFile: certB.keyFile })).rejects.toMatchObject({ code: 'MAMORI_HTTP_TLS_INVALID', details: { file: cfg, field: 'http.tls.keyFile' } });
    const notPem = join(dir, 'not-a-cert.pem');
    writeFileSync(notPem, 'hello\n');
    await expect(loadServerTls({ ...base, certFile: notPem, keyFile: certA.keyFile })).rejects.toThrow(/http\.tls\.certFile .*not a PEM certificate/);
    const open = join(dir, 'open.key');
    copyFileSync(certA.keyFile, open);
    chmodSync(open, 0o644);
    await expect(loadServerTls({ ...base, certFile: certA.certFile, keyFile: open })).rejects.toThrow(/http\.tls\.keyFile .*every user may read it \(mode 0644\)/);
    // The key's bytes never appear in a message.
    const err = await loadServerTls({ ...base, certFile: certA.keyFile, keyFile: certA.keyFile }).catch((e: unknown) => e as Error);
    expect(String((err as Error).message)).not.toContain('PRIVATE KEY');
  });
});
