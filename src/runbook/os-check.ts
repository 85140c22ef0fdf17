/**
 * Confirming the server is the OS its manifest says, before a standard runbook acts on it:
 * the seed's commands differ by family (`/etc/init.d/httpd` vs `/usr/local/etc/rc.d/...`),
 * so a CentOS runbook must never run on a FreeBSD box that took over the address. Pure:
 * parses what OS_LOOK_SCRIPT printed.
 */

export interface ObservedOs {
  family: string | undefined;
  variant?: string;
  version: string | undefined;
  /** What the server said, one line, for evidence. */
  release: string;
}

export interface DeclaredOs {
  family: string;
  variant?: string;
  version: string;
}

function field(output: string, key: string): string | undefined {
  const line = output.split(/\r?\n/).find((l) => l.startsWith(`${key}: `));
  return line?.slice(key.length + 2).trim();
}

export function parseOsLook(output: string): ObservedOs {
  const kernel = field(output, 'uname-s') ?? '';
  if (kernel === 'FreeBSD') {
    const raw = field(output, 'freebsd-version') ?? field(output, 'uname-r') ?? '';
    const version = /^(\d+(?:\.\d+)?)/.exec(raw)?.[1];
    return { family: 'freebsd', version, release: `FreeBSD ${raw}`.trim() };
  }
  const release = field(output, 'redhat-release');
  if (kernel === 'Linux' && release) {
    const version = /release\s+(\d+(?:\.\d+)*)/i.exec(release)?.[1];
    if (/^CentOS/i.test(release)) return { family: 'centos', version, release };
    const rhel = /^Red Hat Enterprise Linux\s+(ES|AS|WS|Server|Client|Workstation)?/i.exec(release);
    if (rhel) {
      const observed: ObservedOs = { family: 'rhel', version, release };
      if (rhel[1]) observed.variant = rhel[1].toLowerCase();
      return observed;
    }
    return { family: undefined, version, release };
  }
  return { family: undefined, version: undefined, release: [kernel, field(output, 'uname-r')].filter(Boolean).join(' ') || 'unknown' };
}

function major(version: string): string {
  return version.split('.')[0] ?? version;
}

/** Family and major version must match ("5.4" declared, "5.11" observed: same system, updated). */
export function osMismatch(declared: DeclaredOs, observed: ObservedOs): string | undefined {
  if (observed.family === undefined) {
    return `the server says "${observed.release}", not ${declared.family} ${declared.version}`;
  }
  if (observed.family !== declared.family) {
    return `the server runs ${observed.release}, but its manifest says ${declared.family} ${declared.version}`;
  }
  if (observed.version === undefined || major(observed.version) !== major(declared.version)) {
    return `the server runs ${observed.release}, but its manifest says ${declared.family} ${declared.version}`;
  }
  return undefined;
}
