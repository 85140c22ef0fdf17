/**
 * The executor over real SSH to the lab (lab id 7): the seed's look → restart → verify on a
 * CentOS-5-like host, the pass-phrase httpd, the legacy sshd, the firewalled host, a wrong
 * host key, a wrong OS, a hanging step and an output flood.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLogger } from '../../src/log.ts';
import type { ServiceName } from '../../src/manifest/types.ts';
import { createExecutor } from '../../src/runbook/executor.ts';
import type { Transcript } from '../../src/runbook/execution.ts';
import type { RenderedRunbook, RenderedStep } from '../../src/runbook/types.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { labProfiles, labSecrets, labServer, outsideProbe, resolverOf, standardRunbook, type LabServerOptions } from './executor-lab.ts';
import { LAB_TARGETS } from '../support/targets.ts';

let lab: Lab;
let secrets: Map<string, string>;

beforeAll(async () => {
  lab = await startLab({
    id: 7,
    hosts: [{ name: 'web' }, { name: 'pp', variant: 'passphrase' }, { name: 'old', variant: 'legacy-ssh' }, { name: 'fw', variant: 'firewall' }, { name: 'pw' }],
  });
  secrets = await labSecrets(lab);
});

afterAll(async () => {
  await lab?.stop();
});

function logCapture(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), text: () => chunks.join('') };
}

async function runStandard(hostName: string, service: ServiceName, rbName: string, o: LabServerOptions & { sudoPty?: boolean; edit?: (rb: RenderedRunbook) => void } = {}) {
  const host = lab.host(hostName);
  const server = labServer(lab, host, { legacy: host.variant === 'legacy-ssh', ...o });
  if (o.sudoPty) server.spec.access.sudo = { pty: true };
  const runbook = await standardRunbook(rbName, server, service);
  o.edit?.(runbook);
  const calls: Array<{ service: ServiceName; up: boolean; at: number }> = [];
  const log = logCapture();
  const executor = createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets), consoleProfiles: labProfiles(lab), logger: log.logger });
  const t = await executor.execute({ server, runbook, probe: outsideProbe(server, calls) });
  return { t, calls, log: log.text(), server };
}

function handRunbook(hostName: string, service: ServiceName, steps: RenderedStep[], deadlineMs = 60_000): RenderedRunbook {
  const host = lab.host(hostName);
  return { runbook: 'hand-built', origin: 'custom', server: host.name, service, address: host.address, deadlineMs, steps };
}

async function pidOf(hostName: string, daemon: string): Promise<string> {
  const r = await lab.console(hostName, `cat /var/run/${daemon}.pid`);
  return r.stdout.trim();
}

async function listens(hostName: string, port: number): Promise<boolean> {
  const r = await lab.console(hostName, `ss -Hltn 'sport = :${port}' | grep -c LISTEN`);
  return Number(r.stdout.trim()) > 0;
}

const step = (t: Transcript, id: string) => t.steps.find((s) => s.id === id);

/** What a transcript says, for a failed expectation: its message and each step's end (scrubbed, as recorded). */
const told = (t: Transcript): string =>
  [t.message, ...t.steps.map((s) => `${s.id} ${s.outcome}${s.note ? ` (${s.note})` : ''}: ${(s.output ?? '').slice(-600)}`)].join('\n');

