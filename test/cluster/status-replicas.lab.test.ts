/**
 * One status across three real `mamori run` replicas (#24): a real three-member etcd (ports
 * 22451–22453), the lab's hosts (lab 157: three CentOS-like hosts with real sshd and httpd), a real
 * git remote whose `main` holds the manifests and whose `mamori-status` branch the replicas write back.
 *
 *  - every replica's /api/status shows the whole fleet, each server with its owner (rendezvous over
 *    the live replicas), Healthy from its owner's probes — also after a replica is killed;
 *  - httpd is broken on a host (the owner repairs it: several status changes) and the elected status
 *    publisher is killed -9 meanwhile: another replica is elected and goes on;
 *  - then, with real git: the status branch is linear (no merge, no force), every commit names the
 *    etcd revision it was read at, revisions strictly increase, no commit repeats its parent's tree,
 *    each commit's status/ tree IS what etcd held at its revision (a consistent picture), commits
 *    come from both publishers, and the tip holds the last change (nothing lost); no push was ever
 *    rejected (no two writers raced).
 *
 * Run under the lab lock: flock /tmp/mamori-lab.lock npx vitest run test/cluster/status-replicas.lab.test.ts
 */
import { execFileSync } from 'node:child_process';
import { get as httpGet, type ClientRequest } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { prefixEnd } from '../../src/cluster/etcd-session.ts';
import { ownerOf } from '../../src/cluster/rendezvous.ts';
import { statusRevisionOf } from '../../src/cluster/status-merge.ts';
import type { ServiceName } from '../../src/manifest/types.ts';
import type { ServerStatus } from '../../src/status/model.ts';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../daemon/daemon-process.ts';
import { startEtcdCluster, type EtcdCluster } from '../lab/etcd-cluster.ts';
import { untilEvery } from './until.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { createGitFixture, type GitFixture } from '../source/git-fixture.ts';
import { fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests, type ProbeSettings } from '../support/lab-fleet.ts';

const LAB_ID = 157;
const ETCD_PORTS = { client: [22451, 22452, 22453] as const, peerOffset: 10 };
const TTL_S = 3;
const PROBE: ProbeSettings = { intervalSeconds: 1, timeoutSeconds: 2, retryIntervalSeconds: 0.3, failuresToDown: 2, jitter: 0.1 };
const HOSTS = ['acme-st1', 'acme-st2', 'acme-st3'];
const SERVICES: ServiceName[] = ['ping', 'http'];
const NAMES = ['s-1', 's-2', 's-3'];
const BRANCH = 'mamori-status';

let lab: Lab;
let etcd: EtcdCluster;
let repo: GitFixture;
let root: string;
const prefix = `/mamori-status-acceptance/${process.pid}`;
const daemons = new Map<string, DaemonProcess>();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const until = untilEvery(200);

const key = (host: string): string => `acme/${host}`;

interface ApiStatus {
  reconciler?: { servers?: ServerStatus[] };
  cluster?: { replica: string; members: string[]; status: { revision: number }; publisher?: { leader: boolean; holder?: string; committedRevision?: number } };
}

async function api(name: string): Promise<ApiStatus | undefined> {
  const d = daemons.get(name);
  if (d === undefined || d.child.exitCode !== null || d.child.signalCode !== null) return undefined;
  try {
    return (await d.get('/api/status')).json as ApiStatus;
  } catch {
    return undefined;
  }
}

/** Every live replica shows every server, owned by its rendezvous owner among `live`, every service Healthy, from its owner. */
async function wholeFleetOnEvery(live: string[]): Promise<Map<string, ServerStatus[]>> {
  const views = new Map<string, ServerStatus[]>();
  for (const name of live) {
    const servers = (await api(name))?.reconciler?.servers ?? [];
    if (servers.length !== HOSTS.length) return new Map();
    for (const h of HOSTS) {
      const s = servers.find((x) => x.metadata.name === h);
      if (s === undefined || s.owner !== ownerOf(key(h), [...live].sort()) || s.publishedBy !== undefined) return new Map();
      if (!SERVICES.every((svc) => s.services[svc]?.state === 'Healthy')) return new Map();
    }
    views.set(name, servers);
  }
  return views;
}

function git(...args: string[]): string {
  return execFileSync('git', ['--git-dir', repo.bare, ...args], { encoding: 'utf8' });
}

function branchTip(): string | undefined {
  try {
    return git('rev-parse', '--verify', '--quiet', `refs/heads/${BRANCH}`).trim();
  } catch {
    return undefined;
  }
}

async function statusAt(client: Etcd3, revision: number): Promise<Map<string, unknown>> {
  const p = `${prefix}/status/`;
  const res = await client.kv.range({ key: Buffer.from(p), range_end: prefixEnd(p), revision: String(revision) });
  return new Map(res.kvs.map((kv) => [kv.key.toString().slice(p.length), JSON.parse(kv.value.toString()) as unknown]));
}

