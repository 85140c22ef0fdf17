/**
 * A real Prometheus Alertmanager (Debian's prometheus-alertmanager) for tests: on the loopback,
 * clustering off, its own storage, one webhook receiver that reports every notification (firing
 * and resolved) to an HTTP server of the test's. Stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

export interface ReceivedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

/** What the receiver got: every alert of every notification, in order. */
export class AlertReceiver {
  readonly alerts: ReceivedAlert[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { alerts?: ReceivedAlert[] };
          for (const a of body.alerts ?? []) this.alerts.push({ status: a.status, labels: a.labels, startsAt: a.startsAt, endsAt: a.endsAt });
        } catch {
          // A body that is not JSON is no notification: the test sees it missing.
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  }

  of(match: Record<string, string>, status?: 'firing' | 'resolved'): ReceivedAlert[] {
    return this.alerts.filter((a) => (status === undefined || a.status === status) && Object.entries(match).every(([k, v]) => a.labels[k] === v));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export interface AlertmanagerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts Alertmanager on `port` with a fresh storage folder; resolves once its API answers. */
export async function startAlertmanager(port: number, receiverPort: number): Promise<AlertmanagerProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'mamori-am-'));
  const config = join(dir, 'alertmanager.yml');
  await writeFile(
    config,
    [
      'route:',
      '  receiver: test',
      "  group_by: ['alertname', 'server', 'service']",
      '  group_wait: 0s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: test',
      '    webhook_configs:',
      `      - url: http://127.0.0.1:${receiverPort}/`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  );
  const child = spawn(
    ALERTMANAGER_BIN,
    [`--config.file=${config}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`alertmanager exited (${child.exitCode}): ${stderr}`);
    const ok = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`alertmanager did not become ready on ${url}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
