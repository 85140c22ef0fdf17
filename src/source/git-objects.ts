import { spawn } from 'node:child_process';

/** One entry of `git ls-tree -r -l -z`. */
export interface TreeEntry {
  mode: string;
  type: string;
  object: string;
  /** `-` for a submodule. */
  size: number;
  path: string;
}

export function parseLsTree(output: string): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const record of output.split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    if (tab < 0) continue;
    const [mode = '', type = '', object = '', size = ''] = record.slice(0, tab).split(/ +/);
    entries.push({ mode, type, object, size: size === '-' ? 0 : Number(size), path: record.slice(tab + 1) });
  }
  return entries;
}

/**
 * Read many blobs in one `git cat-file --batch` process: a manifests repository of 10,000 files
 * must not cost 10,000 processes. Returns the contents in the order asked.
 */
export function readBlobs(gitDir: string, objects: readonly string[], env: NodeJS.ProcessEnv): Promise<Buffer[]> {
  if (objects.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const results: Buffer[] = [];
    let pending: Buffer = Buffer.alloc(0);
    let stderr = '';
    const parse = (): void => {
      for (;;) {
        const newline = pending.indexOf(0x0a);
        if (newline < 0) return;
        const header = pending.subarray(0, newline).toString('utf8');
        const parts = header.split(' ');
        if (parts[1] === 'missing') {
          reject(new Error(`git object ${parts[0] ?? '?'} is missing`));
          child.kill();
          return;
        }
        const size = Number(parts[2]);
        if (!Number.isFinite(size)) {
          reject(new Error('git cat-file answered an unexpected header'));
          child.kill();
          return;
        }
        // Header, content, then one newline.
        if (pending.length < newline + 1 + size + 1) return;
        results.push(Buffer.from(pending.subarray(newline + 1, newline + 1 + size)));
        pending = pending.subarray(newline + 1 + size + 1);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      parse();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (results.length === objects.length) resolve(results);
      else reject(new Error(`git cat-file ended (${code ?? 'signal'}) after ${results.length} of ${objects.length} objects: ${stderr.trim()}`));
    });
    child.stdin.on('error', () => {
      // The process ended early; 'close' reports why.
    });
    child.stdin.end(`${objects.join('\n')}\n`);
  });
}
