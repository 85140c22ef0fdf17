/**
 * In-process parts for controller tests of edge cases a real daemon cannot produce on demand
 * (a runbook that hangs until the test says so, a lagging event loop): a prober driven by a
 * table, a scripted executor honouring the abort signal, a recording notifier, and a manual clock.
 * The store and the journal are the real ones, in a temporary state folder.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ServerDocument, ServiceName } from '../../src/manifest/types.ts';
import type { Notification, Notifier } from '../../src/notify/types.ts';
import type { ProbeResult } from '../../src/probe/types.ts';
import type { Clock } from '../../src/reconcile/clock.ts';
import type { ExecutionRequest, Executor, Transcript, Verdict } from '../../src/runbook/execution.ts';
import type { RenderedRunbook } from '../../src/runbook/types.ts';
import type { RemediationTarget } from '../../src/reconcile/types.ts';

export async function tempStateDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'mamori-reconcile-'));
}

export function serverDoc(name: string, address: string, services: ServiceName[] = ['http', 'smtp'], extra: Partial<ServerDocument['spec']> = {}): ServerDocument {
  return {
    apiVersion: 'mamori/v1',
    kind: 'Server',
    metadata: { name, customer: 'acme' },
    spec: {
      address,
      os: { family: 'centos', version: '5.4' },
      plan: 'basic',
      contact: { email: 'ops@acme.example', locale: 'en' },
      allowedNetworks: ['10.231.0.0/16'],
      services,
      access: { user: 'mamori', hostKey: `SHA256:${'A'.repeat(43)}`, credentials: { secretRef: 'k' } },
      ...extra,
    },
  };
}

/** up[server][service]; a missing entry is up. */
export class TableProber {
  readonly up = new Map<string, boolean>();
  readonly calls: string[] = [];
  readonly concurrentPerServer = new Map<string, number>();
  maxConcurrentPerServer = 0;
  delayMs = 0;

  set(server: string, service: ServiceName, up: boolean): void {
    this.up.set(`${server}/${service}`, up);
  }

  probe = async (doc: ServerDocument, service: ServiceName): Promise<ProbeResult> => {
    const server = doc.metadata.name;
    this.calls.push(`${server}/${service}`);
    const n = (this.concurrentPerServer.get(server) ?? 0) + 1;
    this.concurrentPerServer.set(server, n);
    this.maxConcurrentPerServer = Math.max(this.maxConcurrentPerServer, n);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      const up = this.up.get(`${server}/${service}`) ?? true;
      return {
        service,
        target: `${doc.spec.address}:80`,
        up,
        latencyMs: 1,
        startedAt: new Date().toISOString(),
        ...(up ? {} : { failure: { kind: 'refused' as const, phase: 'connect' as const, message: 'connection refused' } }),
      };
    } finally {
      this.concurrentPerServer.set(server, (this.concurrentPerServer.get(server) ?? 1) - 1);
    }
  };
}

export interface ScriptedRun {
  server: string;
  service: ServiceName;
  verdict: Verdict;
}

/** Returns the next scripted verdict; `hold()` makes runs wait until `release()` (or the abort signal). */
export class ScriptedExecutor implements Executor {
  readonly runs: ScriptedRun[] = [];
  verdicts: Verdict[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  onRun: ((r: ExecutionRequest) => void) | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  async execute(req: ExecutionRequest): Promise<Transcript> {
    const verdictPlanned = this.verdicts.shift() ?? 'Recovered';
    this.runs.push({ server: req.server.metadata.name, service: req.runbook.service, verdict: verdictPlanned });
    this.onRun?.(req);
    const startedAt = new Date().toISOString();
    let verdict = verdictPlanned;
    if (this.gate !== undefined) {
      const aborted = new Promise<'aborted'>((resolve) => req.signal?.addEventListener('abort', () => resolve('aborted'), { once: true }));
      if ((await Promise.race([this.gate.then(() => 'go' as const), aborted])) === 'aborted') verdict = 'Interrupted';
    }
    return {
      runbook: req.runbook.runbook,
      origin: 'standard',
      server: req.server.metadata.name,
      service: req.runbook.service,
      startedAt,
      finishedAt: new Date().toISOString(),
      verdict,
      message: `scripted ${verdict}`,
      steps: [{ id: 'run-1', kind: 'run', command: `/etc/init.d/${req.runbook.service} restart`, startedAt, finishedAt: startedAt, exitCode: 0, outcome: 'ok' }],
      evidence: {},
      acted: verdict !== 'RemoteAccessBlocked',
      powerActions: req.runbook.service === 'ping' ? ['cycle'] : [],
    };
  }
}

export function renderStub(doc: ServerDocument, target: RemediationTarget): RenderedRunbook {
  const service = target === 'host' ? 'ping' : target;
  return { runbook: `std-${service}`, origin: 'standard', server: doc.metadata.name, service, address: doc.spec.address, deadlineMs: 60_000, steps: [] };
}

export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async notify(n: Notification): Promise<void> {
    if (!this.sent.some((x) => x.id === n.id)) this.sent.push(n);
  }
}

/** A clock whose time moves only when the test says; timers fire in order on advance(). */
export class ManualClock implements Clock {
  private t: number;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;
  constructor(start: number) {
    this.t = start;
  }
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  /** Moves time forward, firing due timers one by one and letting their promises settle. */
  async advance(ms: number, settle: () => Promise<void> = flush): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}
