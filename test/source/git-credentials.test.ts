/**
 * Credentials reach git through an askpass helper, never the URL: a real smart-HTTP remote
 * (`git http-backend` behind a loopback server that demands Basic auth) accepts the token from
 * the secret, refuses a wrong one, and neither error nor description carries the token.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { credentialsFromSecret, sanitizeMessage, sanitizeUrl } from '../../src/source/git-credentials.ts';
import { GitSource } from '../../src/source/git.ts';
import { createGitFixture, serverPath, serverYaml, type GitFixture } from './git-fixture.ts';

const TOKEN = 'tok-9f8e7d6c5b4a';
let servers: Server[] = [];
let fixtures: GitFixture[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  for (const f of fixtures) f.cleanup();
  servers = [];
  fixtures = [];
});

/** git's smart HTTP over the CGI, demanding `deploy:<TOKEN>`. */
async function httpRemote(projectRoot: string): Promise<{ url: string; authorizations: string[] }> {
  const authorizations: string[] = [];
  const server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    authorizations.push(auth);
    if (auth !== `Basic ${Buffer.from(`deploy:${TOKEN}`).toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="manifests"' });
      res.end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: 'deploy',
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('utf8').split('\r\n')) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        if (name === 'status') status = Number(value.split(' ')[0]);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/remote.git`, authorizations };
}

describe('git credentials', () => {
  it('fetches from a remote that demands a token, given through askpass and not the URL', async () => {
    const repo = createGitFixture();
    fixtures.push(repo);
    repo.write(serverPath('web01'), serverYaml('web01'));
    const rev = repo.commit('one');
    repo.push();
    const remote = await httpRemote(dirname(repo.bare));
    const source = new GitSource({
      url: remote.url,
      ref: 'main',
      path: '',
      cacheDir: join(repo.dir, 'cache'),
      credentials: credentialsFromSecret(`deploy:${TOKEN}`),
      logger: silentLogger(),
    });
    const r = await source.sync();
    expect(r.ok ? r.snapshot.revision : r).toBe(rev);
    expect(remote.authorizations.some((a) => a.startsWith('Basic '))).toBe(true);

    const wrong = new GitSource({
      url: remote.url.replace('http://', 'http://deploy:leaked-in-url@'),
      ref: 'main',
      path: '',
      cacheDir: join(repo.dir, 'cache-wrong'),
      credentials: credentialsFromSecret('deploy:not-the-token-123'),
      logger: silentLogger(),
    });
    const refused = await wrong.sync();
    expect(refused).toMatchObject({ ok: false, reason: 'SourceUnavailable' });
    const message = refused.ok ? '' : refused.message;
    expect(message).not.toContain('not-the-token-123');
    expect(message).not.toContain('leaked-in-url');
    expect(wrong.description).not.toContain('leaked-in-url');
  });

  it.each([
    ['https://user:pw@example.test/x.git', 'https://example.test/x.git'],
    ['ssh://git@example.test:22/x.git', 'ssh://example.test:22/x.git'],
    ['/srv/git/x.git', '/srv/git/x.git'],
    ['fatal: unable to access https://a:b@h/x/: 403', 'fatal: unable to access https://h/x/: 403'],
  ])('sanitises %s', (input, expected) => {
    expect(sanitizeUrl(input)).toBe(expected);
  });

  it('cuts a known secret out of a message, and tells an ssh key from a token', () => {
    expect(sanitizeMessage('auth failed for tok-123456', ['tok-123456'])).toBe('auth failed for [redacted]');
    expect(credentialsFromSecret('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n').kind).toBe('ssh-key');
    expect(credentialsFromSecret('ghp_abcdef')).toEqual({ kind: 'token', token: 'ghp_abcdef' });
  });
});
