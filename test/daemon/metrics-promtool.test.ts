/**
 * /metrics of a live daemon as Prometheus' own checker reads it: `promtool check metrics`
 * (Debian's prometheus package, installed by scripts/install-deps.sh) finds nothing to say, and
 * the series a dashboard needs are there: standard process_* names, per target
 * mamori_probe_success and mamori_probe_last_timestamp_seconds, the probe duration histogram
 * per service type (no server label), the outbox gauges and counters, build info.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../http/prom-text.ts';
import { REPO_ROOT, loopbackFor, serverPath, serverYaml } from '../source/git-fixture.ts';
import { freePort, killStrays, ProbeTarget, spawnDaemon, type DaemonProcess } from './daemon-process.ts';

let dir: string;
let web: ProbeTarget;
let daemon: DaemonProcess;

function write(path: string, text: string): void {
  mkdirSync(join(dir, 'manifests', path, '..'), { recursive: true });
  writeFileSync(join(dir, 'manifests', path), text);
}

function promtool(text: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, out: `${stdout}${stderr}${code === -1 ? String(err) : ''}` });
    });
    child.stdin?.end(text);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-promtool-'));
  cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(dir, 'manifests', 'operator'), { recursive: true });
  web = await new ProbeTarget(loopbackFor('web01')).start();
  write(serverPath('web01'), serverYaml('web01', { port: web.port }));
  // web02's port refuses: its probe fails (20 failures 5 s apart before Down: no runbook runs during the test).
  write(serverPath('web02'), serverYaml('web02', { port: await freePort() }));
  const port = await freePort();
  const config = join(dir, 'mamori.yaml');
  writeFileSync(
    config,
    `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests }\nhttp: { listen: "127.0.0.1:${port}" }\nprobe: { intervalSeconds: 0.5, timeoutSeconds: 0.5, retryIntervalSeconds: 5, failuresToDown: 20 }\n`,
  );
  daemon = await spawnDaemon({ cwd: dir, config, port });
}, 120_000);

afterAll(async () => {
  killStrays();
  await web?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('/metrics', () => {
  it('passes promtool check metrics, with the series dashboards and alerts need', async () => {
    const success = async (): Promise<Record<string, number>> => {
      const families = parsePrometheusText((await daemon.get('/metrics')).text);
      return Object.fromEntries((families.get('mamori_probe_success')?.samples ?? []).map((s) => [`${s.labels.server}/${s.labels.service}`, s.value]));
    };
    await expect.poll(success, { timeout: 60_000, interval: 500 }).toEqual({ 'acme/web01/http': 1, 'acme/web02/http': 0 });

    const { text, status } = await daemon.get('/metrics');
    expect(status).toBe(200);

    const checked = await promtool(text);
    expect(checked, checked.out).toEqual({ code: 0, out: '' });

    const families = parsePrometheusText(text);
    const names = [...families.keys()];
    expect(names).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes']));
    expect(names.filter((n) => n.startsWith('mamori_process_') || /^nodejs_.*_total$/.test(n))).toEqual([]);
    const last = families.get('mamori_probe_last_timestamp_seconds')?.samples ?? [];
    expect(last.map((s) => `${s.labels.server}/${s.labels.service}`).sort()).toEqual(['acme/web01/http', 'acme/web02/http']);
    for (const s of last) expect(Math.abs(s.value - Date.now() / 1000)).toBeLessThan(60);
    const durations = families.get('mamori_probe_duration_seconds')?.samples ?? [];
    expect(durations.find((s) => s.name === 'mamori_probe_duration_seconds_count' && s.labels.service_type === 'http')?.value).toBeGreaterThan(1);
    expect(durations.every((s) => s.labels.server === undefined)).toBe(true);
    for (const n of ['mamori_outbox_queued', 'mamori_outbox_oldest_age_seconds', 'mamori_outbox_sent_total', 'mamori_outbox_failed_total']) {
      expect(families.get(n)?.samples[0]?.value, n).toBe(0);
    }
    expect(families.get('mamori_build_info')?.samples[0]?.value).toBe(1);
    expect(names).toContain('mamori_remediation_duration_seconds');
  }, 120_000);
});
