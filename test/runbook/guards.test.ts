/**
 * The careful-engineer guards of the FreeBSD runbooks, run for real with /bin/sh and
 * Debian's procps/psmisc (pgrep, ps, killall) inside a private PID and mount namespace:
 * killall there reaches only the sandbox's processes, and /usr/sbin and /run are
 * tmpfs with stand-in daemons that record what happened to them.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { renderRunbook } from '../../src/runbook/render.ts';
import { selectRunbook } from '../../src/runbook/select.ts';
import type { ServiceName } from '../../src/manifest/types.ts';
import { server, standardRunbooks } from './operator-docs.ts';

function actingCommand(service: ServiceName): string {
  const srv = server({ family: 'freebsd', version: '6.3' });
  const picked = selectRunbook(srv, service, standardRunbooks());
  if ('error' in picked) throw new Error(picked.error);
  const step = renderRunbook(srv, service, picked.runbook).steps.find((s) => s.kind === 'run' || (s.kind === 'console' && s.action === 'run'));
  if (step === undefined || !('command' in step) || step.command === undefined) throw new Error('no acting step');
  return step.command;
}

// A stand-in daemon: a script named like the daemon (so ps, pgrep and killall see that
// name) that records its start and every HUP in /run/marks.
const daemon = (name: string): string =>
  `printf '#!/bin/sh\\necho ${name}-started "$@" >>/run/marks\\n( trap "echo ${name}-hup >>/run/marks" HUP; while :; do sleep 0.1; done ) </dev/null >/dev/null 2>&1 &\\n' >/usr/sbin/${name}; chmod 755 /usr/sbin/${name}`;

function sandbox(setup: string, command: string): string[] {
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /usr/sbin',
    'mount -t tmpfs tmpfs /run',
    ': >/run/marks',
    daemon('inetd'),
    daemon('sshd'),
    setup,
    'set +e',
    // The executor runs a step as `sudo /bin/sh -c <command>`.
    '/bin/sh -c "$1"; echo "exit=$?" >>/run/marks',
    'sleep 0.5',
    'cat /run/marks',
  ].join('\n');
  const out = execFileSync('unshare', ['--pid', '--mount', '--fork', '--mount-proc', '/bin/sh', '-c', script, 'sandbox', command], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  // A trap runs when the daemon's current sleep ends: order the marks for comparing.
  return out.split('\n').filter((l) => l !== '').sort();
}

describe('inetd: check its state, then killall -HUP inetd', () => {
  const command = actingCommand('ftp');

  test('a running inetd gets the HUP and is not started twice', () => {
    expect(sandbox('/usr/sbin/inetd -wW; sleep 0.3; : >/run/marks', command)).toEqual(['exit=0', 'inetd-hup']);
  });

  test('a dead inetd is started (a HUP would reach nobody)', () => {
    expect(sandbox('', command)).toEqual(['exit=0', 'inetd-started -wW']);
  });

  test('the mail services share the same guard', () => {
    expect(actingCommand('smtp')).toBe(command);
    expect(actingCommand('imap')).toBe(command);
  });
});

describe('sshd: HUP the pid in /var/run/sshd.pid only if it is sshd, else start /usr/sbin/sshd', () => {
  const command = actingCommand('ssh');

  test('a live sshd named by the pid file gets the HUP', () => {
    const setup = '/usr/sbin/sshd; sleep 0.3; pgrep -x sshd >/var/run/sshd.pid; : >/run/marks';
    expect(sandbox(setup, command)).toEqual(['exit=0', 'sshd-hup']);
  });

  test('a stale pid file naming an unrelated process: that process is left alone and sshd is started', () => {
    // sleep dies on SIGHUP: it is still there afterwards only if nobody signalled it.
    const setup = 'sleep 60 & echo $! >/var/run/sshd.pid';
    const marks = sandbox(`${setup}; echo $! >/run/victim`, `${command}; kill -0 $(cat /run/victim) && echo victim-alive >>/run/marks`);
    expect(marks).toEqual(['exit=0', 'sshd-started', 'victim-alive']);
  });

  test('no pid file: sshd is started', () => {
    expect(sandbox('', command)).toEqual(['exit=0', 'sshd-started']);
  });
});
