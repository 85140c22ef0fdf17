/**
 * `npm run build`: the bundle in dist/ is what an installed mamori runs. Its entry loads
 * commander and the command definitions only — every other npm package is behind a dynamic
 * import, so `mamori --help` starts in about the time of a bare node (bench/cold-start.ts) — and
 * the built command finds its schemas and operator documents from the package's own folder.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../source/git-fixture.ts';
import { pingMany } from '../../src/probe/icmp.ts';
import { PingHelper } from '../../src/probe/ping-helper-client.ts';

const run = promisify(execFile);
let dir: string;

interface Meta {
  outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[] }>;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-build-'));
  // A package folder of its own: the built dist/, package.json, schemas, operator documents, and
  // the checkout's node_modules (as an installed package has its dependencies).
  await run(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--outdir', join(dir, 'dist'), '--meta', join(dir, 'meta.json')], { cwd: REPO_ROOT });
  cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(REPO_ROOT, 'schemas'), join(dir, 'schemas'), { recursive: true });
  cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(dir, 'manifests', 'operator'), { recursive: true });
  cpSync(join(REPO_ROOT, 'bin', 'mamori.js'), join(dir, 'bin', 'mamori.js'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the build', () => {
  it('bundles every runtime dependency into the package (npm install --offline needs no registry)', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; bundleDependencies: string[] };
    expect([...pkg.bundleDependencies].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });

  it("the entry's static imports reach no npm package but commander", () => {
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
    const key = Object.keys(meta.outputs).find((k) => k.endsWith('/mamori.js') && !k.includes('/chunks/'));
    expect(key).toBeDefined();
    const packages = new Set<string>();
    const seen = new Set<string>();
    const walk = (out: string): void => {
      if (seen.has(out)) return;
      seen.add(out);
      for (const i of meta.outputs[out]?.imports ?? []) {
        if (i.kind !== 'import-statement') continue;
        if (i.external === true) {
          if (!i.path.startsWith('node:')) packages.add(i.path);
        } else walk(i.path);
      }
    };
    walk(key as string);
    expect([...packages]).toEqual(['commander']);
  });

  it('runs from its own folder: --version says build, validate finds the schemas and operator documents', async () => {
    const bin = join(dir, 'bin', 'mamori.js');
    const version = await run(process.execPath, [bin, '--version'], { cwd: dir, encoding: 'utf8' });
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout).toMatch(new RegExp(`^mamori ${pkg.version.replaceAll('.', '\\.')} \\(build [0-9a-f]{7,}[^,]*, node \\d+`));
    // A server manifest with a schema error: the finding proves the schema was read from dir/schemas.
    const manifests = join(dir, 'm');
    cpSync(join(REPO_ROOT, 'examples', 'customers'), join(manifests, 'customers'), { recursive: true });
    writeFileSync(join(manifests, 'customers', 'acme', 'servers', 'bad.yaml'), 'apiVersion: mamori/v1\nkind: Server\nmetadata: { name: bad, customer: acme }\nspec: { address: 203.0.113.99, colour: blue }\n');
    const bad = await run(process.execPath, [bin, 'validate', '--manifests', manifests, '--config', join(REPO_ROOT, 'examples', 'mamori.yaml')], { cwd: dir, encoding: 'utf8' }).catch((e: { code: number; stdout: string }) => e);
    expect('code' in bad ? bad.code : 0).toBe(1);
    expect(bad.stdout).toMatch(/bad\.yaml:4:\d+: error: spec\.colour: .*\[schema/);
    // The standard runbooks come from dir/manifests/operator: the valid servers' runbooks resolve.
    expect(bad.stdout).not.toMatch(/web01\.yaml.*runbook/);
  });

  it("the ping helper's process is an entry of its own, and answers a batch from the bundle", async () => {
    const helper = new PingHelper(pingMany, { entry: join(dir, 'dist', 'ping-helper.js') });
    try {
      const outcomes = await helper.pingMany(['127.0.0.1', 'not-an-ip'], { timeoutMs: 1000 });
      expect(outcomes.get('127.0.0.1')?.icmp.received).toBe(1);
      expect(outcomes.get('not-an-ip')?.failure?.message).toBe('not an IP address');
      expect(helper.stats()).toMatchObject({ helperBatches: 1, inlineBatches: 0, restarts: 0 });
    } finally {
      helper.close();
    }
  });
});
