/**
 * The readiness check on a schedule, end to end (lab 31): `mamori run` with a 7-second readiness
 * interval against two lab hosts and a real SMTP server. Six faults in turn on one host (the
 * management key removed, the host key changed, the pass phrase wrong, the management network
 * blocked, a secret deleted, the BMC stopped): each gives the right RecoveryReady reason and
 * exactly one mail to the right person, still one after a second check with the fault in place;
 * each restored gives one recovery mail. Then a repair stopped by a missing secret on a server with
 * three failing services: one operator mail, one plain customer mail, nothing repeated.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeIdPart } from '../../src/notify/message-id.ts';
import type { LogLine } from '../daemon/daemon-process.ts';
import { labRecordPath } from '../lab/names.ts';
import { header, OPERATOR_EMAIL, startE2eFleet, type E2eFleet } from '../support/e2e-fleet.ts';

const A = 'acme-pp';
const B = 'acme-b';
const CUSTOMER_EMAIL = 'ops@acme.example';
const WAIT = 90_000;
let fleet: E2eFleet;
let secretsDir: string;

beforeAll(async () => {
  fleet = await startE2eFleet({
    labId: 31,
    hosts: [
      // No ssh service on A: blocking SSH from our network must be a readiness matter, not an outage.
      { name: A, variant: 'passphrase', manifest: { services: ['ping', 'http'], locale: 'en' } },
      { name: B, variant: 'standard', manifest: { services: ['ping', 'http', 'ftp', 'smtp', 'ssh'], locale: 'ja' } },
    ],
    readiness: { intervalHours: 0.002 },
  });
  secretsDir = join(fleet.repo.dir, 'secrets');
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
});

/** Mail about one server (its id is in every notification id), optionally of one kind. */
function mailsAbout(server: string, kind?: string): ParsedMail[] {
  const id = encodeIdPart(`acme/${server}`);
  return fleet.smtp.messages.filter((m) => header(m, 'x-mamori-notification').includes(id) && (kind === undefined || header(m, 'x-mamori-kind') === kind));
}

function to(m: ParsedMail | undefined): string | undefined {
  const v = m?.to;
  return Array.isArray(v) ? v[0]?.value[0]?.address : v?.value[0]?.address;
}

function readiness(server: string): { status: string; reason: string } | undefined {
  const c = fleet.status(server)?.conditions.find((x) => x.type === 'RecoveryReady');
  return c === undefined ? undefined : { status: c.status, reason: c.reason };
}

const judged = (server: string, reason: string) => (l: LogLine) => l.msg === 'readiness judged' && l.server === `acme/${server}` && l.reason === reason;

/** The fault is in place: the condition says it, and a later check judged it again (a chance to repeat a mail). */
async function faultSeen(server: string, reason: string): Promise<void> {
  await expect.poll(() => readiness(server), { timeout: WAIT, interval: 250 }).toEqual({ status: 'False', reason });
  const seen = fleet.daemon.logs.filter(judged(server, reason)).length;
  await expect.poll(() => fleet.daemon.logs.filter(judged(server, reason)).length, { timeout: WAIT, interval: 250 }).toBeGreaterThan(seen);
}

async function readyAgain(server: string): Promise<void> {
  await expect.poll(() => readiness(server), { timeout: WAIT, interval: 250 }).toEqual({ status: 'True', reason: 'Ready' });
}

async function console(server: string, command: string): Promise<void> {
  const r = await fleet.lab.console(server, command);
  expect(r.code, r.stderr).toBe(0);
}

/** Waits for `n` mails of a kind about the server, then checks that no more come after a short while. */
async function exactly(server: string, kind: string, n: number): Promise<ParsedMail[]> {
  await expect.poll(() => mailsAbout(server, kind).length, { timeout: 30_000, interval: 200 }).toBe(n);
  await new Promise((r) => setTimeout(r, 1_500));
  expect(mailsAbout(server, kind)).toHaveLength(n);
  return mailsAbout(server, kind);
}

