/**
 * The package as an operator installs it: `npm pack` (which builds), `npm install -g` of the
 * tarball into a fresh prefix with --offline (its dependencies are bundled in the tarball, so no
 * registry is asked), and from that prefix — no checkout, no tsx — `mamori --version`, `validate`
 * of the production example, and `probe` of a lab host (lab 80).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../src/probe/types.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';

const run = promisify(execFile);
let dir: string;
let tarball: string;
let mamori: string;
let lab: Lab | undefined;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(mamori, args, { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-install-'));
  const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
  tarball = join(dir, packed.stdout.trim().split('\n').pop() ?? '');
  const prefix = join(dir, 'prefix');
  await run('npm', ['install', '--global', '--offline', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', prefix, tarball], { cwd: dir, encoding: 'utf8', timeout: 600_000 });
  mamori = join(prefix, 'bin', 'mamori');
  lab = await startLab({ id: 80, hosts: [{ name: 'pkg1' }] });
}, 900_000);

afterAll(async () => {
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('ships what runs, and nothing of the checkout', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const top = new Set(stdout.split('\n').filter(Boolean).map((p) => p.split('/')[1]));
    expect([...top].sort()).toEqual(['CHANGELOG.md', 'README.md', 'bin', 'dist', 'manifests', 'node_modules', 'package.json', 'packaging', 'schemas'].sort());
    expect(stdout).not.toMatch(/^package\/(src|test|bench|scripts)\//m);
    expect(stdout).not.toMatch(/^package\/node_modules\/(tsx|vitest|typescript|esbuild)\//m);
    const installed = join(dir, 'prefix', 'lib', 'node_modules', 'mamori');
    expect(readdirSync(installed).sort()).not.toContain('src');
  });

  it('mamori --version: the package version, from the build', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^mamori ${pkg.version.replaceAll('.', '\\.')} \\(build [0-9a-f]{7,}`));
  });

  it('validate accepts the production example (schemas and operator documents found in the install)', async () => {
    const r = await cli(['validate', '--manifests', join(REPO_ROOT, 'examples'), '--config', join(REPO_ROOT, 'packaging', 'production', 'mamori.yaml')]);
    expect(r.stderr).toMatch(/^valid: 4 servers, \d+ runbooks/);
    expect(r.code).toBe(0);
  });

  it('probe reaches a lab host', async () => {
    const host = lab?.hosts[0];
    expect(host).toBeDefined();
    const r = await cli(['probe', host?.address ?? '', '--service', 'ping', '--service', 'http', '--service', 'ssh', '--service', 'smtp', '--json', '--timeout', '8000']);
    const results = JSON.parse(r.stdout) as ProbeResult[];
    expect(results.map((x) => [x.service, x.up])).toEqual([
      ['ping', true],
      ['http', true],
      ['ssh', true],
      ['smtp', true],
    ]);
    expect(r.code).toBe(0);
  });
});
