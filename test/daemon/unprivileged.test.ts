/**
 * mamori runs without root when its drivers allow: as `nobody`, with a folder source and HTTP
 * probes, the daemon takes its lock, syncs, probes and answers. (CI runs the tests as root, which
 * is what lets this test switch user; a run that is not root fails here, with the reason.)
 * nobody runs the checkout through a read-only bind in a private mount namespace, so the test
 * passes wherever the checkout is, a clone under /root (0700) included.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, loopbackFor, serverPath, serverYaml } from '../source/git-fixture.ts';
import { freePort, killStrays, ProbeTarget, spawnDaemon, statusField } from './daemon-process.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  killStrays();
  for (const c of cleanup) await c();
  cleanup = [];
});

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), uid, gid);
}

describe('without root', () => {
  it('runs as nobody: lock, sync, probes, HTTP', async () => {
    expect(process.getuid?.(), 'the test switches to nobody, which needs root (CI runs as root)').toBe(0);
    const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
    const dir = mkdtempSync(join(tmpdir(), 'mamori-nobody-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const web = await new ProbeTarget(loopbackFor('web01')).start();
    cleanup.push(() => web.close());
    const manifests = join(dir, 'manifests');
    cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(manifests, 'operator'), { recursive: true });
    mkdirSync(join(manifests, 'customers', 'acme', 'servers'), { recursive: true });
    writeFileSync(join(manifests, serverPath('web01')), serverYaml('web01', { port: web.port }));
    const port = await freePort();
    writeFileSync(join(dir, 'mamori.yaml'), `apiVersion: mamori/v1\nkind: Config\nsource: { type: folder, path: manifests }\nhttp: { listen: "127.0.0.1:${port}" }\nprobe: { intervalSeconds: 1 }\n`);
    chownTree(dir, uid, gid);
    const daemon = await spawnDaemon({ cwd: dir, config: join(dir, 'mamori.yaml'), port, user: { uid, gid }, env: { HOME: dir } });
    await expect.poll(() => web.hits.length, { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    expect(await statusField(daemon, 'daemon', 'ready', 'ready')).toBe(true);
    expect(daemon.logs.some((l) => l.msg.startsWith('running as root'))).toBe(false);
    expect(statSync(join(dir, 'state')).uid).toBe(uid);
    // The daemon itself (not a wrapper) is the child, with nobody's ids.
    const ids = readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8');
    expect(ids).toMatch(/^Name:\s*node$/m);
    expect(ids).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s`, 'm'));
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });
});
