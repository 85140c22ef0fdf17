/**
 * What a host says about a step a previous owner left in doubt (judged in src/cluster/takeover.ts):
 * over SSH with the server's management login, the service's process start time and the host's boot
 * time (its PID 1's start); from its BMC, the power state. Nothing is changed on the host and
 * nothing runs as root (/proc is readable by anyone).
 *
 * Times are read as elapsed times — the host's /proc/uptime against the process's start in clock
 * ticks — and placed on this replica's clock when the answer arrives: the host's own clock may be
 * off, and a lab host in a PID namespace shares its kernel's uptime. Never throws: what cannot be
 * read is `unknown`, with why.
 */
import type { TargetCheck } from '../manifest/target-networks.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import { daemonServiceOf, serviceSettings } from '../manifest/services.ts';
import { plainCommand, quote } from '../runbook/remote-command.ts';
import { DEFAULT_PROCESS } from '../runbook/service-defaults.ts';
import { logIn, resolveServerSecrets, type SecretResolver } from '../runbook/ssh-access.ts';
import type { BmcPowerFn } from './bmc-power.ts';
import type { HostFactReader } from './coordinator.ts';

export interface HostFactOptions {
  /** The server's manifest by its id (`customer/name`); undefined once it left the desired state. */
  docOf: (server: string) => ServerDocument | undefined;
  resolveSecret: SecretResolver;
  targets: TargetCheck;
  askBmc: BmcPowerFn;
  sourceAddress?: string;
  /** Bound of the login and of the look (each). */
  deadlineMs: number;
  now?: () => number;
}

/** A process name as a manifest gives it; anything else is not put in a command. */
const PROCESS_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * One look, POSIX sh (CentOS 5's too): the uptime, the clock tick, PID 1's start and the oldest
 * process of that name's start, in ticks since the kernel booted. `/proc/PID/stat`'s second field
 * may hold spaces: the fields are counted after its closing parenthesis (starttime is the 20th).
 */
export function lookScript(processName: string | undefined): string {
  const lines = [
    'read up rest < /proc/uptime && echo "uptime $up"',
    'echo "tck $(getconf CLK_TCK 2>/dev/null || echo 100)"',
    `echo "init $(sed 's/.*) //' /proc/1/stat | cut -d' ' -f20)"`,
  ];
  if (processName !== undefined) {
    lines.push(`p=$(pgrep -o -x ${quote(processName)} 2>/dev/null)`);
    lines.push(`if [ -n "$p" ]; then echo "proc $(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f20)"; else echo "proc none"; fi`);
  }
  lines.push('exit 0');
  return lines.join('\n');
}

export interface Look {
  bootedAt?: number;
  /** undefined: not asked or not readable; null: no such process. */
  processStartedAt?: number | null;
}

/** Reads the look's output (pure); `now` is when it arrived. */
export function parseLook(output: string, now: number): Look {
  const fields = new Map<string, string>();
  for (const line of output.split('\n')) {
    const [k, v, extra] = line.trim().split(' ');
    if (k !== undefined && v !== undefined && extra === undefined && !fields.has(k)) fields.set(k, v);
  }
  const field = (name: string): string | undefined => fields.get(name);
  const up = Number(field('uptime'));
  const tck = Number(field('tck'));
  if (!Number.isFinite(up) || !Number.isFinite(tck) || tck <= 0) return {};
  const at = (ticks: string | undefined): number | undefined => {
    const t = Number(ticks);
    if (ticks === undefined || ticks === '' || !Number.isFinite(t) || t < 0) return undefined;
    return Math.round(now - (up - t / tck) * 1000);
  };
  const out: Look = {};
  const boot = at(field('init'));
  if (boot !== undefined) out.bootedAt = boot;
  const proc = field('proc');
  if (proc === 'none') out.processStartedAt = null;
  else {
    const p = at(proc);
    if (p !== undefined) out.processStartedAt = p;
  }
  return out;
}

export function hostFactReader(options: HostFactOptions): HostFactReader {
  const now = options.now ?? Date.now;
  const look = async (doc: ServerDocument, processName: string | undefined): Promise<Look | { why: string }> => {
    let secrets;
    try {
      secrets = await resolveServerSecrets(doc, options.resolveSecret);
    } catch (err) {
      return { why: `its secrets do not resolve: ${err instanceof Error ? err.message : String(err)}` };
    }
    const login = await logIn(doc, secrets, { targets: options.targets, connectTimeoutMs: options.deadlineMs, ...(options.sourceAddress ? { sourceAddress: options.sourceAddress } : {}) });
    if (!login.ok) return { why: `no SSH login (${login.failure.kind})` };
    try {
      const r = await login.session.exec(plainCommand(lookScript(processName), 'none'), { pty: false, deadlineMs: options.deadlineMs, secrets: secrets.all });
      if (r.outcome !== 'exited') return { why: `the look did not finish (${r.outcome})` };
      return parseLook(r.output, now());
    } finally {
      login.session.close();
    }
  };
  return async (server, step) => {
    const doc = options.docOf(server);
    if (doc === undefined) return { kind: 'unknown', why: 'the server is no longer in the desired state' };
    try {
      if (step.kind === 'power') {
        const power = await options.askBmc(doc);
        if (power === 'off') return { kind: 'power', state: 'off' };
        const l = await look(doc, undefined);
        if ('bootedAt' in l && l.bootedAt !== undefined) return { kind: 'booted', at: l.bootedAt };
        if (power === 'on') return { kind: 'power', state: 'on' };
        return { kind: 'unknown', why: `the BMC cannot be asked and ${'why' in l ? l.why : 'the boot time cannot be read'}` };
      }
      const service = daemonServiceOf(step.service as ServiceName);
      const name = serviceSettings(doc, step.service as ServiceName)?.process ?? DEFAULT_PROCESS[service];
      if (name === undefined || !PROCESS_NAME.test(name)) return { kind: 'unknown', why: `no process name to look for (${step.service})` };
      const l = await look(doc, name);
      if ('why' in l) return { kind: 'unknown', why: l.why };
      if (l.processStartedAt === null) return { kind: 'no-process' };
      if (l.processStartedAt !== undefined) return { kind: 'process', startedAt: l.processStartedAt };
      return { kind: 'unknown', why: 'the process start time cannot be read' };
    } catch (err) {
      return { kind: 'unknown', why: err instanceof Error ? err.message : String(err) };
    }
  };
}
