/**
 * `mamori runbook run` never sends a power action unasked: on a terminal (a real PTY, through
 * util-linux `script`) it prints each step as it ends and asks right before the power action —
 * "no" sends nothing and ends Interrupted; without a terminal it refuses before anything runs
 * unless --yes. The power channel is an operator `command` profile whose script records each
 * action it is given (no BMC needed: what is checked is what mamori asks of it).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../daemon/daemon-process.ts';

let dir: string;
let actions: string;

function mamori(args: string[], opts: { tty?: boolean; answerAt?: RegExp; answer?: string } = {}): Promise<{ code: number | null; out: string }> {
  const argv = [process.execPath, BIN, '--manifests', join(dir, 'manifests'), '--config', join(dir, 'mamori.yaml'), ...args];
  const [file, fileArgs] = opts.tty ? ['script', ['-qec', argv.map((a) => `'${a}'`).join(' '), '/dev/null']] : [argv[0]!, argv.slice(1)];
  return new Promise((resolve) => {
    const child = spawn(file as string, fileArgs as string[], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb' } });
    let out = '';
    let answered = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const read = (d: Buffer): void => {
      out += d.toString();
      if (!answered && opts.answerAt?.test(out)) {
        answered = true;
        child.stdin.write(opts.answer ?? '');
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    if (!opts.tty) child.stdin.end();
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-confirm-'));
  actions = join(dir, 'actions');
  const power = join(dir, 'power.sh');
  writeFileSync(power, `#!/bin/sh\necho "$1" >> ${actions}\n[ "$1" = status ] && echo off\nexit 0\n`);
  chmodSync(power, 0o755);
  writeFileSync(
    join(dir, 'mamori.yaml'),
    `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests }\nconsoleProfiles:\n  fake: { driver: command, console: ["sh", "-c", "exit 1"], power: ["${power}", "{{action}}"] }\n`,
  );
  mkdirSync(join(dir, 'manifests', 'customers', 'acme', 'servers'), { recursive: true });
  writeFileSync(
    join(dir, 'manifests', 'customers', 'acme', 'servers', 'db1.yaml'),
    `apiVersion: mamori/v1
kind: Server
metadata: { name: db1, customer: acme }
spec:
  address: 127.0.0.1
  os: { family: centos, version: "7" }
  plan: basic
  contact: { email: ops@acme.example }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: [ping]
  console: { profile: fake }
  access: { user: mamori, hostKey: "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", credentials: { secretRef: acme-db1 } }
`,
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mamori runbook run and power actions', () => {
  it('without a terminal, refuses a runbook that may power the server, before anything runs', async () => {
    const r = await mamori(['runbook', 'run', 'db1', 'ping']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('may power the server on, off or cycle it (step power-recover), and there is no terminal to ask on: nothing was run');
    expect(r.out).toContain('--yes');
    expect(existsSync(actions)).toBe(false);
  });

  it('on a terminal, streams the steps and asks before the power action; "no" sends nothing', async () => {
    const r = await mamori(['runbook', 'run', 'db1', 'ping'], { tty: true, answerAt: /Power on db1 now\?[^\n]*$/, answer: 'no\r' });
    // The console step was printed before the question (streamed, not at the end).
    expect(r.out.indexOf('console-look [console]')).toBeGreaterThan(-1);
    expect(r.out.indexOf('console-look [console]')).toBeLessThan(r.out.indexOf('Power on db1 now?'));
    expect(r.out).toContain('power on declined by the operator: nothing sent');
    expect(r.out).toMatch(/db1 ping: Interrupted/);
    expect(r.code).toBe(1);
    // The power channel was only asked for the status.
    expect(readFileSync(actions, 'utf8').trim().split('\n')).toEqual(['status']);
  }, 120_000);
});