describe('the seed judgement over SSH', () => {
  test('a killed httpd is restarted by the seed command, and verify passes only once the outside probe passes', async () => {
    await lab.breakService('web', 'httpd');
    // The path from mamori stays blocked for a few seconds after the restart: verify must wait for it.
    await lab.console('web', `iptables -I INPUT -s ${lab.gateway} -p tcp --dport 80 -j DROP; setsid sh -c 'sleep 6; iptables -D INPUT -s ${lab.gateway} -p tcp --dport 80 -j DROP' </dev/null >/dev/null 2>&1 &`);
    const { t, calls } = await runStandard('web', 'http', 'std-httpd-el-sysv');
    expect(t.verdict, told(t)).toBe('Recovered');
    expect(t.acted).toBe(true);
    const restart = step(t, 'restart-httpd');
    expect(restart?.command).toBe('/etc/init.d/httpd restart');
    expect(restart?.exitCode).toBe(0);
    expect(step(t, 'process-running')?.outcome).toBe('failed');
    const verify = step(t, 'confirm');
    expect(verify?.outcome).toBe('ok');
    const restartedAt = Date.parse(restart?.finishedAt ?? '');
    const after = calls.filter((c) => c.service === 'http' && c.at >= restartedAt);
    // At least one outside probe failed after the restart (the path was still blocked), and
    // the verdict came only after one passed.
    expect(after.some((c) => !c.up)).toBe(true);
    const firstUp = after.find((c) => c.up);
    expect(firstUp).toBeDefined();
    expect(Date.parse(verify?.finishedAt ?? '')).toBeGreaterThanOrEqual(firstUp?.at ?? Infinity);
    expect(Number(t.evidence.verifyAttempts)).toBeGreaterThanOrEqual(2);
    expect(await listens('web', 80)).toBe(true);
  });

  test('with the process up but the outside probe failing, the verdict is VerifyFailed, not Recovered', async () => {
    await lab.breakService('web', 'httpd');
    await lab.console('web', `iptables -I INPUT -s ${lab.gateway} -p tcp --dport 80 -j DROP`);
    try {
      const { t } = await runStandard('web', 'http', 'std-httpd-el-sysv', {
        edit: (rb) => {
          for (const s of rb.steps) if (s.kind === 'verify') s.withinMs = 4_000;
        },
      });
      expect(t.verdict).toBe('VerifyFailed');
      expect(t.evidence.processRunning).toBe(true);
      expect(t.evidence.outsideProbe).toBe(false);
    } finally {
      await lab.console('web', `iptables -D INPUT -s ${lab.gateway} -p tcp --dport 80 -j DROP`);
    }
  });

  test('the legacy-algorithm host is restarted with its old algorithms, and a default connection to it fails', async () => {
    await lab.breakService('old', 'httpd');
    const refused = await runStandard('old', 'http', 'std-httpd-el-sysv', { legacy: false });
    expect(refused.t.verdict).toBe('StepFailed');
    expect(refused.t.message).toMatch(/no common SSH algorithm|no matching/i);
    // The error names what the server offers: OpenSSH 4.x's key exchanges only.
    expect(refused.t.message).toContain('the server offers key exchange diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1');
    expect(refused.t.message).toContain('legacyAlgorithms');
    expect(refused.t.acted).toBe(false);
    expect(await listens('old', 80)).toBe(false);

    const { t } = await runStandard('old', 'http', 'std-httpd-el-sysv', { legacy: true });
    expect(t.verdict, told(t)).toBe('Recovered');
    expect(step(t, 'restart-httpd')?.command).toBe('/etc/init.d/httpd restart');
    expect(await listens('old', 80)).toBe(true);
  });

  test('the firewalled host: RemoteAccessBlocked with evidence, nothing restarted', async () => {
    const before = await pidOf('fw', 'httpd');
    const { t } = await runStandard('fw', 'http', 'std-httpd-el-sysv');
    expect(t.verdict).toBe('RemoteAccessBlocked');
    expect(t.acted).toBe(false);
    expect(t.evidence).toMatchObject({ processRunning: true, localConnect: true, outsideProbe: false });
    expect(t.steps.map((s) => s.kind)).not.toContain('run');
    expect(await pidOf('fw', 'httpd')).toBe(before);
  });

  test('a wrong host key runs nothing and says why', async () => {
    await lab.breakService('web', 'httpd');
    const { t } = await runStandard('web', 'http', 'std-httpd-el-sysv', { hostKey: `SHA256:${'A'.repeat(43)}` });
    expect(t.verdict).toBe('HostKeyMismatch');
    expect(t.message).toMatch(/man-in-the-middle/);
    expect(t.steps.map((s) => s.id)).toEqual(['login']);
    expect(t.evidence.observedHostKey).toBe(lab.host('web').hostKeyFingerprint);
    expect(t.acted).toBe(false);
    expect(await listens('web', 80)).toBe(false);
  });

  test('an OS other than the manifest says runs nothing', async () => {
    const { t } = await runStandard('web', 'http', 'std-httpd-el-sysv', { family: 'freebsd', version: '6.3' });
    expect(t.verdict).toBe('OSMismatch');
    expect(t.message).toMatch(/CentOS release 5\.11/);
    expect(t.steps.map((s) => s.id)).toEqual(['login', 'os-check']);
    expect(t.acted).toBe(false);
    expect(await listens('web', 80)).toBe(false);
    await lab.console('web', '/etc/init.d/httpd start');
  });
});