/** The newest revision at which anything under status/ changed (what the branch must reach). */
async function lastStatusChange(client: Etcd3): Promise<number> {
  const p = `${prefix}/status/`;
  const res = await client.kv.range({ key: Buffer.from(p), range_end: prefixEnd(p) });
  return Math.max(0, ...res.kvs.map((kv) => Number(kv.mod_revision)));
}

function tipRevision(): number | undefined {
  const tip = branchTip();
  return tip === undefined ? undefined : statusRevisionOf(git('log', '-1', '--format=%B', tip));
}

/** The page's live stream: counts `event: update` lines as they arrive. */
function openEvents(base: string): { updates: () => number; close: () => void } {
  let updates = 0;
  const req: ClientRequest = httpGet(`${base}/events`, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      updates += chunk.split('\n').filter((l) => l === 'event: update').length;
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  return { updates: () => updates, close: () => req.destroy() };
}

/** The fleet page's rows: server id → the owner its row names. */
async function pageOwners(name: string): Promise<Map<string, string>> {
  const { text } = await daemons.get(name)!.get('/');
  const out = new Map<string, string>();
  for (const m of text.matchAll(/<tr data-server="([^"]+)">\s*<th[^>]*>\s*<a [^>]*>[^<]*<\/a>\s*<span class="srv-meta" data-owner="([^"]+)"/g)) out.set(m[1]!, m[2]!);
  return out;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'mamori-status-replicas-'));
  [etcd, lab] = await Promise.all([startEtcdCluster(LAB_ID, ETCD_PORTS), startLab({ id: LAB_ID, hosts: HOSTS.map((name) => ({ name })) })]);
  repo = createGitFixture({ withOperator: false });
  await writeServerManifests(repo.work, HOSTS.map((h) => fleetServer(lab, lab.host(h), { customer: 'acme', services: SERVICES, locale: 'en' })));
  repo.commit('three servers');
  repo.push();
  await Promise.all(
    NAMES.map(async (name) => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      await writeLabSecrets(join(dir, 'secrets'), lab);
      const port = await freePort();
      const yaml = fleetConfigYaml({ lab, source: { type: 'git', url: repo.bare, pollSeconds: 1 }, httpPort: port, probe: PROBE, remediation: { destructiveWaitSeconds: 0 } });
      const extra = [
        `statusWriteBack: { branch: ${BRANCH}, intervalSeconds: 1 }`,
        'cluster:',
        `  endpoints: [${etcd.endpoints.join(', ')}]`,
        `  prefix: ${prefix}`,
        `  replica: ${name}`,
        `  leaseSeconds: ${TTL_S}`,
        '',
      ].join('\n');
      const config = join(dir, 'mamori.yaml');
      writeFileSync(config, `${yaml}\n${extra}`);
      daemons.set(name, await spawnDaemon({ cwd: dir, config, port }));
    }),
  );
}, 180_000);

afterAll(async () => {
  for (const d of daemons.values()) {
    if (d.child.exitCode !== null || d.child.signalCode !== null) continue;
    d.child.kill('SIGTERM');
    await Promise.race([d.exited, sleep(15_000)]);
  }
  killStrays();
  await etcd?.close();
  await lab?.stop();
  repo?.cleanup();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
}, 120_000);

