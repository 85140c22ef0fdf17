/**
 * Reading a manifests tree from disk, refusing what could make the read itself
 * dangerous: symbolic links that leave the tree (or loop), files that are not
 * regular files (a FIFO would block the read forever), files over the size limit
 * (checked before reading), trees too deep or too large.
 *
 * The manifests root is resolved once (realpath) and never left: `customers/` and
 * `operator/` are walked only where their real path lies inside it (`customers -> /etc`
 * is a finding, not a walk), and folders are listed by their real paths. A YAML file
 * anywhere else in the root is listed, never read, and reported (file-stray).
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Finding, ManifestFile } from './types.ts';
import { packagePath } from '../package-info.ts';
import { MANIFEST_LIMITS } from './limits.ts';
import { strayMessage } from './ownership.ts';

/** mamori's own operator folder, shipped with the package (manifests/operator/). */
export const SHIPPED_OPERATOR_DIR = packagePath('manifests/operator', true);

export interface TreeRead {
  files: ManifestFile[];
  findings: Finding[];
  /** The operator folder that was read (absolute). */
  operatorDir: string;
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

type Read = { bytes: Uint8Array } | { refused: 'file-type' | 'file-too-large'; size: number };

/**
 * Open, check the size on the open file (before reading a byte), read at most
 * `limit` + 1 bytes. O_NOFOLLOW and O_NONBLOCK: a file swapped for a symbolic link
 * or a FIFO after the folder was listed is refused instead of followed or waited on.
 */
async function readBounded(path: string, limit: number): Promise<Read> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { refused: 'file-type', size: st.size };
    if (st.size > limit) return { refused: 'file-too-large', size: st.size };
    const buf = Buffer.allocUnsafe(st.size + 1);
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, total, buf.length - total, total);
      total += bytesRead;
      if (bytesRead === 0 || total >= buf.length) break;
    }
    return { bytes: buf.subarray(0, total) };
  } finally {
    await fh.close();
  }
}

interface Walk {
  /** Where the logical paths start (`operator`, `customers`, or '' for the root's strays). */
  logical: string;
  dir: string;
  /** The start folder's real path, already checked to lie inside `rootReal`. */
  real: string;
  /** The real path of the tree the walk may not leave (the manifests root, or an operator folder of its own). */
  rootReal: string;
  /** List YAML files as strays (a finding each) instead of reading them. */
  stray?: boolean;
  /** Top-level names not to descend into (the places walked on their own). */
  skip?: ReadonlySet<string>;
}

function refusal(findings: Finding[]): (logical: string, abs: string, rule: string, message: string) => void {
  return (logical, abs, rule, message) => {
    findings.push({ file: logical, line: 1, col: 1, field: '', rule, message, severity: 'error', path: abs });
  };
}

async function walk(start: Walk, files: ManifestFile[], findings: Finding[], budget: { files: number }): Promise<void> {
  const rootReal = start.rootReal;
  const visited = new Set<string>([start.real]);
  const queue: Array<{ dir: string; real: string; logical: string; depth: number }> = [{ dir: start.dir, real: start.real, logical: start.logical, depth: 0 }];
  const toRead: Array<{ abs: string; real: string; logical: string }> = [];
  const refuse = refusal(findings);
  for (let head = 0; head < queue.length; head++) {
    // The strays' walk lists a tree nobody curated for mamori: bounded like the reading walk.
    if (start.stray === true && head > MANIFEST_LIMITS.maxFiles) break;
    const { dir, real: dirReal, logical, depth } = queue[head] as { dir: string; real: string; logical: string; depth: number };
    let entries;
    try {
      // Listed by its real path: a folder swapped for a link after it was checked is not followed out.
      entries = await readdir(dirReal, { withFileTypes: true });
    } catch (err) {
      refuse(logical, dir, 'file-unreadable', `the folder cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue; // .git, editor files
      if (depth === 0 && start.skip?.has(e.name)) continue;
      const abs = join(dir, e.name);
      const log = logical === '' ? e.name : `${logical}/${e.name}`;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      let size = -1;
      let real = join(dirReal, e.name);
      if (e.isSymbolicLink()) {
        try {
          real = await realpath(abs);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          refuse(log, abs, 'file-symlink', code === 'ELOOP' ? 'a symbolic link that loops is refused' : 'a symbolic link that leads nowhere is refused');
          continue;
        }
        if (!inside(real, rootReal)) {
          refuse(log, abs, 'file-symlink', 'a symbolic link that leaves the manifests folder is refused');
          continue;
        }
        const st = await stat(real);
        isDir = st.isDirectory();
        isFile = st.isFile();
        size = st.size;
      }
      if (isDir) {
        // Every folder is walked once, however many links lead to it.
        if (visited.has(real)) {
          refuse(log, abs, 'file-symlink', 'a symbolic link that loops back into the tree is refused');
          continue;
        }
        visited.add(real);
        if (depth + 1 > MANIFEST_LIMITS.maxFolderDepth) {
          refuse(log, abs, 'file-depth', `folders nested deeper than ${MANIFEST_LIMITS.maxFolderDepth} levels are refused`);
          continue;
        }
        queue.push({ dir: abs, real, logical: log, depth: depth + 1 });
        continue;
      }
      if (!/\.ya?ml$/i.test(e.name)) continue;
      if (start.stray === true) {
        refuse(log, abs, 'file-stray', strayMessage());
        continue;
      }
      if (!isFile) {
        refuse(log, abs, 'file-type', 'not a regular file: a manifest is a plain file');
        continue;
      }
      if (--budget.files < 0) {
        refuse(log, abs, 'file-count', `more than ${MANIFEST_LIMITS.maxFiles} manifest files: the rest are not read`);
        return;
      }
      // Plain files are sized on the open file (readBounded); linked ones were stat'ed above.
      if (size > MANIFEST_LIMITS.maxFileBytes) {
        refuse(log, abs, 'file-too-large', `the file is ${size} bytes; a manifest may be at most ${MANIFEST_LIMITS.maxFileBytes} bytes`);
        continue;
      }
      toRead.push({ abs, real, logical: log });
    }
  }
  // Read in parallel, a bounded number at a time.
  let next = 0;
  const out: Array<ManifestFile | undefined> = new Array(toRead.length);
  const worker = async (): Promise<void> => {
    while (next < toRead.length) {
      const i = next++;
      const item = toRead[i] as { abs: string; real: string; logical: string };
      try {
        // A link inside the tree is read through its target (checked above to be inside).
        const r = await readBounded(item.real, MANIFEST_LIMITS.maxFileBytes);
        if ('bytes' in r) out[i] = { path: item.logical, content: r.bytes, absolutePath: item.abs };
        else if (r.refused === 'file-type') refuse(item.logical, item.abs, 'file-type', 'not a regular file: a manifest is a plain file');
        else refuse(item.logical, item.abs, 'file-too-large', `the file is ${r.size} bytes; a manifest may be at most ${MANIFEST_LIMITS.maxFileBytes} bytes`);
      } catch (err) {
        refuse(item.logical, item.abs, 'file-unreadable', `the file cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(64, toRead.length) }, worker));
  for (const f of out) if (f !== undefined) files.push(f);
}

