/**
 * The access model against a real HttpServer: what a hostile web page can make a browser send
 * (cross-site forms and text/plain POSTs, a foreign or rebound Host), what each token's scope
 * reaches, the local API's Unix socket and its permissions, and the order of the checks (no body
 * is read before the request is authorised; a client that hangs up is logged once, quietly).
 */
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MIN_TOKEN_LENGTH, TokenTable } from '../../src/http/auth.ts';
import { createLogger } from '../../src/log.ts';
import { ACME, AGENT, GRANTS, JSON_TYPE, METRICS, OPERATOR, send, start } from './http-fixture.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const MUTATIONS: Array<[string, string]> = [
  ['/api/resume', '{"server":"acme-web1"}'],
  ['/api/reconcile', '{"dryRun":false}'],
  ['/api/confirm', '{"revision":"held1234"}'],
];

describe('browser attacks, with no token configured (the quick start on the loopback)', () => {
  it('a cross-site form or text/plain POST (no preflight) changes nothing', async () => {
    const { port, calls } = await start();
    for (const [path, body] of MUTATIONS) {
      const host = { host: `127.0.0.1:${port}` };
      // What <form method=post action=http://127.0.0.1:9750/api/resume> sends.
      const form = await send({ port }, 'POST', path, { ...host, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' }, 'server=acme-web1');
      expect(form.status, path).toBe(403);
      // fetch(url, {method:'POST', mode:'no-cors', body: JSON}) sends text/plain.
      const plain = await send({ port }, 'POST', path, { ...host, origin: 'http://evil.example', 'content-type': 'text/plain;charset=UTF-8' }, body);
      expect(plain.status, path).toBe(403);
      // Even with no Origin at all and JSON (curl on this machine): over TCP without a token, no change.
      const local = await send({ port }, 'POST', path, { ...host, ...JSON_TYPE }, body);
      expect(local.status, path).toBe(403);
      expect(JSON.parse(local.text).error).toContain('local socket');
    }
    expect(calls).toEqual({ syncs: 0, resumed: [], reconciled: [], confirmed: [] });
  });

  it('DNS rebinding: a read naming a foreign Host is refused, whatever the path', async () => {
    const { port } = await start();
    for (const path of ['/api/status', '/metrics', '/', '/server?name=acme-web1', '/events', '/report?customer=acme']) {
      const rebound = await send({ port }, 'GET', path, { host: `evil.example:${port}` });
      expect(rebound.status, path).toBe(421);
      expect(rebound.text).not.toContain('acme-web1');
    }
    for (const host of ['evil.example', '127.0.0.2', 'localhost.evil.example', `user@127.0.0.1:${port}`, '127.0.0.1.nip.io']) {
      expect((await send({ port }, "GET", "/api/status", { host })).status, JSON.stringify(host)).not.toBe(200);
    }
    // The names that cannot be rebound against us are answered.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', '127.0.0.1']) {
      expect((await send({ port }, 'GET', '/api/status', { host })).status, host).toBe(200);
    }
  });

  it('a loopback request forwarded by a proxy is not a local reader', async () => {
    const { port } = await start();
    expect((await send({ port }, 'GET', '/api/status', { host: `127.0.0.1:${port}`, 'x-forwarded-for': '198.51.100.7' })).status).toBe(401);
  });
});

describe('browser attacks, with tokens', () => {
  it('the operator token in a cross-site or text/plain request changes nothing; the same request as same-origin JSON does', async () => {
    const { port, calls } = await start({ tokens: GRANTS, publicHosts: ['status.example.net'] });
    const host = { host: 'status.example.net' };
    for (const [path, body] of MUTATIONS) {
      expect((await send({ port }, 'POST', path, { ...host, ...bearer(OPERATOR), origin: 'https://evil.example', ...JSON_TYPE }, body)).status, path).toBe(403);
      expect((await send({ port }, 'POST', path, { ...host, ...bearer(OPERATOR), origin: 'null', ...JSON_TYPE }, body)).status, path).toBe(403);
      expect((await send({ port }, 'POST', path, { ...host, ...bearer(OPERATOR), 'sec-fetch-site': 'same-site', ...JSON_TYPE }, body)).status, path).toBe(403);
      expect((await send({ port }, 'POST', path, { ...host, ...bearer(OPERATOR), 'content-type': 'text/plain' }, body)).status, path).toBe(415);
      expect((await send({ port }, 'POST', path, { ...host, ...bearer(OPERATOR), 'content-type': 'application/x-www-form-urlencoded' }, body)).status, path).toBe(415);
    }
    expect(calls.resumed).toEqual([]);
    const same = await send({ port }, 'POST', '/api/resume', { ...host, ...bearer(OPERATOR), origin: 'https://status.example.net', 'sec-fetch-site': 'same-origin', ...JSON_TYPE }, '{"server":"acme-web1"}');
    expect(same.status).toBe(200);
    expect(calls.resumed).toEqual([['acme-web1', undefined]]);
  });

  it('the page cookie authorises reads only: a POST riding on it is refused', async () => {
    const { port, calls } = await start({ tokens: GRANTS });
    const host = { host: `127.0.0.1:${port}` };
    const cookie = { cookie: `mamori_token=${encodeURIComponent(OPERATOR)}` };
    expect((await send({ port }, 'GET', '/api/status', { ...host, ...cookie })).status).toBe(200);
    expect((await send({ port }, 'POST', '/api/resume', { ...host, ...cookie, ...JSON_TYPE }, '{"server":"acme-web1"}')).status).toBe(401);
    expect(calls.resumed).toEqual([]);
  });

  it('a public host name is answered, any other name is not; with tokens a loopback client without one reads nothing', async () => {
    const { port } = await start({ tokens: GRANTS, publicHosts: ['status.example.net'] });
    expect((await send({ port }, 'GET', '/api/status', { host: 'status.example.net', ...bearer(OPERATOR) })).status).toBe(200);
    expect((await send({ port }, 'GET', '/api/status', { host: 'Status.Example.Net:443', ...bearer(OPERATOR) })).status).toBe(200);
    expect((await send({ port }, 'GET', '/api/status', { host: 'other.example.net', ...bearer(OPERATOR) })).status).toBe(421);
    for (const path of ['/api/status', '/metrics', '/', '/events']) {
      const r = await send({ port }, 'GET', path, { host: `127.0.0.1:${port}` });
      expect(r.status, path).toBe(401);
      expect(r.text).not.toContain('acme-web1');
    }
  });
});

describe('scopes', () => {
  it('each token reaches what its scope allows and nothing else', async () => {
    const { port, calls } = await start({ tokens: GRANTS });
    const get = (path: string, token: string) => send({ port }, 'GET', path, { host: `localhost:${port}`, ...bearer(token) });
    const post = (path: string, token: string, body = '{}') => send({ port }, 'POST', path, { host: `localhost:${port}`, ...bearer(token), ...JSON_TYPE }, body);
    const table: Array<[string, string, 'GET' | 'POST', number]> = [
      ['operator', OPERATOR, 'GET', 200],
      ['customer', ACME, 'GET', 200],
      ['metrics', METRICS, 'GET', 403],
      ['agent', AGENT, 'GET', 403],
    ];
    for (const [name, token, , status] of table) expect((await get('/api/status', token)).status, name).toBe(status);
    expect((await get('/metrics', OPERATOR)).status).toBe(200);
    expect((await get('/metrics', METRICS)).status).toBe(200);
    expect((await get('/metrics', ACME)).status).toBe(403);
    expect((await get('/metrics', AGENT)).status).toBe(403);
    expect((await send({ port }, 'GET', '/metrics', { host: `localhost:${port}` })).status).toBe(401);
    for (const [path, body] of MUTATIONS) {
      for (const token of [ACME, METRICS, AGENT]) expect((await post(path, token, body)).status, `${path} ${token.slice(0, 6)}`).toBe(403);
    }
    expect(calls).toEqual({ syncs: 0, resumed: [], reconciled: [], confirmed: [] });
    // The report: a customer's own only; the operator names one; the scraper and the agent none.
    const month = new Date().toISOString().slice(0, 7);
    const own = await get(`/report?month=${month}&format=json`, ACME);
    expect(own.status).toBe(200);
    expect(JSON.parse(own.text)).toMatchObject({ customer: 'acme' });
    expect(own.text).not.toContain('globex');
    expect((await get(`/report?month=${month}&customer=globex`, ACME)).status).toBe(403);
    expect((await get(`/report?month=${month}`, OPERATOR)).status).toBe(400);
    expect((await get(`/report?month=${month}&customer=globex&format=json`, OPERATOR)).status).toBe(200);
    expect((await get(`/report?month=${month}&customer=acme`, METRICS)).status).toBe(403);
    expect((await post('/api/observations', AGENT)).status).toBe(501);
    expect((await post('/api/observations', ACME)).status).toBe(403);
    expect((await post('/api/observations', METRICS)).status).toBe(403);
  });

  it("a customer's /api/status holds their servers only: no other customer's name or address in the bytes", async () => {
    const { port } = await start({ tokens: GRANTS });
    const r = await send({ port }, 'GET', '/api/status', { host: `localhost:${port}`, ...bearer(ACME) });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text) as { customer: string; servers: Array<{ metadata: { name: string } }>; massFailure: Array<{ servers: string[] }> };
    expect(body.customer).toBe('acme');
    expect(body.servers.map((s) => s.metadata.name)).toEqual(['acme-web1']);
    expect(body.massFailure[0]?.servers).toEqual(['acme/acme-web1']);
    expect(r.text).not.toMatch(/globex|203\.0\.113\.20/);
    const op = await send({ port }, 'GET', '/api/status', { host: `localhost:${port}`, ...bearer(OPERATOR) });
    expect(op.text).toContain('globex-db1');
  });
});

