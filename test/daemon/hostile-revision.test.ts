/**
 * A revision carrying hostile customer runbooks (the corpus of test/runbook/hostile-corpus.ts:
 * the old policy's catastrophic inputs and the quoting bypasses) applied by a running daemon:
 * the commands are parsed in the worker thread, so `/healthz` keeps answering fast and the
 * probes keep their interval; the runbooks are refused and the server that names one keeps
 * its last-known-good manifest. A folder source and a loopback probe target.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loopbackFor, REPO_ROOT, serverPath, serverYaml } from '../source/git-fixture.ts';
import { HOSTILE_COMMANDS } from '../runbook/hostile-corpus.ts';
import { freePort, killStrays, ProbeTarget, spawnDaemon } from './daemon-process.ts';

let dirs: string[] = [];
let targets: ProbeTarget[] = [];
afterEach(async () => {
  killStrays();
  for (const t of targets) await t.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  targets = [];
});

function write(root: string, path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

/** Custom runbooks of ten commands each from the corpus. */
function hostileRunbooks(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  for (let i = 0; i < HOSTILE_COMMANDS.length; i += 10) {
    const steps = HOSTILE_COMMANDS.slice(i, i + 10)
      .map((h) => `    - run:\n        command: ${JSON.stringify(h.command)}`)
      .join('\n');
    const name = `acme-hostile-${i / 10}`;
    out.push({ name, text: `apiVersion: mamori/v1\nkind: Runbook\nmetadata: { name: ${name}, customer: acme }\nspec:\n  services: [http]\n  steps:\n    - check: { process: httpd }\n${steps}\n    - verify: { process: httpd }\n` });
  }
  return out;
}

describe('a revision with hostile runbooks', () => {
  it('is judged off the main thread: /healthz answers fast and the probes go on, the runbooks are refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-hostile-'));
    dirs.push(dir);
    const manifests = join(dir, 'manifests');
    cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(manifests, 'operator'), { recursive: true });
    const web = await new ProbeTarget(loopbackFor('web01')).start();
    targets.push(web);
    write(manifests, serverPath('web01'), serverYaml('web01', { port: web.port }));
    const port = await freePort();
    const config = join(dir, 'mamori.yaml');
    writeFileSync(config, `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests, debounceMs: 100 }\nhttp: { listen: "127.0.0.1:${port}" }\nprobe: { intervalSeconds: 0.5 }\n`);
    const daemon = await spawnDaemon({ cwd: dir, config, port });
    await daemon.waitForLog('mamori running');
    const firstHit = Date.now();
    while (web.hits.length < 2 && Date.now() - firstHit < 30_000) await new Promise((r) => setTimeout(r, 100));
    expect(web.hits.length).toBeGreaterThanOrEqual(2);

    // The same machine's noise first: /healthz on a daemon with nothing to apply.
    const quiet: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      await (await fetch(`${daemon.base}/healthz`)).text();
      quiet.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    quiet.sort((a, b) => a - b);
    process.stdout.write(`quiet daemon: /healthz median ${quiet[50]?.toFixed(1)} ms, p95 ${quiet[95]?.toFixed(1)} ms, max ${quiet[99]?.toFixed(1)} ms\n`);

    // The revision: hostile runbooks, and web01 naming one of them.
    const runbooks = hostileRunbooks();
    const written = Date.now();
    for (const r of runbooks) write(manifests, `customers/acme/runbooks/${r.name}.yaml`, r.text);
    write(manifests, serverPath('web01'), `${serverYaml('web01', { port: web.port })}  runbooks: { http: ${runbooks[0]?.name} }\n`);

    // /healthz, asked again and again until the revision is applied and a second after (bounded: 60 s).
    const latencies: number[] = [];
    let appliedAt: number | undefined;
    void daemon.waitForLog((l) => l.msg === 'revision applied' && Date.parse(String(l.time ?? 0)) >= written, 60_000).then(() => (appliedAt = Date.now()), () => undefined);
    while ((appliedAt === undefined || Date.now() - appliedAt < 1000) && Date.now() - written < 60_000) {
      const t0 = performance.now();
      const res = await fetch(`${daemon.base}/healthz`);
      await res.text();
      latencies.push(performance.now() - t0);
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(appliedAt, daemon.stderr()).toBeDefined();
    latencies.sort((a, b) => a - b);
    const p95 = latencies[Math.floor(latencies.length * 0.95)] as number;
    process.stdout.write(`hostile revision: ${runbooks.length} runbooks, ${HOSTILE_COMMANDS.length} commands applied in ${((appliedAt as number) - written).toFixed(0)} ms; /healthz ${latencies.length} answers, median ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${latencies[latencies.length - 1]?.toFixed(1)} ms\n`);
    // The median is the daemon's own answer time; the tail on a shared 2-core test machine is the
    // scheduler's (the quiet daemon above shows it), so it is printed, not asserted.
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(50);
    expect(p95).toBeLessThan(Math.max(250, 3 * (quiet[95] as number)));
    // The probes went on through the apply (every half second; the old regex policy stopped them
    // for 88 s). The bound allows the main thread's own validation of the revision, which on a
    // loaded 2-core machine has been measured at up to ~2.7 s: that is not the customer's text.
    const during = web.hits.filter((h) => h >= written - 1000 && h <= (appliedAt as number) + 1000);
    expect(during.length).toBeGreaterThanOrEqual(2);
    const gaps = during.slice(1).map((h, i) => h - (during[i] as number));
    process.stdout.write(`probe gaps during the apply: max ${Math.max(...gaps)} ms over ${gaps.length}\n`);
    for (const gap of gaps) expect(gap).toBeLessThan(5000);

    // Every hostile runbook refused with the file and line, and web01 kept on its last good manifest.
    const status = await daemon.get('/api/status');
    const text = JSON.stringify(status.json);
    for (const r of runbooks) expect(text).toContain(`customers/acme/runbooks/${r.name}.yaml`);
    expect(text).toMatch(/policy-(forbidden-command|unreviewable)/);
    const hitsBefore = web.hits.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(web.hits.length).toBeGreaterThan(hitsBefore);
  }, 180_000);
});