describe('the pass-phrase host', () => {
  test('a pass-phrase prompt nobody answers aborts at once (PassphraseRequired), not at the deadline', async () => {
    await lab.breakService('pp', 'httpd');
    const { t } = await runStandard('pp', 'http', 'std-httpd-el-sysv', { sudoPty: true, withSslSecret: false });
    expect(t.verdict).toBe('PassphraseRequired');
    const restart = step(t, 'restart-httpd');
    expect(restart?.outcome).toBe('failed');
    expect(restart?.note).toMatch(/unanswered prompt: Enter pass phrase:/);
    expect(restart?.note).toMatch(/killed process tree/);
    // The init script and Apache waiting on the terminal are gone from the host (sudo reaps its
    // killed child a moment later).
    await expect.poll(async () => (await lab.console('pp', 'ps -eo args')).stdout, { timeout: 10_000, interval: 250 }).not.toMatch(/init\.d\/httpd|apache\/httpd/);
  });

  test('a wrong pass phrase is refused: PassphraseRequired, and the wrong phrase is in no transcript or log', async () => {
    await lab.breakService('pp', 'httpd');
    const wrong = `wrong-${randomBytes(9).toString('base64url')}`;
    const right = secrets.get('pp-ssl') ?? '';
    secrets.set('pp-ssl', wrong);
    try {
      const { t, log } = await runStandard('pp', 'http', 'std-httpd-el-sysv', { withSslSecret: true });
      expect(t.verdict).toBe('PassphraseRequired');
      expect(t.message).toMatch(/the secret was refused/);
      expect(JSON.stringify(t)).not.toContain(wrong);
      expect(log).not.toContain(wrong);
    } finally {
      secrets.set('pp-ssl', right);
    }
  });

  test('restarted with the secret; the pass phrase is in no transcript, log or error', async () => {
    const passphrase = lab.host('pp').sslPassphrase ?? '';
    expect(passphrase.length).toBeGreaterThan(8);
    const { t, log } = await runStandard('pp', 'http', 'std-httpd-el-sysv', { withSslSecret: true });
    expect(t.verdict, told(t)).toBe('Recovered');
    expect(step(t, 'restart-httpd')?.output).toMatch(/Enter pass phrase:[\s\S]*OK: Pass Phrase Dialog successful/);
    expect(JSON.stringify(t)).not.toContain(passphrase);
    expect(log).toContain('runbook finished');
    expect(log).not.toContain(passphrase);
    expect(await listens('pp', 443)).toBe(true);
  });

  test('a command that prints the secret has it scrubbed, even on a terminal', async () => {
    const passphrase = lab.host('pp').sslPassphrase ?? '';
    const host = lab.host('pp');
    const server = labServer(lab, host, { withSslSecret: true });
    server.spec.access.sudo = { pty: true };
    // Half the secret, then the other half a moment later: two chunks on the wire.
    const half = Math.floor(passphrase.length / 2);
    const cmd = `printf %s ${JSON.stringify(passphrase.slice(0, half))}; sleep 0.3; printf '%s\\n' ${JSON.stringify(passphrase.slice(half))}`;
    const runbook = handRunbook('pp', 'http', [{ kind: 'run', id: 'leak', command: cmd, sudo: true, onFailure: 'stop', deadlineMs: 10_000 }]);
    const t = await createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets) }).execute({ server, runbook, probe: outsideProbe(server) });
    expect(step(t, 'leak')?.output).toBe('[redacted]\n');
    expect(JSON.stringify(t)).not.toContain(passphrase);
  });
});

