#!/usr/bin/env node
// mamori's command. An installed package runs the built code in dist/ (`npm run build`).
// A checkout runs its TypeScript sources through tsx (a devDependency) when there is no
// build, or when a file under src/ is newer than the build — so a developer never runs a stale
// dist/ by mistake; MAMORI_FROM_SOURCE=1 forces the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'mamori.js');
const sources = join(root, 'src');

/** The newest modification time under a folder (a checkout's src/: a few hundred entries, ~2 ms). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function useBuild() {
  if (!existsSync(built)) return false;
  if (!existsSync(sources)) return true;
  if (process.env.MAMORI_FROM_SOURCE === '1') return false;
  return newest(sources) <= statSync(built).mtimeMs;
}

let main;
if (useBuild()) {
  ({ main } = await import('../dist/mamori.js'));
} else if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else {
  process.stderr.write(`mamori: ${built} is missing: this installation is incomplete (a checkout builds it with \`npm run build\`)\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv);