async function bmcSignal(server: string, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
  const record = JSON.parse(await readFile(labRecordPath(31), 'utf8')) as { bmcPids: Record<string, number> };
  const pid = record.bmcPids[server];
  if (pid === undefined) throw new Error(`no BMC pid for ${server}`);
  process.kill(pid, signal);
}

describe('readiness on a schedule: each fault to the right person, once; each recovery once', () => {
  let restored = 0;
  const customerSide = async (reason: string, apply: () => Promise<void>, undo: () => Promise<void>): Promise<void> => {
    const before = mailsAbout(A, 'not-ready').length;
    await apply();
    await faultSeen(A, reason);
    const [mail] = (await exactly(A, 'not-ready', before + 1)).slice(-1);
    expect(to(mail)).toBe(CUSTOMER_EMAIL);
    expect(mail?.text).not.toMatch(new RegExp(`\\b${reason}\\b`));
    expect(mailsAbout(A, 'provider-fault')).toHaveLength(0);
    await undo();
    await readyAgain(A);
    restored += 1;
    const back = await exactly(A, 'readiness-restored', restored);
    expect(to(back.at(-1))).toBe(CUSTOMER_EMAIL);
  };

  it('a healthy fleet is Ready and nobody is mailed', async () => {
    await readyAgain(A);
    await readyAgain(B);
    expect(fleet.smtp.messages).toHaveLength(0);
  });

  it('the management user key removed: LoginRefused, one mail to the customer; restored: one recovery mail', async () => {
    await customerSide(
      'LoginRefused',
      () => console(A, 'mv ~mamori/.ssh/authorized_keys ~mamori/.ssh/authorized_keys.off'),
      () => console(A, 'mv ~mamori/.ssh/authorized_keys.off ~mamori/.ssh/authorized_keys'),
    );
  });

  it('the host key changed: HostKeyChanged, one mail to the customer; restored: one recovery mail', async () => {
    await customerSide(
      'HostKeyChanged',
      () => console(A, "cd /etc/ssh && cp -p ssh_host_ed25519_key key.off && cp -p ssh_host_ed25519_key.pub key.pub.off && rm -f ssh_host_ed25519_key ssh_host_ed25519_key.pub && ssh-keygen -q -t ed25519 -N '' -f ssh_host_ed25519_key && /etc/init.d/sshd restart"),
      () => console(A, 'cd /etc/ssh && cp -p key.off ssh_host_ed25519_key && cp -p key.pub.off ssh_host_ed25519_key.pub && /etc/init.d/sshd restart'),
    );
  });

  it('the pass phrase wrong: PassphraseRefused, one mail to the customer; restored: one recovery mail', async () => {
    const file = join(secretsDir, `${A}-ssl`);
    const right = await readFile(file, 'utf8');
    await customerSide(
      'PassphraseRefused',
      () => writeFile(file, 'not-the-pass-phrase', { mode: 0o600 }),
      () => writeFile(file, right, { mode: 0o600 }),
    );
    // The pass phrase was tested on the server without restarting anything: httpd answered throughout.
    expect(fleet.status(A)?.services.http?.state).toBe('Healthy');
  });

  it('the management network blocked: NetworkBlocked, one mail to the customer; restored: one recovery mail', async () => {
    const rule = `INPUT -p tcp --dport 22 -s ${fleet.lab.gateway} -j DROP`;
    await customerSide('NetworkBlocked', () => console(A, `iptables -I ${rule}`), () => console(A, `iptables -D ${rule}`));
  });

  const providerSide = async (reason: string, apply: () => Promise<void>, undo: () => Promise<void>): Promise<void> => {
    const faults = mailsAbout(A, 'provider-fault').length;
    const working = mailsAbout(A, 'provider-working').length;
    const notReady = mailsAbout(A, 'not-ready').length;
    await apply();
    await faultSeen(A, reason);
    const op = await exactly(A, 'provider-fault', faults + 1);
    expect(to(op.at(-1))).toBe(OPERATOR_EMAIL);
    expect(op.at(-1)?.subject).toContain(reason);
    const cust = await exactly(A, 'provider-working', working + 1);
    expect(to(cust.at(-1))).toBe(CUSTOMER_EMAIL);
    // Plain words for the customer: no reason code.
    expect(cust.at(-1)?.text).not.toMatch(/SecretMissing|ConsoleBroken|BmcUnreachable|Detail:/);
    expect(mailsAbout(A, 'not-ready')).toHaveLength(notReady);
    await undo();
    await readyAgain(A);
    restored += 2;
    const back = await exactly(A, 'readiness-restored', restored);
    expect(back.slice(-2).map(to).sort()).toEqual([OPERATOR_EMAIL, CUSTOMER_EMAIL].sort());
  };

  it('a secret deleted: SecretMissing, one mail to the operator at once and one plain one to the customer; restored: one recovery mail each', async () => {
    const file = join(secretsDir, `${A}-ssl`);
    const value = await readFile(file, 'utf8');
    await providerSide('SecretMissing', () => rm(file), () => writeFile(file, value, { mode: 0o600 }));
  });

  it('the BMC stopped: ConsoleBroken, one mail to the operator and one plain one to the customer; restarted: one recovery mail each', async () => {
    try {
      await providerSide('ConsoleBroken', () => bmcSignal(A, 'SIGSTOP'), () => bmcSignal(A, 'SIGCONT'));
    } finally {
      await bmcSignal(A, 'SIGCONT').catch(() => undefined);
    }
  });
});