describe('prompts', () => {
  test('a line that only mentions a password is not a prompt: the step runs to its end', async () => {
    const host = lab.host('web');
    const server = labServer(lab, host);
    const runbook = handRunbook('web', 'http', [
      { kind: 'run', id: 'chatty', command: 'echo "Setting password:"; sleep 1; echo done', sudo: false, onFailure: 'stop', deadlineMs: 10_000 },
    ]);
    const t = await createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets) }).execute({ server, runbook, probe: outsideProbe(server) });
    expect(step(t, 'chatty')).toMatchObject({ outcome: 'ok', exitCode: 0, output: 'Setting password:\ndone\n' });
    expect(t.verdict, told(t)).toBe('Recovered');
  });

  test('a prompt at the end of the output, with nobody to answer it, stops the step at once', async () => {
    const host = lab.host('web');
    const server = labServer(lab, host);
    // On a terminal (without one, stdin is at its end and `read` returns at once).
    server.spec.access.sudo = { pty: true };
    const runbook = handRunbook('web', 'http', [
      { kind: 'run', id: 'asks', command: 'printf "Password: "; read -r x; echo "got it"', sudo: true, onFailure: 'stop', deadlineMs: 30_000 },
    ]);
    const t = await createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets) }).execute({ server, runbook, probe: outsideProbe(server) });
    expect(t.verdict).toBe('PassphraseRequired');
    expect(step(t, 'asks')?.outcome).toBe('failed');
    expect(step(t, 'asks')?.output).toMatch(/^Password: /);
    expect(step(t, 'asks')?.output).not.toContain('got it');
    expect(step(t, 'asks')?.note).toMatch(/unanswered prompt: Password:/);
  });
});

describe('a customer who removed key login', () => {
  test('password login and sudo -S with the password fed after its prompt; the password is in no transcript or log', async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const setup = await lab.console(
      'pw',
      [
        `echo 'mamori:${password}' | chpasswd`,
        'rm -f /etc/sudoers.d/*',
        "printf 'mamori ALL=(ALL) ALL\\n' > /etc/sudoers.d/mamori && chmod 440 /etc/sudoers.d/mamori",
        "sed -i 's/^PasswordAuthentication no/PasswordAuthentication yes/' /etc/ssh/sshd_config",
        'rm -f ~mamori/.ssh/authorized_keys',
        '/etc/init.d/sshd restart',
      ].join(' && '),
    );
    expect(setup.code).toBe(0);
    secrets.set('pw-login', password);
    secrets.set('pw-sudo', password);
    for (const pty of [false, true]) {
      await lab.breakService('pw', 'httpd');
      const host = lab.host('pw');
      const server = labServer(lab, host);
      server.spec.access.sudo = { pty, password: { secretRef: 'pw-sudo' } };
      const runbook = await standardRunbook('std-httpd-el-sysv', server, 'http');
      const log = logCapture();
      const t = await createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets), logger: log.logger }).execute({ server, runbook, probe: outsideProbe(server) });
      expect(t.verdict, told(t)).toBe('Recovered');
      expect(step(t, 'restart-httpd')?.exitCode).toBe(0);
      expect(JSON.stringify(t)).not.toContain(password);
      expect(log.text()).not.toContain(password);
    }
  });
});

