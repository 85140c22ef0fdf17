/**
 * packaging/systemd as an operator installs it, on a real systemd (lab 200: systemd-nspawn over
 * an overlay of this machine's root, in network namespace ml200-mon): the packed tarball
 * installed with `npm install -g` into the container's /usr/local, the unit, sysusers and
 * tmpfiles files copied unchanged to where the README says, a config and one server. Then
 * `systemctl start mamori` reaches "mamori running" and /readyz, the daemon runs as the `mamori`
 * user with only CAP_NET_RAW and still pings (fping through the ambient capability under
 * NoNewPrivileges), `systemctl reload` reloads, a SIGKILL is restarted by systemd, and
 * `systemctl stop` ends it cleanly.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanStaleLab } from '../lab/clean.ts';
import { defaultLabDir } from '../lab/names.ts';
import { bootNspawn, prepareNspawnRoot, type NspawnContainer, type NspawnOptions } from '../lab/nspawn.ts';
import { runOk } from '../lab/run.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';

const ID = 200;
const NETNS = 'ml200-mon';
const pkg = (f: string): string => readFileSync(join(REPO_ROOT, 'packaging', 'systemd', f), 'utf8');
const CONFIG = `apiVersion: mamori/v1
kind: Config
stateDir: /var/lib/mamori
secretsDir: /etc/mamori/secrets
source: { type: folder, path: /etc/mamori/manifests }
http: { listen: "127.0.0.1:9750" }
probe: { intervalSeconds: 1 }
log: { level: info }
`;
const SERVER = `apiVersion: mamori/v1
kind: Server
metadata: { name: mon-peer, customer: acme }
spec:
  address: 127.0.0.1
  os: { family: centos, version: "7" }
  plan: basic
  contact: { email: ops@acme.example }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: [ping]
  access: { user: mamori, hostKey: "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", credentials: { secretRef: acme-mon-peer } }
`;
const opts: NspawnOptions = {
  dir: join(defaultLabDir(ID), 'mon'),
  machine: 'ml200-mon',
  netns: NETNS,
  mask: ['timers.target', 'getty.target', 'console-getty.service', 'ssh.service'],
  files: {
    '/etc/systemd/system/mamori.service': pkg('mamori.service'),
    '/usr/lib/sysusers.d/mamori.conf': pkg('mamori.sysusers'),
    '/usr/lib/tmpfiles.d/mamori.conf': pkg('mamori.tmpfiles'),
    '/etc/mamori/mamori.yaml': CONFIG,
    '/etc/mamori/manifests/customers/acme/servers/mon-peer.yaml': SERVER,
  },
};
let box: NspawnContainer | undefined;
let work: string | undefined;

async function sh(command: string): Promise<string> {
  const c = box ?? expect.fail('not booted');
  const r = await c.sh(command);
  if (r.code !== 0) throw new Error(`${command}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
const journal = (): Promise<string> => sh('journalctl -u mamori --no-pager -o cat');
const runningLines = async (): Promise<number> => (await journal()).split('\n').filter((l) => l.includes('"msg":"mamori running"')).length;
const mainPid = async (): Promise<number> => Number(await sh('systemctl show -p MainPID --value mamori'));
const get = (path: string): Promise<string> => sh(`curl -s -o /dev/stderr -w '%{http_code}' http://127.0.0.1:9750${path} 2>/dev/null || true`);

beforeAll(async () => {
  await cleanStaleLab(ID);
  work = mkdtempSync(join(tmpdir(), 'mamori-systemd-'));
  const packed = await promisify(execFile)('npm', ['pack', '--silent', '--pack-destination', work], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
  const tarball = join(work, packed.stdout.trim().split('\n').pop() ?? '');
  await runOk('ip', ['netns', 'add', NETNS]);
  await runOk('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
  const root = await prepareNspawnRoot(opts);
  // npm install -g as the README says, into the container's /usr/local.
  await promisify(execFile)('npm', ['install', '--global', '--offline', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', join(root, 'usr', 'local'), tarball], { cwd: work, encoding: 'utf8', timeout: 600_000 });
  box = await bootNspawn(opts, { timeoutMs: 120_000 });
}, 900_000);

afterAll(async () => {
  await box?.close();
  await cleanStaleLab(ID);
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('the systemd unit', () => {
  it('sysusers and tmpfiles made the user and the folders at boot', async () => {
    expect(await sh('getent passwd mamori | cut -d: -f6,7')).toBe('/var/lib/mamori:/usr/sbin/nologin');
    expect(await sh('stat -c "%U %a" /etc/mamori/secrets /var/lib/mamori')).toBe('mamori 700\nmamori 750');
    // The secret the server names, as the operator installs it.
    await sh('install -o mamori -g mamori -m 0600 /dev/null /etc/mamori/secrets/acme-mon-peer && echo "unused-password" > /etc/mamori/secrets/acme-mon-peer');
  });

  it('systemctl start reaches "mamori running" and /readyz, as the mamori user with CAP_NET_RAW only, and it pings', async () => {
    await sh('systemctl start mamori');
    await expect.poll(runningLines, { timeout: 60_000, interval: 500 }).toBe(1);
    await expect.poll(() => get('/readyz'), { timeout: 30_000, interval: 500 }).toBe('200');
    const pid = await mainPid();
    expect(pid).toBeGreaterThan(1);
    expect(await sh(`ps -o user= -p ${pid}`)).toBe('mamori');
    // CapEff: cap_net_raw (bit 13) only.
    expect(await sh(`grep CapEff /proc/${pid}/status | cut -f2`)).toBe('0000000000002000');
    expect(await sh(`grep NoNewPrivs /proc/${pid}/status | cut -f2`)).toBe('1');
    // The state folder is the only place it writes: its state is there, and nothing else is writable.
    expect(await sh('cat /var/lib/mamori/format.json')).toContain('"format"');
    // Its mounts (ProtectSystem=strict): everything read-only but the state folder.
    const mounts = await sh(`cat /proc/${pid}/mountinfo`);
    const optionsAt = (point: string): string | undefined => mounts.split("\n").map((l) => l.split(" ")).findLast((f) => f[4] === point)?.[5];
    expect(optionsAt('/'), mounts).toMatch(/^ro\b/);
    expect(optionsAt('/var/lib/mamori'), mounts).toMatch(/^rw\b/);
    // The ping probe runs (fping under NoNewPrivileges, through the ambient capability) and passes.
    await expect
      .poll(async () => sh('curl -s http://127.0.0.1:9750/metrics | grep "^mamori_probe_success" || true'), { timeout: 30_000, interval: 500 })
      .toBe('mamori_probe_success{server="acme/mon-peer",service="ping"} 1');
  });

  it('systemctl reload reloads the config', async () => {
    const pid = await mainPid();
    await sh("sed -i 's/level: info/level: debug/' /etc/mamori/mamori.yaml && systemctl reload mamori");
    const reloaded = async (): Promise<string | undefined> => (await journal()).split('\n').find((l) => l.includes('"msg":"config reloaded"') && l.includes('"changed":["log.level"]'));
    await expect.poll(reloaded, { timeout: 30_000, interval: 500 }).toBeTruthy();
    expect(await mainPid()).toBe(pid);
  });

  it('a SIGKILL is restarted by systemd, and stop ends it cleanly', async () => {
    const pid = await mainPid();
    await sh(`kill -KILL ${pid}`);
    await expect.poll(runningLines, { timeout: 60_000, interval: 500 }).toBe(2);
    const again = await mainPid();
    expect(again).not.toBe(pid);
    expect(await sh('systemctl show -p NRestarts --value mamori')).toBe('1');
    await expect.poll(() => get('/readyz'), { timeout: 30_000, interval: 500 }).toBe('200');
    await sh('systemctl stop mamori');
    expect(await box?.unitState('mamori')).toBe('inactive');
    expect(await sh('systemctl show -p Result --value mamori')).toBe('success');
    expect(await journal()).toMatch(/"msg":"stopped"|mamori stopped|Deactivated successfully/);
  });
});
