/**
 * The readiness check against the lab (lab id 9): it passes on a healthy host, and reports a
 * removed key, a refused sudo, a changed host key, a missing secret and a BMC that refuses.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkReadiness, type ReadinessCondition, type ReadinessReport } from '../../src/runbook/readiness.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { labProfiles, labSecrets, labServer, resolverOf, standardRunbook, type LabServerOptions } from './executor-lab.ts';

let lab: Lab;

beforeAll(async () => {
  lab = await startLab({ id: 9, hosts: [{ name: 'ok' }, { name: 'nokey' }, { name: 'nosudo' }] });
});

afterAll(async () => {
  await lab?.stop();
});

async function readiness(hostName: string, o: LabServerOptions = {}, edit?: (s: Map<string, string>) => void): Promise<ReadinessReport> {
  const host = lab.host(hostName);
  const server = labServer(lab, host, o);
  const secrets = await labSecrets(lab);
  edit?.(secrets);
  const runbooks = [await standardRunbook('std-httpd-el-sysv', server, 'http')];
  return checkReadiness(server, { resolveSecret: resolverOf(secrets), consoleProfiles: labProfiles(lab), runbooks });
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
