/**
 * One send per notification across replicas, on a real three-member etcd (client ports 22431–22433) and
 * a real SMTP server (smtp-server on the loopback), in two parts:
 *
 *  1. The ledger (src/cluster/send-ledger.ts) under real outboxes, replicas as in-process Cluster
 *     instances (a replica's death is its lease gone): the same notification told by two replicas
 *     is sent once; a replica that dies with mail queued has it sent by the server's new owner,
 *     once, and not again when it comes back; a send in doubt (begun, never settled) is sent again
 *     only after its window; a copy held by a live replica waits; webhooks the same.
 *  2. The acceptance: three `mamori run` replicas against the lab (lab 156, one CentOS-like host):
 *     httpd broken, the owner repairs it and decides "recovered", and is killed -9 between
 *     deciding and sending (the env-gated TEST HOOK MAMORI_TEST_HOLD_SEND holds its send). The
 *     customer gets exactly one mail and the webhook exactly one delivery — from the new owner —
 *     and none more once the killed replica is back.
 *
 * Run under the lab lock: flock /tmp/mamori-lab.lock npx vitest run test/cluster/replicas-mail.lab.test.ts
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/cluster/cluster.ts';
import { ownerOf } from '../../src/cluster/rendezvous.ts';
import { EtcdSendLedger, OrphanAdopter } from '../../src/cluster/send-ledger.ts';
import { ledgerKeyOf, Outbox } from '../../src/notify/outbox.ts';
import { encodeIdPart } from '../../src/notify/message-id.ts';
import type { Notification } from '../../src/notify/types.ts';
import { WebhookOutbox, type WebhookEndpoint } from '../../src/notify/webhook-outbox.ts';
import type { WebhookEvent } from '../../src/notify/webhook-event.ts';
import { freePort, killStrays, spawnDaemon, type DaemonProcess } from '../daemon/daemon-process.ts';
import { startEtcdCluster, type EtcdCluster } from '../lab/etcd-cluster.ts';
import { untilEvery } from './until.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { example } from '../notify/examples.ts';
import { captureLogger } from '../notify/helpers.ts';
import { startSmtpSink, type SmtpSink } from '../notify/smtp-sink.ts';
import { fleetConfigYaml, fleetServer, writeLabSecrets, writeServerManifests, type ProbeSettings } from '../support/lab-fleet.ts';

// Its own etcd ports: the id formula's ports (20000 + id·10 + i, peers + 5) of the other cluster tests
// (240, 241, 242) and the other #24 tests' ports (22451…, 22471…) are all apart from these.
const ETCD_PORTS = { client: [22431, 22432, 22433] as const, peerOffset: 10 };
const LAB_ID = 156;

let etcd: EtcdCluster;
let sink: SmtpSink;
let root: string;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const until = untilEvery(100);

/** A webhook receiver on the loopback: every delivery's webhook-id and type. */
async function startReceiver(): Promise<{ url: string; got: Array<{ id: string; type: string }>; close: () => Promise<void> }> {
  const got: Array<{ id: string; type: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string };
      got.push({ id: String(req.headers['webhook-id']), type: body.type });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Messages at the relay whose Message-ID is the notification's (messageIdFor). */
const mailsWithId = (id: string): number => sink.messages.filter((m) => m.messageId?.startsWith(`<${encodeIdPart(id)}@`) === true).length;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'mamori-replicas-mail-'));
  [etcd, sink] = await Promise.all([startEtcdCluster(LAB_ID, ETCD_PORTS), startSmtpSink()]);
}, 120_000);