describe('a replica that loses its lease during the login', () => {
  test('the run step is not sent once the lease is lost after the step began; with the lease held it runs', async () => {
    const host = lab.host('web');
    const server = labServer(lab, host);
    const marker = `/tmp/mamori-fence-${randomBytes(4).toString('hex')}`;
    const runbook = handRunbook('web', 'http', [{ kind: 'run', id: 'touch-marker', command: `touch ${marker}`, sudo: false, onFailure: 'stop', deadlineMs: 20_000 }]);
    const executor = createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets) });
    let asked = 0;
    // Holds for the check before the step; lost by the time the login is done.
    const t = await executor.execute({ server, runbook, probe: outsideProbe(server), mayAct: () => (++asked > 1 ? 'the lease was lost' : undefined) });
    expect(t.verdict, told(t)).toBe('Interrupted');
    expect(step(t, 'login')?.outcome).toBe('ok');
    expect(step(t, 'touch-marker')).toMatchObject({ outcome: 'skipped', note: 'not run: the lease was lost' });
    expect((await lab.console('web', `test -e ${marker} && echo there || echo absent`)).stdout.trim()).toBe('absent');

    const held = await executor.execute({ server, runbook, probe: outsideProbe(server), mayAct: () => undefined });
    expect(step(held, 'touch-marker')?.outcome, told(held)).toBe('ok');
    expect((await lab.console('web', `test -e ${marker} && echo there || echo absent; rm -f ${marker}`)).stdout.trim()).toBe('there');
  });
});

describe('deadlines and floods', () => {
  test('a hanging step is killed at its deadline, on the host too', async () => {
    const host = lab.host('web');
    const server = labServer(lab, host);
    const runbook = handRunbook('web', 'http', [{ kind: 'run', id: 'hang', command: 'sleep 600', sudo: true, onFailure: 'stop', deadlineMs: 3_000 }]);
    const t = await createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets) }).execute({ server, runbook, probe: outsideProbe(server) });
    expect(t.verdict).toBe('DeadlineExceeded');
    const hang = step(t, 'hang');
    expect(hang?.outcome).toBe('timeout');
    expect(hang?.note).toMatch(/killed process tree \d+/);
    const ps = await lab.console('web', 'ps -eo args');
    expect(ps.stdout).not.toMatch(/sleep 600/);
  });

  test('the runbook deadline stops the running step too, and so does the daemon stopping', async () => {
    const host = lab.host('web');
    const server = labServer(lab, host);
    const executor = createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets) });
    const long = handRunbook('web', 'http', [{ kind: 'run', id: 'hang', command: 'sleep 601', sudo: false, onFailure: 'stop', deadlineMs: 60_000 }], 2_000);
    const t = await executor.execute({ server, runbook: long, probe: outsideProbe(server) });
    expect(t.verdict).toBe('DeadlineExceeded');

    const stop = new AbortController();
    setTimeout(() => stop.abort(), 1_500);
    const runbook = handRunbook('web', 'http', [{ kind: 'run', id: 'hang', command: 'sleep 602', sudo: true, onFailure: 'stop', deadlineMs: 60_000 }]);
    const i = await executor.execute({ server, runbook, probe: outsideProbe(server), signal: stop.signal });
    expect(i.verdict).toBe('Interrupted');
    const ps = await lab.console('web', 'ps -eo args');
    expect(ps.stdout).not.toMatch(/sleep 60[12]/);
  });

  test('an output flood is read to the end and kept bounded', async () => {
    const host = lab.host('web');
    const server = labServer(lab, host);
    const runbook = handRunbook('web', 'http', [{ kind: 'run', id: 'flood', command: 'yes | head -c 50000000', sudo: false, onFailure: 'stop', deadlineMs: 50_000 }]);
    const t = await createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets) }).execute({ server, runbook, probe: outsideProbe(server) });
    const flood = step(t, 'flood');
    expect(flood?.outcome).toBe('ok');
    expect(flood?.exitCode).toBe(0);
    expect(Buffer.byteLength(flood?.output ?? '')).toBeLessThanOrEqual(64 * 1024 + 100);
    expect(flood?.output).toMatch(/bytes of output dropped/);
    expect(flood?.note).toMatch(/output was 50000000 bytes; 49934464 dropped/);
    expect(t.verdict, told(t)).toBe('Recovered');
  });
});
