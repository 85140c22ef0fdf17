/**
 * Paths as a command names them, resolved without touching any file system: `.` and `..`
 * folded, repeated and trailing slashes dropped. `~` stands for the login's home, whose
 * place is not known: a path that climbs out of it with `..` resolves to null (unknown).
 */

function fold(parts: readonly string[], rootAbsolute: boolean): string[] | null {
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length > 0) out.pop();
      else if (!rootAbsolute) return null;
      continue;
    }
    out.push(p);
  }
  return out;
}

/** `path` resolved against `cwd` (an absolute path or `~…`); null when it cannot be known. */
export function resolvePath(path: string, cwd: string): string | null {
  if (path.startsWith('/')) return `/${(fold(path.split('/'), true) ?? []).join('/')}`;
  if (path.startsWith('~')) {
    const slash = path.indexOf('/');
    const user = slash < 0 ? path.slice(1) : path.slice(1, slash);
    const rest = slash < 0 ? '' : path.slice(slash + 1);
    if (user === '') return underHome(rest);
    const home = user === 'root' ? '/root' : `/home/${user}`;
    return resolvePath(`${home}/${rest}`, '/');
  }
  if (cwd.startsWith('~')) return underHome(`${cwd.slice(1)}/${path}`);
  return resolvePath(`${cwd}/${path}`, '/');
}

function underHome(rest: string): string | null {
  const parts = fold(rest.split('/'), false);
  if (parts === null) return null;
  return parts.length === 0 ? '~' : `~/${parts.join('/')}`;
}

/** Whether `dir` is `path` or one of its ancestors. */
export function isAtOrAbove(dir: string, path: string): boolean {
  if (dir === path) return true;
  if (dir === '/') return path.startsWith('/');
  return path.startsWith(`${dir}/`);
}
