import { describe, expect, test } from 'vitest';
import { osMismatch, parseOsLook } from '../../src/runbook/os-check.ts';
import { killTreeScript, localConnectScript, processLookScript, wrapCommand } from '../../src/runbook/remote-command.ts';

describe('what the server says it is', () => {
  test.each([
    ['uname-s: Linux\nredhat-release: CentOS release 5.11 (Final)\n', { family: 'centos', version: '5.11' }],
    ['uname-s: Linux\nredhat-release: CentOS Linux release 7.9.2009 (Core)\n', { family: 'centos', version: '7.9.2009' }],
    ['uname-s: Linux\nredhat-release: Red Hat Enterprise Linux ES release 4 (Nahant Update 8)\n', { family: 'rhel', variant: 'es', version: '4' }],
    ['uname-s: Linux\nredhat-release: Red Hat Enterprise Linux Server release 5.11 (Tikanga)\n', { family: 'rhel', variant: 'server', version: '5.11' }],
    ['uname-s: FreeBSD\nuname-r: 6.3-RELEASE-p15\n', { family: 'freebsd', version: '6.3' }],
    ['uname-s: FreeBSD\nuname-r: 13.2-RELEASE\nfreebsd-version: 13.2-RELEASE-p4\n', { family: 'freebsd', version: '13.2' }],
    ['uname-s: Linux\nuname-r: 6.1.0\n', { family: undefined, version: undefined }],
  ])('%j', (output, expected) => {
    expect(parseOsLook(output)).toMatchObject(expected);
  });

  test.each([
    [{ family: 'centos', version: '5.4' }, 'uname-s: Linux\nredhat-release: CentOS release 5.11 (Final)\n', false],
    [{ family: 'centos', version: '4.8' }, 'uname-s: Linux\nredhat-release: CentOS release 5.11 (Final)\n', true],
    [{ family: 'freebsd', version: '6.3' }, 'uname-s: Linux\nredhat-release: CentOS release 5.11 (Final)\n', true],
    [{ family: 'rhel', version: '5' }, 'uname-s: Linux\nredhat-release: CentOS release 5.11 (Final)\n', true],
    [{ family: 'freebsd', version: '6.3' }, 'uname-s: FreeBSD\nuname-r: 6.4-RELEASE\n', false],
    [{ family: 'centos', version: '5.4' }, '', true],
  ])('declared %j, server says %j: mismatch %s', (declared, output, mismatch) => {
    expect(osMismatch(declared, parseOsLook(output)) !== undefined).toBe(mismatch);
  });
});

describe('command lines sent to the server', () => {
  test('a rendered command goes whole, quoted, to /bin/sh -c through sudo -n, after the PID marker', () => {
    expect(wrapCommand("/etc/init.d/httpd restart; echo 'done'", 'nopasswd')).toBe(
      `echo "MAMORI_PID=$$"; exec sudo -n /bin/sh -c '/etc/init.d/httpd restart; echo '\\''done'\\'''`,
    );
    expect(wrapCommand('true', 'password')).toMatch(/^echo "MAMORI_PID=\$\$"; exec sudo -S -p '\[mamori\] sudo asks:' \/bin\/sh -c 'true'$/);
    expect(wrapCommand('true', 'none')).toBe(`echo "MAMORI_PID=$$"; exec /bin/sh -c 'true'`);
  });

  test('scripts refuse values that are not what they claim', () => {
    expect(() => killTreeScript(1)).toThrow();
    expect(() => killTreeScript(Number.NaN)).toThrow();
    expect(() => localConnectScript(70000)).toThrow();
    expect(processLookScript("ht'tpd")).toContain(`n='ht'\\''tpd'`);
  });
});