describe('a repair stopped by a missing secret, three services failing', () => {
  it('one operator mail, one plain customer mail, the other services held under the cause, nothing repeated; the secret back: one recovery mail each and the services repaired', async () => {
    const file = join(secretsDir, `${B}-login`);
    const key = await readFile(file, 'utf8');
    await rm(file);
    await Promise.all([fleet.lab.breakService(B, 'httpd'), fleet.lab.breakService(B, 'vsftpd'), fleet.lab.breakService(B, 'sendmail')]);

    // One service's repair escalated for the missing secret; the other two are held under it.
    await expect
      .poll(
        () => {
          const s = fleet.status(B)?.services ?? {};
          return ['http', 'ftp', 'smtp'].map((x) => s[x]?.escalation ?? s[x]?.hold).sort();
        },
        { timeout: WAIT, interval: 250 },
      )
      .toEqual(['SecretMissing', 'ServerEscalated', 'ServerEscalated']);
    await faultSeen(B, 'SecretMissing');
    const op = await exactly(B, 'provider-fault', 1);
    expect(to(op[0])).toBe(OPERATOR_EMAIL);
    const cust = await exactly(B, 'provider-working', 1);
    expect(to(cust[0])).toBe(CUSTOMER_EMAIL);
    expect(cust[0]?.text).not.toMatch(/SecretMissing|Detail:|監視システムの記録/);
    expect(mailsAbout(B, 'could-not-recover')).toHaveLength(0);
    expect(fleet.smtp.messages.filter((m) => header(m, 'x-mamori-kind') === 'could-not-recover')).toHaveLength(0);

    await writeFile(file, key, { mode: 0o600 });
    await readyAgain(B);
    const back = await exactly(B, 'readiness-restored', 2);
    expect(back.map(to).sort()).toEqual([OPERATOR_EMAIL, CUSTOMER_EMAIL].sort());
    // Ready again releases the held services: they are repaired.
    await expect
      .poll(() => ['http', 'ftp', 'smtp'].map((x) => fleet.status(B)?.services[x]?.state), { timeout: WAIT, interval: 250 })
      .toEqual(['Healthy', 'Healthy', 'Healthy']);
    expect(mailsAbout(B, 'provider-fault')).toHaveLength(1);
    expect(mailsAbout(B, 'provider-working')).toHaveLength(1);
  });
});
