/** How a command becomes root, decided once for the executor and the readiness check. */
import { describe, expect, it } from 'vitest';
import { SUDO_PROMPT } from '../../src/runbook/remote-command.ts';
import { noSecrets, sudoAccess } from '../../src/runbook/ssh-access.ts';
import { serverDoc } from '../reconcile/harness.ts';

const access = { user: 'mamori', hostKey: `SHA256:${'A'.repeat(43)}`, credentials: { secretRef: 'k' } };

describe('sudoAccess', () => {
  it('runs as the login user when the step is not root, and sudo -n when no password is declared', () => {
    expect(sudoAccess(serverDoc('web01', '10.231.31.10'), noSecrets(), false)).toEqual({ ok: true, mode: 'none', answers: [] });
    expect(sudoAccess(serverDoc('web01', '10.231.31.10'), noSecrets())).toEqual({ ok: true, mode: 'nopasswd', answers: [] });
  });

  it('feeds the declared password after the sudo prompt, and says so when it does not resolve', () => {
    const server = serverDoc('web01', '10.231.31.10', ['http'], { access: { ...access, sudo: { password: { secretRef: 'web01-sudo' } } } });
    expect(sudoAccess(server, noSecrets())).toEqual({ ok: false, reason: 'PasswordMissing' });
    expect(sudoAccess(server, { ...noSecrets(), sudoPassword: 'pw-9f3k' })).toEqual({ ok: true, mode: 'password', answers: [{ prompt: SUDO_PROMPT, value: 'pw-9f3k' }] });
    expect(sudoAccess(server, noSecrets(), false)).toEqual({ ok: true, mode: 'none', answers: [] });
  });
});
