/**
 * The readiness check against the lab (lab id 9): it passes on a healthy host, and reports a
 * removed key, a refused sudo, a changed host key, a missing secret and a BMC that refuses.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkReadiness, type ReadinessCondition, type ReadinessReport } from '../../src/runbook/readiness.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { labProfiles, labSecrets, labServer, resolverOf, standardRunbook, type LabServerOptions } from './executor-lab.ts';
import { LAB_TARGETS } from '../support/targets.ts';

let lab: Lab;
const tempDirs: string[] = [];

beforeAll(async () => {
  lab = await startLab({ id: 9, hosts: [{ name: 'ok' }, { name: 'nokey' }, { name: 'nosudo' }] });
});

afterAll(async () => {
  await lab?.stop();
  const { rm } = await import('node:fs/promises');
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

async function readiness(hostName: string, o: LabServerOptions = {}, edit?: (s: Map<string, string>) => void): Promise<ReadinessReport> {
  const host = lab.host(hostName);
  const server = labServer(lab, host, o);
  const secrets = await labSecrets(lab);
  edit?.(secrets);
  const runbooks = [await standardRunbook('std-httpd-el-sysv', server, 'http')];
  return checkReadiness(server, { targets: LAB_TARGETS, resolveSecret: resolverOf(secrets), consoleProfiles: labProfiles(lab), runbooks });
}

const cond = (r: ReadinessReport, type: ReadinessCondition['type']) => r.conditions.find((c) => c.type === type);

describe('readiness', () => {
  test('a healthy host is ready: login, sudo, secrets and BMC all answer', async () => {
    const r = await readiness('ok', { withSslSecret: false });
    expect(cond(r, 'ManagementAccessDenied')).toMatchObject({ status: 'False', reason: 'LoginAndSudoWork' });
    expect(cond(r, 'HostKeyChanged')).toMatchObject({ status: 'False' });
    expect(cond(r, 'RecoveryNotReady')).toMatchObject({ status: 'False', reason: 'Ready' });
    expect(r.facts).toMatchObject({ power: 'on', consoleDriver: 'ipmi', observedHostKey: lab.host('ok').hostKeyFingerprint });
  });

  test('a removed key: ManagementAccessDenied (login refused)', async () => {
    const rm = await lab.console('nokey', 'rm -f ~mamori/.ssh/authorized_keys');
    expect(rm.code).toBe(0);
    const r = await readiness('nokey');
    expect(cond(r, 'ManagementAccessDenied')).toMatchObject({ status: 'True', reason: 'LoginRefused' });
    expect(cond(r, 'HostKeyChanged')).toMatchObject({ status: 'False' });
  });

  test('sudo that asks for a password: ManagementAccessDenied (sudo refused)', async () => {
    const rm = await lab.console('nosudo', 'rm -f /etc/sudoers.d/*');
    expect(rm.code).toBe(0);
    const r = await readiness('nosudo');
    expect(cond(r, 'ManagementAccessDenied')).toMatchObject({ status: 'True', reason: 'SudoRefused' });
  });

  test('a changed host key: HostKeyChanged, with the key seen', async () => {
    const r = await readiness('ok', { hostKey: `SHA256:${'B'.repeat(43)}` });
    expect(cond(r, 'HostKeyChanged')).toMatchObject({ status: 'True', reason: 'HostKeyMismatch' });
    expect(cond(r, 'HostKeyChanged')?.message).toMatch(/man-in-the-middle/);
    expect(r.facts.observedHostKey).toBe(lab.host('ok').hostKeyFingerprint);
    expect(cond(r, 'ManagementAccessDenied')?.status).toBe('Unknown');
  });

  test('a missing secret: RecoveryNotReady names it', async () => {
    const r = await readiness('ok', { withSslSecret: true }, (s) => s.delete('ok-ssl'));
    const c = cond(r, 'RecoveryNotReady');
    expect(c).toMatchObject({ status: 'True', reason: 'SecretMissing' });
    expect(c?.message).toMatch(/spec\.secrets\.sslPassphrase/);
  });

  test('a BMC that refuses the password: RecoveryNotReady, and the wrong password is not in the message', async () => {
    const wrong = 'not-the-bmc-password-42';
    const r = await readiness('ok', {}, (s) => s.set('ok-bmc', `admin:${wrong}`));
    const c = cond(r, 'RecoveryNotReady');
    expect(c).toMatchObject({ status: 'True', reason: 'BmcUnreachable' });
    expect(JSON.stringify(r)).not.toContain(wrong);
  });
});

describe('the commands: mamori check-access and mamori runbook run', () => {
  async function fixture(o: { accessPort?: number } = {}): Promise<{ dir: string; argv: (...a: string[]) => string[] }> {
    const { mkdtemp, mkdir, writeFile, readFile, chmod } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { labConsoleArgv } = await import('./executor-lab.ts');
    const host = lab.host('ok');
    const dir = await mkdtemp(join(tmpdir(), 'mamori-cli-'));
    tempDirs.push(dir);
    await mkdir(join(dir, 'manifests/customers/acme/servers'), { recursive: true });
    await mkdir(join(dir, 'secrets'), { mode: 0o700 });
    await chmod(join(dir, 'secrets'), 0o700);
    await writeFile(join(dir, 'secrets/acme-ok-login'), await readFile(lab.managementKeyPath, 'utf8'), { mode: 0o600 });
    await writeFile(join(dir, 'secrets/acme-ok-bmc'), `${host.bmc.user}:${(await readFile(host.bmc.passwordFile, 'utf8')).trim()}\n`, { mode: 0o600 });
    await writeFile(
      join(dir, 'mamori.yaml'),
      [
        'apiVersion: mamori/v1',
        'kind: Config',
        'secretsDir: secrets',
        `stateDir: state`,
        `targetNetworks: [${lab.subnet}, 127.0.0.0/8]`,
        'consoleProfiles:',
        `  lab-ipmi: { driver: ipmi, cipherSuite: 3, consoleCommand: ${JSON.stringify(labConsoleArgv(lab))} }`,
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'manifests/customers/acme/servers/ok.yaml'),
      [
        'apiVersion: mamori/v1',
        'kind: Server',
        'metadata: { name: ok, customer: acme }',
        'spec:',
        `  address: ${host.address}`,
        '  os: { family: centos, version: "5.4" }',
        '  plan: basic',
        '  contact: { email: ops@acme.example }',
        '  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]',
        '  services: [ping, http, ftp, ssh]',
        `  access: { user: mamori, hostKey: "${host.hostKeyFingerprint}", credentials: { secretRef: acme-ok-login }${o.accessPort === undefined ? '' : `, port: ${o.accessPort}`} }`,
        `  console: { profile: lab-ipmi, bmc: 127.0.0.1, bmcPort: ${host.bmc.port}, credentials: { secretRef: acme-ok-bmc }, target: ok }`,
        '',
      ].join('\n'),
    );
    return { dir, argv: (...a) => ['node', 'mamori', '--manifests', join(dir, 'manifests'), '--config', join(dir, 'mamori.yaml'), ...a] };
  }

  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const { buildProgram } = await import('../../src/cli/main.ts');
    const { Writable } = await import('node:stream');
    let out = '';
    let err = '';
    const sink = (f: (s: string) => void) => new Writable({ write(c: Buffer, _e, done) { f(c.toString()); done(); } });
    const stdout = sink((s) => (out += s));
    const stderr = sink((s) => (err += s));
    // The commands take their streams as deps; the program built by main uses the process's.
    const { registerCheckAccessCommand } = await import('../../src/cli/check-access.ts');
    const { registerRunbookRunCommand } = await import('../../src/cli/run-runbook.ts');
    const { Command } = await import('commander');
    const program = new Command('mamori').option('--manifests <dir>').option('--config <file>').exitOverride();
    registerCheckAccessCommand(program, { stdout, stderr });
    registerRunbookRunCommand(program, { stdout, stderr });
    expect(buildProgram().commands.map((c) => c.name())).toEqual(expect.arrayContaining(['check-access', 'runbook']));
    process.exitCode = undefined;
    await program.parseAsync(argv);
    const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
    process.exitCode = undefined;
    return { code, out, err };
  }

  test('check-access prints the three conditions, all False for a ready server', async () => {
    const f = await fixture();
    const r = await cli(f.argv('check-access', 'ok'));
    expect(r.err).toBe('');
    expect(r.out).toMatch(/ManagementAccessDenied\s+False\s+LoginAndSudoWork/);
    expect(r.out).toMatch(/HostKeyChanged\s+False/);
    expect(r.out).toMatch(/RecoveryNotReady\s+False\s+Ready/);
    expect(r.code).toBe(0);
  });

  test('runbook run --dry-run connects nowhere; runbook run restarts vsftpd and prints the transcript', async () => {
    const f = await fixture();
    await lab.breakService('ok', 'vsftpd');
    const dry = await cli(f.argv('runbook', 'run', 'ok', 'ftp', '--dry-run'));
    expect(dry.out).toMatch(/dry run: nothing connects/);
    expect(dry.out).toMatch(/every secret resolves/);
    expect(dry.code).toBe(0);
    const r = await cli(f.argv('runbook', 'run', 'ok', 'ftp', '--json'));
    const t = JSON.parse(r.out) as { verdict: string; steps: Array<{ command?: string }> };
    expect(t.verdict).toBe('Recovered');
    expect(t.steps.map((s) => s.command)).toContain('/etc/init.d/vsftpd restart');
    expect(r.code).toBe(0);
  });

  // Last: it moves ok's sshd off port 22 for good.
  test("runbook run SERVER ssh verifies on the server's SSH port (spec.access.port), not on 22", async () => {
    // sshd listens on 2222 only from its next start (its config and its init script's port), then dies.
    const moved = await lab.console('ok', `sed -i 's/^Port 22$/Port 2222/' /etc/ssh/sshd_config && sed -i 's/^PORTS="22"$/PORTS="2222"/' /etc/init.d/sshd && grep -qx 'Port 2222' /etc/ssh/sshd_config && grep -qx 'PORTS="2222"' /etc/init.d/sshd`);
    expect(moved.code).toBe(0);
    await lab.breakService('ok', 'sshd');
    const f = await fixture({ accessPort: 2222 });
    const r = await cli(f.argv('runbook', 'run', 'ok', 'ssh', '--json'));
    const t = JSON.parse(r.out) as { verdict: string; message: string; steps: Array<{ id: string; command?: string; note?: string; outcome: string }> };
    // The restart from the console brings sshd back on 2222; the verify logs in there and the
    // outside probe knocks there too (on 22 nothing answers: VerifyFailed).
    expect(t.steps.map((s) => s.command)).toContain('/etc/init.d/sshd restart');
    expect(t.steps.find((s) => s.id === 'login')?.note).toMatch(/:2222, host key/);
    expect(t.steps.find((s) => s.id === 'confirm')).toMatchObject({ outcome: 'ok' });
    expect({ verdict: t.verdict, message: t.message }).toMatchObject({ verdict: 'Recovered' });
    expect(r.code).toBe(0);
  });
});