describe('three replicas: one status, one publisher', () => {
  it('every replica shows the whole fleet with owners; the status branch holds one consistent commit per change across a publisher killed -9', async () => {
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      // 1. The whole fleet on every replica, each server from its owner.
      await until('every replica shows the whole fleet, Healthy, with owners', async () => (await wholeFleetOnEvery(NAMES)).size === NAMES.length, 60_000);
      const publisher = await until('one elected publisher', async () => {
        const holders = new Set<string>();
        let leaders = 0;
        for (const n of NAMES) {
          const p = (await api(n))?.cluster?.publisher;
          if (p?.holder !== undefined) holders.add(p.holder);
          if (p?.leader === true) leaders++;
        }
        return leaders === 1 && holders.size === 1 ? [...holders][0] : undefined;
      }, 30_000);
      await until('the branch holds the fleet', async () => (tipRevision() ?? 0) >= (await lastStatusChange(client)), 30_000);
      const commitsBefore = Number(git('rev-list', '--count', BRANCH).trim());

      // 2. A change on a host the publisher does not own (with these names every replica leaves one
      //    out), the publisher killed -9 once the branch shows the fault; the repair goes on.
      const host = HOSTS.find((h) => ownerOf(key(h), NAMES) !== publisher)!;
      // A replica that owns no server probes nothing: its page's live stream moves only on what the owners publish.
      const idle = NAMES.find((n) => HOSTS.every((h) => ownerOf(key(h), NAMES) !== n))!;
      expect(idle, 'with these names one replica owns no server').toBeDefined();
      const events = openEvents(daemons.get(idle)!.base);
      await sleep(500);
      const updatesBefore = events.updates();
      console.log(`publisher ${publisher}; breaking httpd on ${host} (owner ${ownerOf(key(host), NAMES)}); live stream on ${idle}`);
      await lab.breakService(host, 'httpd');
      await until(`a commit shows ${host}'s http failing`, () => {
        try {
          return (parse(git('show', `${BRANCH}:status/acme/${host}.yaml`)) as ServerStatus).services.http?.state !== 'Healthy';
        } catch {
          return false;
        }
      }, 30_000, 100);
      await until(`${idle}'s live stream tells of the change`, () => events.updates() > updatesBefore, 10_000, 100);
      events.close();
      const killedAt = Date.now();
      daemons.get(publisher)!.kill();
      await daemons.get(publisher)!.exited;
      const live = NAMES.filter((n) => n !== publisher);
      const next = await until('another replica elected publisher', async () => {
        for (const n of live) if ((await api(n))?.cluster?.publisher?.leader === true) return n;
        return undefined;
      }, 30_000);
      console.log(`publisher ${next} elected ${Date.now() - killedAt} ms after the kill`);

      // 3. The host repaired and the fleet shown whole, with the new owners, on both live replicas.
      const views = await until('the whole fleet Healthy with the live owners on both live replicas', async () => {
        const v = await wholeFleetOnEvery(live);
        return v.size === live.length ? v : undefined;
      }, 60_000);
      for (const [name, servers] of views) {
        expect(servers.map((s) => `${s.metadata.name}:${s.owner}`).sort(), `/api/status of ${name}`).toEqual(HOSTS.map((h) => `${h}:${ownerOf(key(h), [...live].sort())}`).sort());
      }
      for (const name of live) {
        const rows = await pageOwners(name);
        expect(Object.fromEntries(rows), `the fleet page of ${name}`).toEqual(Object.fromEntries(HOSTS.map((h) => [key(h), ownerOf(key(h), [...live].sort())])));
      }
      await until('the branch holds the last change', async () => (tipRevision() ?? 0) >= (await lastStatusChange(client)), 30_000);

      // 4. Real git: linear, forward, consistent, nothing twice, nothing lost.
      const chain = git('rev-list', '--reverse', '--parents', BRANCH).trim().split('\n').map((l) => l.split(' '));
      expect(chain.length).toBeGreaterThan(commitsBefore);
      let previous: { revision: number; tree: string } | undefined;
      const publishers = new Set<string>();
      for (const [commit, ...parents] of chain) {
        expect(parents.length, `${commit} is a merge`).toBeLessThanOrEqual(1);
        const message = git('log', '-1', '--format=%B', commit!);
        const revision = statusRevisionOf(message);
        expect(revision, `${commit} names no etcd revision:\n${message}`).toBeDefined();
        publishers.add(/Mamori-Status-Publisher: (\S+)/.exec(message)?.[1] ?? '?');
        const tree = git('rev-parse', `${commit}^{tree}`).trim();
        if (previous !== undefined) {
          expect(revision!, `${commit} goes back`).toBeGreaterThan(previous.revision);
          expect(tree, `${commit} repeats its parent's tree`).not.toBe(previous.tree);
        }
        previous = { revision: revision!, tree };
        // The commit's status/ is exactly what etcd held at that revision.
        const want = await statusAt(client, revision!);
        const files = git('ls-tree', '-r', '--name-only', commit!, 'status/').trim().split('\n').filter((f) => f !== '');
        expect(files.map((f) => f.slice('status/'.length, -'.yaml'.length)).sort(), `${commit}'s files`).toEqual([...want.keys()].sort());
        for (const f of files) expect(parse(git('show', `${commit}:${f}`)), `${commit}:${f}`).toEqual(want.get(f.slice('status/'.length, -'.yaml'.length)));
      }
      expect(previous!.revision).toBeGreaterThanOrEqual(await lastStatusChange(client));
      // Commits from the killed publisher and its successor (a third only if a lease flapped under load).
      expect([...publishers]).toContain(publisher);
      expect([...publishers]).toContain(next);
      // The repair ends on the branch: the tip shows the host Healthy again (the fault's commit came before).
      expect((parse(git('show', `${BRANCH}:status/acme/${host}.yaml`)) as ServerStatus).services.http?.state).toBe('Healthy');
      // Never two writers on the branch: no push was ever rejected — unless a live publisher lost its
      // lease meanwhile (a flap under load: its push begun before may then meet its successor's, and
      // git refuses it; the checks above show nothing was lost or doubled even then).
      const all = [...daemons.values()].flatMap((d) => d.logs);
      const rejected = all.filter((l) => l.msg === 'status branch moved; rebuilding on the new tip').length;
      const flaps = all.filter((l) => l.msg === 'no longer elected').length;
      expect(rejected, `${rejected} pushes rejected, ${flaps} publishers lost the election while alive`).toBeLessThanOrEqual(flaps);
      console.log(JSON.stringify({ commits: chain.length, commitsBeforeFault: commitsBefore, publishers: [...publishers], tipRevision: previous!.revision, rejectedPushes: rejected, flaps }));
    } finally {
      client.close();
    }
  }, 240_000);
});
