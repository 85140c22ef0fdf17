/**
 * `mamori agent` as a process in the lab's vantage-point namespace (the second management network):
 * its probes leave from that network only, its reports go to the daemon on the machine's end of it.
 * Started with `ip netns exec`, which execs, so the child's pid is the agent's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Lab } from '../lab/index.ts';
import { BIN } from '../daemon/daemon-process.ts';

export interface LabAgentLine {
  msg?: string;
  level?: number;
  server?: string;
  service?: string;
  up?: boolean | 'unknown';
  was?: boolean | 'unknown';
  time?: string | number;
  [key: string]: unknown;
}

export interface LabAgent {
  child: ChildProcess;
  pid: number;
  /** Its JSON log lines, in order (with the wall-clock time each arrived: `seenAt`). */
  lines: Array<LabAgentLine & { seenAt: number }>;
  /** Everything it wrote (stdout and stderr), for a failure's message. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The newest state the agent logged for a server's service (a `service state changed` line), or undefined. */
  state(server: string, service: string): boolean | 'unknown' | undefined;
  /** SIGKILL by its pid (a crashed agent, or a lost machine), then wait for it to be gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean stop): resolves with its exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startLabAgent(o: {
  lab: Lab;
  /** https://<lab.second.gateway>:<port> */
  daemonUrl: string;
  vantage: string;
  tokenFile: string;
  /** The CA that signed the daemon's certificate (--ca-file). */
  caFile: string;
  cwd: string;
  refreshSeconds?: number;
}): LabAgent {
  const second = o.lab.second;
  if (second === undefined) throw new Error(`lab ${o.lab.id}: no second management network for the agent (start it with secondNetwork)`);
  const child = spawn(
    'ip',
    ['netns', 'exec', second.vantageNetns, process.execPath, BIN, 'agent', '--daemon', o.daemonUrl, '--vantage', o.vantage, '--token-file', o.tokenFile, '--ca-file', o.caFile, '--refresh', String(o.refreshSeconds ?? 2)],
    { cwd: o.cwd, env: { ...process.env, MAMORI_LOG_LEVEL: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (child.pid === undefined) throw new Error('mamori agent did not start (no pid)');
  const pid = child.pid;
  const lines: LabAgent['lines'] = [];
  let text = '';
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const s = chunk.toString('utf8');
    if (text.length < 200_000) text += s;
    pending += s;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        lines.push({ ...(JSON.parse(line) as LabAgentLine), seenAt: Date.now() });
      } catch {
        // not a log line
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (text.length < 200_000) text += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid,
    lines,
    output: () => text,
    exited,
    state(server, service) {
      let last: boolean | 'unknown' | undefined;
      for (const l of lines) if (l.msg === 'service state changed' && l.server === server && l.service === service) last = l.up;
      return last;
    },
    async kill() {
      if (alive()) process.kill(pid, 'SIGKILL');
      await exited;
    },
    async stop() {
      if (alive()) process.kill(pid, 'SIGTERM');
      return exited;
    },
  };
}
