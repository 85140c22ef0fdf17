import { describe, expect, test } from 'vitest';
import { isMamoriError } from '../../src/errors.ts';
import { ipmitoolArgv, splitBmcCredentials } from '../../src/runbook/drivers/ipmi.ts';
import { consoleChannelFor } from '../../src/runbook/drivers/registry.ts';
import { runArgv } from '../../src/runbook/drivers/run-argv.ts';
import { expandArgv } from '../../src/runbook/drivers/template.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const server = { name: 'web01', address: '10.231.0.11', target: 'port7' };

describe('argv templates', () => {
  test('each element is substituted on its own: a value with spaces or quotes stays one argument', () => {
    const argv = expandArgv(['conserver', '-c', '{{console.target}}', '--run={{command}}'], { 'console.target': 'ts1:7', command: "echo 'x y'; reboot" }, 'p');
    expect(argv).toEqual(['conserver', '-c', 'ts1:7', "--run=echo 'x y'; reboot"]);
  });

  test('a placeholder without a value names itself', () => {
    expect(() => expandArgv(['x', '{{console.target}}'], {}, 'console profile p')).toThrow(/console profile p: \{\{console.target\}\} has no value/);
  });

  test('the command driver runs without a shell: metacharacters reach the program as text', async () => {
    const channel = consoleChannelFor({ c: { driver: 'command', console: ['/bin/echo', '{{server.name}}', '{{command}}'] } }, 'c', { targets: LAB_TARGETS, server, secrets: [] });
    const r = await channel.console?.run('$(id) ; `id` | id', { deadlineMs: 5_000 });
    expect(r?.exitCode).toBe(0);
    expect(r?.output).toBe('web01 $(id) ; `id` | id\n');
  });

  test('a console command past its deadline is killed with its process group', async () => {
    const r = await runArgv(['/bin/sh', '-c', 'sleep 30 & sleep 30; echo never'], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.output).not.toContain('never');
  });

  test('output of a driver is scrubbed of secrets', async () => {
    const r = await runArgv(['/bin/echo', 'the password is hunter2hunter2'], { timeoutMs: 5_000, secrets: ['hunter2hunter2'] });
    expect(r.output).toBe('the password is [redacted]\n');
  });
});

describe('ipmi', () => {
  test('the password is never an argument: -E takes it from IPMI_PASSWORD', () => {
    const argv = ipmitoolArgv('ipmitool', '192.0.2.10', 623, 'admin', 3, ['chassis', 'power', 'status']);
    expect(argv).toEqual(['ipmitool', '-I', 'lanplus', '-H', '192.0.2.10', '-p', '623', '-U', 'admin', '-E', '-C', '3', 'chassis', 'power', 'status']);
    expect(argv).not.toContain('-P');
  });

  test('credentials are user:password, and the password may hold colons', () => {
    expect(splitBmcCredentials('admin:a:b:c\n')).toEqual({ user: 'admin', password: 'a:b:c' });
    expect(() => splitBmcCredentials('nocolon')).toThrow(/user:password/);
  });

  test('a server without a BMC address cannot use the ipmi driver, and says so', async () => {
    const channel = consoleChannelFor({ i: { driver: 'ipmi' } }, 'i', { targets: LAB_TARGETS, server, credentials: 'admin:x', secrets: [] });
    await expect(channel.power?.status()).rejects.toThrow(/has no spec.console.bmc/);
  });
});

describe('the registry', () => {
  test('an unknown profile is MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE naming the profile', () => {
    try {
      consoleChannelFor({}, 'dc9', { targets: LAB_TARGETS, server, secrets: [] });
      expect.unreachable();
    } catch (err) {
      expect(isMamoriError(err, 'MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE')).toBe(true);
      expect((err as Error).message).toMatch(/dc9/);
    }
  });

  test('manual has neither console nor power: the executor escalates', () => {
    const channel = consoleChannelFor({ m: { driver: 'manual', desk: 'noc@example.net' } }, 'm', { targets: LAB_TARGETS, server, secrets: [] });
    expect(channel).toEqual({ profile: 'm', driver: 'manual', desk: 'noc@example.net' });
  });
});
