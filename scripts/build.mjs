#!/usr/bin/env node
/**
 * `npm run build`: the TypeScript sources bundled by esbuild into dist/ — one ES module entry
 * (dist/mamori.js) and chunks split at the CLI's dynamic imports, so `mamori --help` loads
 * commander and the command definitions, and each command loads only what it runs. npm packages
 * stay external (node_modules, as installed); esbuild only strips types, `npm run typecheck` checks
 * them. dist/build-info.json records the version and the commit built, for `mamori --version` and
 * the mamori_build_info metric.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// --outdir DIR: build elsewhere (a test checks the bundle without touching dist/); --meta FILE: esbuild's metafile.
const { values: args } = parseArgs({ options: { outdir: { type: 'string' }, meta: { type: 'string' } } });
const out = args.outdir ?? join(root, 'dist');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function revision() {
  try {
    const rev = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'schemas', 'manifests/operator'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty === '' ? rev : `${rev}-dirty`;
  } catch {
    return 'unknown';
  }
}

// Built beside the target and swapped in whole: a mamori started meanwhile (a test, `npm pack`
// while tests run) sees the old build or the new one, never half of one.
const started = Date.now();
const fresh = `${out}.new-${process.pid}`;
rmSync(fresh, { recursive: true, force: true });
mkdirSync(fresh, { recursive: true });
const result = await build({
  absWorkingDir: root,
  // The shell parser's worker thread is an entry of its own (src/runbook/shell-parser-pool.ts starts it),
  // and so is the ping helper's process (src/probe/ping-helper-client.ts starts it).
  entryPoints: { mamori: 'src/cli/main.ts', 'shell-parse-worker': 'src/runbook/shell-parse-worker.ts', 'ping-helper': 'src/probe/ping-helper.ts' },
  outdir: fresh,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});
writeFileSync(join(fresh, 'build-info.json'), `${JSON.stringify({ version: pkg.version, revision: revision() }, null, 2)}\n`);
const old = `${out}.old-${process.pid}`;
if (existsSync(out)) renameSync(out, old);
renameSync(fresh, out);
rmSync(old, { recursive: true, force: true });
if (args.meta !== undefined) writeFileSync(args.meta, JSON.stringify(result.metafile));
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stderr.write(`${out}: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024).toFixed(0)} KB, in ${Date.now() - started} ms\n`);
