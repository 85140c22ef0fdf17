/**
 * probe.intervalSeconds: auto against the real daemon: the interval computed for the applied fleet,
 * shown in /api/status and /metrics, recomputed when the fleet grows (folder source), the power
 * wait kept at its floor.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serverPath, serverYaml } from '../source/git-fixture.ts';
import { freePort, killStrays, spawnDaemon, statusField } from './daemon-process.ts';

let dir: string | undefined;
afterEach(() => {
  killStrays();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function writeServers(root: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const file = join(root, 'manifests', serverPath(`auto${i}`));
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, serverYaml(`auto${i}`));
  }
}

describe('probe.intervalSeconds: auto', () => {
  it('the daemon computes the interval for its fleet, shows it in /api/status and /metrics, and recomputes it as the fleet grows', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mamori-auto-'));
    writeServers(dir, 2);
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    // 0.01 core at 10 ms a probe: 1 probe a second. 2 servers × 1 service: politeness (7 s) decides;
    // 12 servers: 12 s, the CPU budget decides.
    writeFileSync(
      config,
      `source: { type: folder, path: manifests, debounceMs: 100 }\nprobe:\n  intervalSeconds: auto\n  auto: { cpuFraction: 0.01, cpuMsPerProbe: 10, politenessSeconds: 7 }\nhttp: { listen: "127.0.0.1:${port}" }\nlog: { level: info }\n`,
    );
    const d = await spawnDaemon({ cwd: dir, config, port });
    await expect.poll(() => statusField(d, 'daemon', 'probeInterval'), { timeout: 30_000 }).toMatchObject({ mode: 'auto', seconds: 7, limitedBy: 'politeness', probesPerRound: 2, budgetPerSecond: 1, powerWaitSeconds: 30 });
    const metrics = async (): Promise<string> => (await d.get('/metrics')).text;
    expect(await metrics()).toMatch(/^mamori_probe_interval_seconds\{mode="auto",limited_by="politeness"\} 7$/m);

    writeServers(dir, 12);
    await expect.poll(() => statusField(d, 'daemon', 'probeInterval'), { timeout: 30_000 }).toMatchObject({ mode: 'auto', seconds: 12, limitedBy: 'cpu', probesPerRound: 12, powerWaitSeconds: 30 });
    const text = await metrics();
    expect(text).toMatch(/^mamori_probe_interval_seconds\{mode="auto",limited_by="cpu"\} 12$/m);
    expect(text).not.toMatch(/limited_by="politeness"/);
    await d.waitForLog((l) => l.msg === 'probe interval computed' && l.intervalSeconds === 12);
  }, 90_000);
});
