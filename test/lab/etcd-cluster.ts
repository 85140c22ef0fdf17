/**
 * A real three-member etcd (Debian's etcd-server) on the loopback, for the replica tests.
 * Ports derive from the lab id (client 20000 + id·10 + 1…3, peer + 6…8) so that two labs never
 * collide, or are given (`ports`: three client ports, each member's peer port a fixed offset above
 * its client port) when the lead hands a test its own range; a stale cluster of the same ports (a
 * killed run) is stopped by its recorded PIDs first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  pid(): number | undefined;
  /** SIGKILL; resolves once the client port no longer answers. */
  kill(): Promise<void>;
  /** Starts it again on its data folder (rejoins the cluster). */
  start(): Promise<void>;
  healthy(): Promise<boolean>;
}

export interface EtcdCluster {
  endpoints: string[];
  members: EtcdMember[];
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1500) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/version`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface EtcdPorts {
  /** The three members' client ports. */
  client: readonly [number, number, number];
  /** Each member's peer port is its client port plus this. */
  peerOffset: number;
}

export async function startEtcdCluster(labId: number, ports?: EtcdPorts): Promise<EtcdCluster> {
  if (ports === undefined && (!Number.isInteger(labId) || labId < 200 || labId > 299)) throw new Error(`etcd lab id ${labId} outside 200–299`);
  const clientPort = (i: number): number => (ports !== undefined ? ports.client[i - 1]! : 20000 + labId * 10 + i);
  const peerPort = (i: number): number => (ports !== undefined ? ports.client[i - 1]! + ports.peerOffset : 20000 + labId * 10 + 5 + i);
  const root = ports !== undefined ? `/tmp/mamori-etcd-p${ports.client[0]}` : `/tmp/mamori-etcd-${labId}`;
  // A killed run left members behind: stop them by the PIDs it recorded, then start clean.
  for (let i = 1; i <= 3; i++) {
    const pidFile = join(root, `m${i}.pid`);
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0 && pidAlive(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  for (let i = 1; i <= 3; i++) {
    const url = `http://127.0.0.1:${clientPort(i)}`;
    const deadline = Date.now() + 10_000;
    while ((await answers(url)) && Date.now() < deadline) await sleep(100);
  }
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });

  const names = [1, 2, 3].map((i) => `m${i}`);
  const peer = (i: number): string => `http://127.0.0.1:${peerPort(i)}`;
  const client = (i: number): string => `http://127.0.0.1:${clientPort(i)}`;
  const initialCluster = names.map((n, k) => `${n}=${peer(k + 1)}`).join(',');
  const procs = new Map<string, ChildProcess>();

  const launch = (i: number, state: 'new' | 'existing'): void => {
    const name = `m${i}`;
    const args = [
      '--name', name, '--data-dir', join(root, name),
      '--listen-client-urls', client(i), '--advertise-client-urls', client(i),
      '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
      '--initial-cluster', initialCluster, '--initial-cluster-state', state,
      '--initial-cluster-token', `mamori-lab-${labId}-${clientPort(1)}`,
      '--heartbeat-interval', '100', '--election-timeout', '1000',
      '--log-level', 'warn', '--logger', 'zap',
    ];
    const child = spawn('/usr/bin/etcd', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: '' } });
    const chunks: string[] = [];
    child.stderr?.on('data', (d: Buffer) => { if (chunks.length < 200) chunks.push(d.toString()); });
    child.on('exit', () => { try { writeFileSync(join(root, `${name}.log`), chunks.join('')); } catch { /* the lab folder is gone */ } });
    writeFileSync(join(root, `${name}.pid`), String(child.pid));
    procs.set(name, child);
  };

  for (let i = 1; i <= 3; i++) launch(i, 'new');
  const deadline = Date.now() + 60_000;
  for (let i = 1; i <= 3; i++) {
    while (!(await healthy(client(i)))) {
      if (Date.now() > deadline) throw new Error(`etcd member m${i} not healthy within 60 s (see ${root})`);
      await sleep(200);
    }
  }

  const members: EtcdMember[] = [1, 2, 3].map((i) => ({
    name: `m${i}`,
    clientUrl: client(i),
    pid: () => procs.get(`m${i}`)?.pid,
    async kill() {
      const child = procs.get(`m${i}`);
      if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
      const until = Date.now() + 20_000;
      while (await answers(client(i))) {
        if (Date.now() > until) throw new Error(`etcd member m${i} still answers after SIGKILL`);
        await sleep(100);
      }
    },
    async start() {
      launch(i, 'existing');
      const until = Date.now() + 60_000;
      while (!(await answers(client(i)))) {
        if (Date.now() > until) throw new Error(`etcd member m${i} did not come back within 60 s`);
        await sleep(200);
      }
    },
    healthy: () => healthy(client(i)),
  }));

  return {
    endpoints: [1, 2, 3].map(client),
    members,
    async close() {
      for (const m of members) await m.kill();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
