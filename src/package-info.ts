/**
 * Where mamori itself is installed, and which build it is. The package's folder is found by
 * walking up from this module to the package.json named "mamori" — the same answer from
 * `src/package-info.ts` in a checkout (run through tsx) and from `dist/<chunk>.js` in an installed
 * package, where a relative `new URL('../../schemas/', import.meta.url)` would point elsewhere
 * once bundled. Schemas, the shipped operator documents and the `mamori init` templates are read
 * from that folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  /** package.json's version. */
  version: string;
  /** The git commit the build was made from ("unknown" outside a git checkout). */
  revision: string;
  /** "dist" for the built package, "source" when run from the TypeScript sources through tsx. */
  flavour: 'dist' | 'source';
  /** Node's version, for support questions. */
  node: string;
}

let root: string | undefined;

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The package's folder (absolute, no trailing separator). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && readJson(pkg)?.name === 'mamori') return (root = dir);
    if (dirname(dir) === dir) break;
  }
  throw new Error(`mamori: no package.json named "mamori" above ${start}: the installation is incomplete; reinstall the package`);
}

/** A path inside the package, ending with a separator when `folder` is true. */
export function packagePath(relative: string, folder = false): string {
  const path = join(packageRoot(), relative);
  return folder && !path.endsWith(sep) ? path + sep : path;
}

let info: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (info !== undefined) return info;
  const here = fileURLToPath(import.meta.url);
  const dist = packagePath('dist', true);
  const pkg = readJson(packagePath('package.json'));
  const version = typeof pkg?.version === 'string' ? pkg.version : '0.0.0';
  const built = here.startsWith(dist) ? readJson(join(dist, 'build-info.json')) : undefined;
  info = {
    version,
    revision: typeof built?.revision === 'string' ? built.revision : 'unknown',
    flavour: here.startsWith(dist) ? 'dist' : 'source',
    node: process.versions.node,
  };
  return info;
}
