/**
 * The look a takeover sends to a host (host-facts.ts): the script, and its output read as times on
 * this replica's clock from elapsed times (uptime against clock ticks), never the host's own clock.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { lookScript, parseLook } from '../../src/reconcile/host-facts.ts';

describe('the look at a host', () => {
  it('reads the boot (PID 1) and the process start as now minus their age', () => {
    const now = 1_000_000_000;
    // Up 5000 s; 100 ticks a second; PID 1 started 2 s after the kernel, the process 4900 s after.
    const l = parseLook('uptime 5000.00\ntck 100\ninit 200\nproc 490000\n', now);
    expect(l).toEqual({ bootedAt: now - 4_998_000, processStartedAt: now - 100_000 });
  });

  it('no such process is null; a missing or garbled field is left out; garbage is nothing', () => {
    expect(parseLook('uptime 10.5\ntck 100\ninit 0\nproc none\n', 50_000)).toEqual({ bootedAt: 50_000 - 10_500, processStartedAt: null });
    expect(parseLook('uptime 10.5\ntck 100\ninit x\n', 50_000)).toEqual({});
    expect(parseLook('tck 100\ninit 5\nproc 7\n', 50_000)).toEqual({});
    expect(parseLook('uptime 1 2 3\nMotD: uptime 99\n', 50_000)).toEqual({});
  });

  it('the script runs in a POSIX sh here and finds this very process as the oldest of its name', () => {
    const out = execFileSync('/bin/sh', ['-c', lookScript('node')], { encoding: 'utf8' });
    const l = parseLook(out, Date.now());
    expect(l.bootedAt).toBeLessThan(Date.now());
    expect(typeof l.processStartedAt).toBe('number');
    expect(l.processStartedAt!).toBeLessThanOrEqual(Date.now());
  });

  it('a process name is quoted: a hostile one is not run', () => {
    expect(lookScript("httpd'; touch /tmp/x; '")).toContain(`'httpd'\\''; touch /tmp/x; '\\'''`);
  });
});
