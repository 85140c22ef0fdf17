/**
 * The daemon as an operator runs it: `node bin/mamori.js run --config FILE` in a child process,
 * its JSON log lines parsed from stdout, its HTTP side asked over the loopback. Plus a loopback
 * HTTP listener that counts the HEAD requests mamori's probes send it (the real probe, a real peer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../source/git-fixture.ts';

export const BIN = join(REPO_ROOT, 'bin', 'mamori.js');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A real HTTP peer on the loopback that remembers when each probe arrived. */
export class ProbeTarget {
  readonly hits: number[] = [];
  private server: Server | undefined;
  port = 0;

  /** Listens on `address` (a server's own loopback address: see loopbackFor). */
  constructor(readonly address = '127.0.0.1') {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.hits.push(Date.now());
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'ok');
    });
    await new Promise<void>((resolve) => this.server?.listen(0, this.address, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  firstHitAfter(t: number): number | undefined {
    return this.hits.find((h) => h >= t);
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

export interface LogLine {
  level: number;
  /** ISO 8601, UTC. */
  time: string;
  msg: string;
  [key: string]: unknown;
}

export interface DaemonProcess {
  child: ChildProcess;
  base: string;
  logs: LogLine[];
  stderr(): string;
  waitForLog(match: string | ((l: LogLine) => boolean), timeoutMs?: number): Promise<LogLine>;
  get(path: string): Promise<{ status: number; json: unknown; text: string }>;
  post(path: string, body: string, headers?: Record<string, string>): Promise<{ status: number; json: unknown }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
}

const live = new Set<ChildProcess>();

/** Kill (by pid, SIGKILL) every daemon a test started and did not stop. */
export function killStrays(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  live.clear();
}

/**
 * The command that runs `mamori ARGS` as another user. That user may not be able to reach the
 * checkout (a clone under /root, 0700 on Debian), so the command enters a private mount namespace,
 * binds the checkout read-only onto a fresh folder under the temp folder that anyone can enter, and
 * drops to the user there (setpriv): what the user runs is the checkout, unchanged, wherever it is.
 * The bind lives and dies with the process's namespace; `release` removes the (empty) folder.
 */
export function asUserCommand(user: { uid: number; gid: number }, args: string[]): { file: string; args: string[]; release: () => void } {
  const view = mkdtempSync(join(tmpdir(), 'mamori-view-'));
  chmodSync(view, 0o755);
  const script = 'set -e; mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"; u=$3; g=$4; shift 4; exec setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@"';
  return {
    file: 'unshare',
    args: ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', REPO_ROOT, view, String(user.uid), String(user.gid), process.execPath, join(view, 'bin', 'mamori.js'), ...args],
    release: () => rmdirSync(view),
  };
}

export async function spawnDaemon(options: {
  cwd: string;
  config: string;
  port: number;
  /** The address http.listen names (default 127.0.0.1): get/post go there. */
  host?: string;
  env?: Record<string, string>;
  args?: string[];
  /** Run as this user (the test must be root to switch), from a read-only view of the checkout (asUserCommand). */
  user?: { uid: number; gid: number };
  /** How long to wait for `mamori running` (ms; 90 s by default: a bench with a large fleet waits longer). */
  runningTimeoutMs?: number;
  /** Options for node itself, before the script (`--cpu-prof`: NODE_OPTIONS refuses it). */
  nodeArgs?: string[];
}): Promise<DaemonProcess> {
  const args = ['run', '--config', options.config, ...(options.args ?? [])];
  const command = options.user ? asUserCommand(options.user, args) : { file: process.execPath, args: [...(options.nodeArgs ?? []), BIN, ...args], release: () => {} };
  const child = spawn(command.file, command.args, {
    cwd: options.cwd,
    env: { ...process.env, MAMORI_LOG_LEVEL: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const logs: LogLine[] = [];
  let err = '';
  let pending = '';
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.trim()) continue;
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { level: 0, time: new Date().toISOString(), msg: `(not JSON) ${line}` };
      }
      logs.push(parsed);
      for (const w of [...waiters]) {
        if (w.match(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (err.length < 100_000) err += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      command.release();
      resolve({ code, signal });
    }),
  );
  const base = `http://${options.host ?? '127.0.0.1'}:${options.port}`;
  const proc: DaemonProcess = {
    child,
    base,
    logs,
    stderr: () => err,
    waitForLog(match, timeoutMs = 60_000) {
      const pred = typeof match === 'string' ? (l: LogLine) => l.msg === match : match;
      const seen = logs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no log line ${String(match)} within ${timeoutMs} ms; stderr: ${err.slice(-2000)}; last logs: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
        const w = {
          match: pred,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        void exited.then(() => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            reject(new Error(`the daemon exited before ${String(match)}; stderr: ${err.slice(-2000)}`));
          }
        });
      });
    },
    async get(path) {
      const res = await fetch(`${base}${path}`);
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text };
    },
    async post(path, body, headers = {}) {
      const res = await fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, json };
    },
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  await proc.waitForLog('mamori running', options.runningTimeoutMs ?? 90_000);
  return proc;
}

/** A field of /api/status by path, for expect.poll. */
export async function statusField(d: DaemonProcess, ...path: string[]): Promise<unknown> {
  const { json } = await d.get('/api/status');
  let v: unknown = json;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}