afterAll(async () => {
  await sink?.close();
  await etcd?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('the send ledger on a real etcd, under real outboxes', () => {
  interface InProcess {
    name: string;
    dir: string;
    cluster: Cluster;
    ledger: EtcdSendLedger;
    outbox: Outbox;
    lines: Array<Record<string, unknown>>;
  }
  const IN_DOUBT_MS = 4000;
  let skew = 0;
  const now = (): number => Date.now() + skew;
  const started: InProcess[] = [];

  async function replica(prefix: string, name: string, dir = join(root, `${prefix.replace(/\W/g, '_')}-${name}`)): Promise<InProcess> {
    const { logger, lines } = captureLogger();
    const cluster = new Cluster({ endpoints: etcd.endpoints, prefix, replica: name, ttlSeconds: 2, callTimeoutMs: 1500 }, logger);
    await cluster.start();
    const ledger = new EtcdSendLedger(cluster, { channel: 'mail', inDoubtMs: IN_DOUBT_MS, retentionMs: 3_600_000, now }, logger);
    const outbox = await Outbox.open(
      { dir, from: 'mamori@provider.example', messageIdDomain: 'mamori.provider.example', smtp: { host: '127.0.0.1', port: sink.port } },
      { logger, ledger, now, random: () => 0.5 },
    );
    const r = { name, dir, cluster, ledger, outbox, lines };
    started.push(r);
    return r;
  }

  /** A replica's death as the others see it: nothing more sent, its lease (and holder keys) gone. */
  async function die(r: InProcess): Promise<void> {
    await r.outbox.stop();
    await r.cluster.stop();
  }

  function adopter(r: InProcess): OrphanAdopter {
    const a = new OrphanAdopter(r.cluster, [{ ledger: r.ledger, adopt: (p) => r.outbox.adopt(p.notification as Notification) }], 500, captureLogger().logger);
    a.start();
    return a;
  }

  function recovered(id: string): Notification {
    return { ...example('recovered', 'en'), id };
  }

  afterAll(async () => {
    for (const r of started) {
      await r.outbox.stop().catch(() => undefined);
      await r.cluster.stop().catch(() => undefined);
    }
  });

  it('the same notification told by two replicas is sent once', async () => {
    const prefix = `/mail-test/${process.pid}/twice`;
    const [a, b] = [await replica(prefix, 'r-1'), await replica(prefix, 'r-2')];
    const n = recovered('inc-twice:recovered');
    expect(await a.outbox.enqueue(n)).toBe('queued');
    expect(await b.outbox.enqueue(n)).toBe('duplicate');
    await Promise.all([a.outbox.runOnce(), b.outbox.runOnce()]);
    await sink.waitFor(1);
    await b.outbox.runOnce();
    expect(mailsWithId(n.id)).toBe(1);
    expect(b.outbox.stats().pending).toBe(0);
  });

  it('a replica that dies with the mail decided but not sent: the new owner sends it once, the dead one back sends nothing', async () => {
    const prefix = `/mail-test/${process.pid}/adopt`;
    const a = await replica(prefix, 'r-1');
    const b = await replica(prefix, 'r-2');
    const n = recovered('inc-adopt:recovered');
    expect(await a.outbox.enqueue(n)).toBe('queued'); // decided, recorded, queued on r-1's disk; r-1 dies before its pass
    const adopting = adopter(b);
    try {
      await die(a);
      await until('r-2 adopts the notification', () => b.outbox.stats().pending === 1, 15_000);
      await b.outbox.runOnce();
      await until('the mail at the relay', () => mailsWithId(n.id) === 1, 10_000);
      // r-1 back on its own folder (the mail still pending there): the ledger says it went.
      const a2 = await replica(prefix, 'r-1', a.dir);
      expect(a2.outbox.stats().pending).toBe(1);
      await a2.outbox.runOnce();
      expect(a2.outbox.stats().pending).toBe(0);
      expect(a2.lines.some((l) => l.msg === 'notification settled already by the replicas (sent, refused or folded); not sent here' && l.notification === n.id)).toBe(true);
      const sent = JSON.parse(await readFile(join(a.dir, 'sent', `${(await readdir(join(a.dir, 'sent'))).find((f) => f.startsWith('inc-adopt'))}`), 'utf8')) as { state: string; response: string };
      expect(sent).toMatchObject({ state: 'elsewhere', response: 'sent by replica r-2' });
      await sleep(300);
      expect(mailsWithId(n.id)).toBe(1);
    } finally {
      await adopting.stop();
    }
  });

  it('a send begun and never settled is in doubt: sent again only after its window (at least once), by one replica', async () => {
    const prefix = `/mail-test/${process.pid}/doubt`;
    const a = await replica(prefix, 'r-1');
    const b = await replica(prefix, 'r-2');
    const n = recovered('inc-doubt:recovered');
    await a.outbox.enqueue(n);
    // r-1 marked the send begun (the relay may have taken it) and died before settling it.
    const began = await a.ledger.begin(ledgerKeyOf(n), () => ({}));
    expect(began.go).toBe(true);
    const adopting = adopter(b);
    try {
      await die(a);
      await until('r-2 adopts the notification', () => b.outbox.stats().pending === 1, 15_000);
      await b.outbox.runOnce();
      await sleep(200);
      expect(mailsWithId(n.id), 'nothing sent within the in-doubt window').toBe(0);
      skew += IN_DOUBT_MS;
      await b.outbox.runOnce();
      await until('the mail sent again after the window', () => mailsWithId(n.id) === 1, 10_000);
      expect(b.lines.some((l) => l.msg === 'notification was being sent by a replica that is gone; sending it again (a probable duplicate)' && l.previous === 'r-1')).toBe(true);
    } finally {
      await adopting.stop();
    }
  });

  it('a copy held by a live replica waits; once that one sent it, the copy is dropped', async () => {
    const prefix = `/mail-test/${process.pid}/held`;
    const a = await replica(prefix, 'r-1');
    const b = await replica(prefix, 'r-2');
    const n = recovered('inc-held:recovered');
    await a.outbox.enqueue(n);
    // A copy r-2 queued without the ledger (as when etcd did not answer at its notify).
    expect(await b.outbox.adopt(n)).toBe('queued');
    await b.outbox.runOnce();
    await sleep(200);
    expect(mailsWithId(n.id)).toBe(0);
    expect(b.outbox.stats().pending).toBe(1);
    await a.outbox.runOnce();
    await until('r-1 sent it', () => mailsWithId(n.id) === 1, 10_000);
    skew += 3000;
    await b.outbox.runOnce();
    expect(b.outbox.stats().pending).toBe(0);
    expect(mailsWithId(n.id)).toBe(1);
  });

  it('webhooks: one post per event and endpoint across replicas, a dead replica\'s delivery posted by the new owner once', async () => {
    const receiver = await startReceiver();
    const prefix = `/mail-test/${process.pid}/hooks`;
    const endpoint: WebhookEndpoint = { name: 'noc', url: receiver.url, key: Buffer.alloc(32, 7), events: ['incident.recovered'], timeoutMs: 2000, retry: { baseDelayMs: 100, maxDelayMs: 1000, maxAgeMs: 3_600_000 } };
    const hooks = async (name: string): Promise<{ r: InProcess; hooks: WebhookOutbox; ledger: EtcdSendLedger }> => {
      const r = await replica(prefix, name);
      const { logger } = captureLogger();
      const ledger = new EtcdSendLedger(r.cluster, { channel: 'webhook', inDoubtMs: IN_DOUBT_MS, retentionMs: 3_600_000, now }, logger);
      return { r, ledger, hooks: await WebhookOutbox.open({ dir: join(r.dir, 'webhooks'), endpoints: [endpoint] }, { logger, ledger, now }) };
    };
    const event = (id: string): WebhookEvent => ({ version: 1, id, type: 'incident.recovered', occurredAt: '2026-12-07T00:00:00Z', server: { name: 'web01', customer: 'acme' }, summary: 'web01 http recovered', data: {} });
    try {
      const a = await hooks('r-1');
      const b = await hooks('r-2');
      expect(await a.hooks.enqueue(event('ev-twice'))).toBe(1);
      expect(await b.hooks.enqueue(event('ev-twice'))).toBe(0);
      await Promise.all([a.hooks.runOnce(), b.hooks.runOnce()]);
      await until('the post', () => receiver.got.length === 1, 10_000);
      // r-1 queues one more and dies before posting it: r-2, its new owner, posts it.
      expect(await a.hooks.enqueue(event('ev-adopt'))).toBe(1);
      const adopting = new OrphanAdopter(b.r.cluster, [{ ledger: b.ledger, adopt: (p) => b.hooks.adopt(p) }], 500, captureLogger().logger);
      adopting.start();
      try {
        await a.hooks.stop();
        await die(a.r);
        await until('r-2 adopts the delivery', () => b.hooks.stats()[0]?.pending === 1, 15_000);
        await b.hooks.runOnce();
        await until('the adopted post', () => receiver.got.some((g) => g.id === 'ev-adopt'), 10_000);
      } finally {
        await adopting.stop();
      }
      await sleep(300);
      expect(receiver.got.map((g) => g.id).sort()).toEqual(['ev-adopt', 'ev-twice']);
      await b.hooks.stop();
    } finally {
      await receiver.close();
    }
  });
});

describe('three mamori run replicas against the lab: one mail per incident while its owner is killed between deciding and sending', () => {
  const PROBE: ProbeSettings = { intervalSeconds: 1, timeoutSeconds: 2, retryIntervalSeconds: 0.3, failuresToDown: 2, jitter: 0.1 };
  const NAMES = ['m-1', 'm-2', 'm-3'];
  const HOST = 'acme-a';
  let lab: Lab;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const replicas = new Map<string, { dir: string; config: string; port: number; daemon: DaemonProcess }>();

  const alive = (d: DaemonProcess): boolean => d.child.exitCode === null && d.child.signalCode === null;

  async function startReplica(name: string, env: Record<string, string> = {}): Promise<DaemonProcess> {
    const existing = replicas.get(name);
    const dir = join(root, 'daemons', name);
    const config = join(dir, 'mamori.yaml');
    const port = existing?.port ?? (await freePort());
    if (existing === undefined) {
      mkdirSync(dir, { recursive: true });
      await writeLabSecrets(join(dir, 'secrets'), lab, { 'noc-hook': 'a-signing-secret-of-32-bytes-000' });
      const yaml = fleetConfigYaml({ lab, source: { type: 'folder', path: join(root, 'manifests') }, httpPort: port, probe: PROBE, smtpPort: sink.port, remediation: { destructiveWaitSeconds: 0 } });
      const extra = [
        'alerting:',
        '  webhooks:',
        `    - { name: noc, url: "${receiver.url}", secret: { secretRef: noc-hook }, events: [incident.opened, incident.recovered], timeoutSeconds: 2 }`,
        'cluster:',
        `  endpoints: [${etcd.endpoints.join(', ')}]`,
        `  prefix: /mamori-mail-acceptance/${process.pid}`,
        `  replica: ${name}`,
        '  leaseSeconds: 3',
        '  stepDeadlineSeconds: 10',
        '',
      ].join('\n');
      writeFileSync(config, `${yaml}\n${extra}`);
    }
    const daemon = await spawnDaemon({ cwd: dir, config, port, env });
    replicas.set(name, { dir, config, port, daemon });
    return daemon;
  }

  beforeAll(async () => {
    [lab, receiver] = await Promise.all([startLab({ id: LAB_ID, hosts: [{ name: HOST }] }), startReceiver()]);
    await writeServerManifests(join(root, 'manifests'), [fleetServer(lab, lab.host(HOST), { customer: 'acme', services: ['ping', 'ssh', 'http'], locale: 'en' })]);
  }, 240_000);

  afterAll(async () => {
    for (const r of replicas.values()) {
      if (!alive(r.daemon)) continue;
      r.daemon.child.kill('SIGTERM');
      await Promise.race([r.daemon.exited, sleep(15_000)]);
    }
    killStrays();
    await receiver?.close();
    await lab?.stop();
  }, 120_000);

  it('httpd broken, repaired, "recovered" decided, owner killed -9 before sending: exactly one mail and one webhook, from the new owner', async () => {
    const owner = ownerOf(`acme/${HOST}`, NAMES)!;
    const others = NAMES.filter((n) => n !== owner);
    // Only the owner holds its sends (TEST HOOK): decided, recorded and queued, then held.
    await Promise.all(NAMES.map((n) => startReplica(n, n === owner ? { MAMORI_TEST_HOLD_SEND: 'recovered,incident.recovered' } : {})));
    const daemon = (n: string): DaemonProcess => replicas.get(n)!.daemon;
    await until(
      'every replica sees the three',
      () => NAMES.every((n) => daemon(n).logs.some((l) => l.msg === 'cluster membership changed' && Array.isArray(l.members) && (l.members as string[]).length === 3)),
      60_000,
    );
    await until(
      `${HOST} healthy on its owner`,
      async () => {
        const { json } = await daemon(owner).get('/api/status').catch(() => ({ json: undefined }));
        const s = (json as { reconciler?: { servers?: Array<{ metadata: { name: string }; services: Record<string, { state: string }> }> } } | undefined)?.reconciler?.servers?.find((x) => x.metadata.name === HOST);
        return s !== undefined && ['ping', 'ssh', 'http'].every((svc) => s.services[svc]?.state === 'Healthy');
      },
      60_000,
      200,
    );
    const mailsBefore = sink.messages.length;
    const brokenAt = Date.now();
    await lab.breakService(HOST, 'httpd');
    const held = await until('the owner decides "recovered" and holds its send', () => daemon(owner).logs.find((l) => l.msg === 'TEST HOOK MAMORI_TEST_HOLD_SEND: send held before the ledger' && l.kind === 'recovered'), 60_000, 50);
    const incident = String(held.notification).replace(/:recovered$/, '');
    daemon(owner).kill();
    const killedAt = Date.now();
    await daemon(owner).exited;
    // The new owner adopts the record (its holder went with the dead replica's lease) and sends it.
    await until('the recovered mail at the relay', () => sink.messages.slice(mailsBefore).some((m) => m.subject?.includes('recovered') === true || m.messageId?.includes('recovered') === true), 45_000, 100);
    const sentAt = Date.now();
    const newOwner = ownerOf(`acme/${HOST}`, others)!;
    expect(daemon(newOwner).logs.some((l) => l.msg === 'notification of a replica that is gone adopted; queued here' && l.previous === owner && l.channel === 'mail')).toBe(true);
    await until('the recovered webhook', () => receiver.got.some((g) => g.type === 'incident.recovered'), 20_000);
    // The killed replica back (no hook): its own pending copy is recognised as sent, not sent again.
    const back = await startReplica(owner);
    await until('the restarted replica drops its copy', () => back.logs.find((l) => l.msg === 'notification settled already by the replicas (sent, refused or folded); not sent here'), 60_000, 100);
    await until('and its webhook copy', () => back.logs.find((l) => l.msg === 'webhook event settled already by the replicas; not posted here'), 30_000, 100);
    await sleep(2000);
    const mails = sink.messages.slice(mailsBefore).filter((m) => (m.to && !Array.isArray(m.to) ? m.to.value : []).some((a) => a.address === 'ops@acme.example'));
    const ids = mails.map((m) => m.messageId);
    console.log(`replicas-mail: incident ${incident}; killed ${killedAt - brokenAt} ms after the fault; mail sent by ${newOwner} ${sentAt - killedAt} ms after the kill; mails ${JSON.stringify(ids)}; webhooks ${JSON.stringify(receiver.got)}`);
    expect(mails, `mails to the customer: ${JSON.stringify(ids)}`).toHaveLength(1);
    expect(ids[0]).toContain('recovered');
    expect(receiver.got.filter((g) => g.type === 'incident.recovered')).toHaveLength(1);
    expect(receiver.got.filter((g) => g.type === 'incident.opened')).toHaveLength(1);
    expect(mailsWithId(`${incident}:recovered`)).toBe(1);
  }, 240_000);
});