describe('the live page of a customer', () => {
  it("hears of changes to its own servers, not of another customer's", async () => {
    const { port, live } = await start({ tokens: GRANTS });
    const got: string[] = [];
    const req = request({ host: '127.0.0.1', port, path: '/events', headers: { host: `localhost:${port}`, ...bearer(ACME) } });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    res.on('data', (c: Buffer) => got.push(c.toString('utf8')));
    await expect.poll(() => got.join('').includes('event: hello'), { timeout: 2000 }).toBe(true);
    live.onEvent({ type: 'status-written', server: 'globex/globex-db1' });
    await new Promise((r) => setTimeout(r, 800));
    expect(got.join('')).not.toContain('event: update');
    live.onEvent({ type: 'status-written', server: 'acme/acme-web1' });
    await expect.poll(() => got.join('').includes('event: update'), { timeout: 2000 }).toBe(true);
    expect(got.join('')).not.toContain('globex');
    req.destroy();
  });
});

describe('the local API socket', () => {
  it('is the operator: resume, reconcile and confirm work without a token; the file is 0600', async () => {
    const { socket, calls } = await start({ socket: true, tokens: GRANTS });
    const where = { socket: socket as string };
    expect(statSync(socket as string).mode & 0o777).toBe(0o600);
    expect((await send(where, 'POST', '/api/resume', JSON_TYPE, '{"server":"acme-web1","service":"http"}')).status).toBe(200);
    expect((await send(where, 'POST', '/api/reconcile', JSON_TYPE, '{"dryRun":true}')).status).toBe(200);
    expect((await send(where, 'POST', '/api/confirm', JSON_TYPE, '{"revision":"held1234"}')).status).toBe(200);
    expect(calls).toMatchObject({ resumed: [['acme-web1', 'http']], reconciled: [true], confirmed: ['held1234'] });
    // Still JSON only: nothing but our own client has a reason to send anything else.
    expect((await send(where, 'POST', '/api/resume', { 'content-type': 'text/plain' }, '{"server":"x"}')).status).toBe(415);
  });

  it('0660 when the operators share the daemon group', async () => {
    const { socket } = await start({ socket: true, socketMode: '0660' });
    expect(statSync(socket as string).mode & 0o777).toBe(0o660);
  });
});

