/**
 * The manifest files of one revision to plan: a commit of a git repository, read
 * with `git ls-tree` and `git show` (no checkout, the work tree is never touched), or
 * a folder. When a revision has no operator/ folder, mamori's own operator documents
 * stand in, as they do for `validate` and the daemon.
 */
import { simpleGit } from 'simple-git';
import { MamoriError } from '../errors.ts';
import { readManifestTree, SHIPPED_OPERATOR_DIR } from '../manifest/read-tree.ts';
import { isManifestPath } from '../manifest/ownership.ts';
import { MANIFEST_LIMITS } from '../manifest/limits.ts';
import type { Finding, ManifestFile } from '../manifest/types.ts';

export interface RevisionFiles {
  /** How the revision is named in the plan: `abc1234 (main~1)`, or the folder. */
  label: string;
  files: ManifestFile[];
  findings: Finding[];
}

async function operatorFallback(operatorDir: string | undefined): Promise<RevisionFiles['files']> {
  // The shipped operator folder has no customers/ beside it to walk: only operator/ is read.
  const dir = operatorDir ?? SHIPPED_OPERATOR_DIR;
  return (await readManifestTree(dir, { operatorDir: dir })).files.filter((f) => f.path.startsWith('operator/'));
}

export async function readFolderRevision(dir: string, options: { operatorDir?: string | undefined; label?: string } = {}): Promise<RevisionFiles> {
  const tree = await readManifestTree(dir, { operatorDir: options.operatorDir });
  return { label: options.label ?? dir, files: tree.files, findings: tree.findings };
}

/** The manifests folder inside the repository: `subdir` if given, else the top if it holds operator/ or customers/, else manifests/. */
async function manifestsPrefix(paths: readonly string[], subdir: string | undefined): Promise<string> {
  if (subdir !== undefined) return subdir.replace(/^\/+|\/+$/g, '') === '' ? '' : `${subdir.replace(/^\/+|\/+$/g, '')}/`;
  if (paths.some((p) => p.startsWith('operator/') || p.startsWith('customers/'))) return '';
  return 'manifests/';
}

export async function readGitRevision(
  repo: string,
  rev: string,
  options: { subdir?: string | undefined; operatorDir?: string | undefined } = {},
): Promise<RevisionFiles> {
  const git = simpleGit({ baseDir: repo, maxConcurrentProcesses: 8 });
  let commit: string;
  try {
    commit = (await git.raw(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`])).trim();
  } catch (err) {
    throw new MamoriError('MAMORI_PLAN_SOURCE', `${rev} is not a commit of the git repository ${repo}`, { cause: err, details: { repo, rev } });
  }
  // -l gives sizes: a blob over the manifest size limit is refused before it is read.
  const listing = await git.raw(['ls-tree', '-r', '-l', '-z', '--full-tree', commit]);
  const entries = listing
    .split('\0')
    .filter((line) => line !== '')
    .map((line) => {
      const tab = line.indexOf('\t');
      const [mode = '', type = '', , size = ''] = line.slice(0, tab).split(/\s+/);
      return { mode, type, size: Number(size), path: line.slice(tab + 1) };
    });
  const prefix = await manifestsPrefix(entries.map((e) => e.path), options.subdir);
  const files: ManifestFile[] = [];
  const findings: Finding[] = [];
  const wanted = entries.filter((e) => e.path.startsWith(prefix) && isManifestPath(e.path.slice(prefix.length)));
  if (wanted.length > MANIFEST_LIMITS.maxFiles) {
    throw new MamoriError('MAMORI_PLAN_SOURCE', `${rev} holds ${wanted.length} manifest files; at most ${MANIFEST_LIMITS.maxFiles} are read`, { details: { repo, rev } });
  }
  await Promise.all(
    wanted.map(async (e) => {
      const path = e.path.slice(prefix.length);
      if (e.type !== 'blob' || e.mode === '120000') {
        findings.push({ file: path, line: 1, col: 1, field: '', rule: 'file-not-regular', severity: 'error', message: 'a manifest must be a regular file (not a symbolic link or submodule)' });
        return;
      }
      if (e.size > MANIFEST_LIMITS.maxFileBytes) {
        findings.push({ file: path, line: 1, col: 1, field: '', rule: 'file-too-large', severity: 'error', message: `the file is ${e.size} bytes; a manifest may be at most ${MANIFEST_LIMITS.maxFileBytes} bytes` });
        return;
      }
      const content = await git.showBuffer([`${commit}:${e.path}`]);
      files.push({ path, content: new Uint8Array(content) });
    }),
  );
  if (options.operatorDir !== undefined || !files.some((f) => f.path.startsWith('operator/'))) {
    const own = await operatorFallback(options.operatorDir);
    const kept = files.filter((f) => !f.path.startsWith('operator/'));
    files.length = 0;
    files.push(...kept, ...own);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { label: `${commit.slice(0, 12)}${rev === commit ? '' : ` (${rev})`}`, files, findings };
}