/**
 * The manifest files of a tree: `<root>/customers/**` and the operator folder
 * (`operatorDir` if given, else `<root>/operator/` if present, else mamori's own).
 */
export async function readManifestTree(root: string, options: { operatorDir?: string | undefined } = {}): Promise<TreeRead> {
  const files: ManifestFile[] = [];
  const findings: Finding[] = [];
  const refuse = refusal(findings);
  const budget = { files: MANIFEST_LIMITS.maxFiles };
  const ownOperator = join(root, 'operator');
  const operatorDir = options.operatorDir ?? ((await exists(ownOperator)) ? ownOperator : SHIPPED_OPERATOR_DIR);
  // Resolved once: every walk below stays inside this real path.
  const rootReal = await realpath(root).catch(() => undefined);
  const operatorReal = await realpath(operatorDir).catch(() => undefined);

  /** A top-level place of the root, walked only if its real path is inside the root. */
  const place = async (name: 'operator' | 'customers', dir: string): Promise<void> => {
    if (rootReal === undefined || !(await exists(dir))) return;
    const real = await realpath(dir).catch((err: NodeJS.ErrnoException) => {
      refuse(name, dir, 'file-symlink', err.code === 'ELOOP' ? 'a symbolic link that loops is refused' : 'a symbolic link that leads nowhere is refused');
      return undefined;
    });
    if (real === undefined) return;
    if (!inside(real, rootReal) || real === rootReal) {
      refuse(name, dir, 'file-symlink', `${name}/ is a symbolic link that leaves the manifests folder: it is not followed, and nothing under it is read`);
      return;
    }
    await walk({ logical: name, dir, real, rootReal }, files, findings, budget);
  };

  if (operatorDir === ownOperator) await place('operator', ownOperator);
  else if (operatorReal !== undefined) await walk({ logical: 'operator', dir: operatorDir, real: operatorReal, rootReal: operatorReal }, files, findings, budget);
  await place('customers', join(root, 'customers'));

  // YAML anywhere else in the root is read by no one: say so, or its author believes it applied.
  // Not when the root is itself the operator folder (a fallback read of operator documents only).
  if (rootReal !== undefined && rootReal !== operatorReal) {
    // operator/ is a place of the layout even when the config's operatorDir is read instead.
    const skip = new Set(['customers', 'operator', ...CONFIG_FILE_NAMES]);
    await walk({ logical: '', dir: root, real: rootReal, rootReal, stray: true, skip }, files, findings, budget);
  }
  return { files, findings, operatorDir };
}

/** mamori's own config file may sit at the top of the manifests folder: it is no manifest, and no stray. */
export const CONFIG_FILE_NAMES = ['mamori.yaml', 'mamori.yml'] as const;

/** A path relative to the working directory, for people and CI annotations. */
export function displayPath(abs: string, cwd: string = process.cwd()): string {
  const r = relative(cwd, abs);
  return r.startsWith('..') ? abs : r.split(sep).join('/');
}