describe('order of the checks', () => {
  it('refuses an unauthorised POST without reading its body (a declared megabyte never sent)', async () => {
    const { port } = await start({ tokens: GRANTS });
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(`POST /api/resume HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n`);
    const [chunk] = (await Promise.race([once(sock, 'data'), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer before the body')), 3000))])) as [Buffer];
    expect(chunk.toString('latin1')).toMatch(/^HTTP\/1\.1 401 /);
    sock.destroy();
  });

  it('logs a client that hangs up mid-body once, at info, without a stack trace', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const logger = createLogger({ level: 'debug', destination: sink });
    const { port } = await start({ tokens: GRANTS, logger });
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(`POST /api/resume HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${OPERATOR}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ser`);
    await new Promise((r) => setTimeout(r, 100));
    sock.destroy();
    await expect.poll(() => lines.filter((l) => l.msg === 'http request aborted by the client').length, { timeout: 3000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    const aborted = lines.filter((l) => l.msg === 'http request aborted by the client');
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toMatchObject({ level: 30, method: 'POST', path: '/api/resume' });
    expect(aborted[0]?.err).toBeUndefined();
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});

describe('the token table', () => {
  it('keeps digests only, finds each scope, refuses short and shared secrets', () => {
    const table = TokenTable.from(GRANTS);
    expect(table.lookup(ACME)).toEqual({ scope: 'customer', customer: 'acme', name: 'acme-status' });
    expect(table.lookup(OPERATOR)?.scope).toBe('operator');
    expect(table.lookup(`${ACME}x`)).toBeUndefined();
    expect(table.lookup('')).toBeUndefined();
    expect(JSON.stringify(table)).not.toContain(ACME);
    expect(() => TokenTable.from([{ scope: 'metrics', name: 'short', token: 'x'.repeat(MIN_TOKEN_LENGTH - 1) }])).toThrow(/shorter than 16/);
    expect(() => TokenTable.from([...GRANTS, { scope: 'operator', name: 'again', token: ACME }])).toThrow(/acme-status and again hold the same token/);
  });
});
