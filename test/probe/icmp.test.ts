import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPingProber, parseFpingOutput, parsePingOutput, pingMany } from '../../src/probe/icmp.ts';
import { PingHelper } from '../../src/probe/ping-helper-client.ts';
import type { Logger } from '../../src/log.ts';
import type { ProbeResult } from '../../src/probe/types.ts';

describe('parsing what fping and ping print', () => {
  test.each([
    ['127.0.0.1    : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.046/0.115/0.252', '127.0.0.1', { sent: 3, received: 3, lossPct: 0, rttMs: 0.115 }, undefined],
    ['::1          : xmt/rcv/%loss = 3/2/33%, min/avg/max = 0.030/0.031/0.032', '::1', { sent: 3, received: 2, lossPct: 33, rttMs: 0.031 }, undefined],
    ['10.231.4.11 : xmt/rcv/%loss = 3/0/100%', '10.231.4.11', { sent: 3, received: 0, lossPct: 100 }, 'timeout'],
    [
      'ICMP Host Unreachable from 10.231.4.1 for ICMP Echo sent to 10.231.4.12\n10.231.4.12 : xmt/rcv/%loss = 3/0/100%',
      '10.231.4.12',
      { sent: 3, received: 0, lossPct: 100 },
      'unreachable',
    ],
  ])('%s', (text, address, icmp, kind) => {
    const outcome = parseFpingOutput(text).get(address);
    expect(outcome?.icmp).toEqual(icmp);
    expect(outcome?.failure?.kind).toBe(kind);
    if (kind !== undefined) expect(outcome?.failure?.phase).toBe('echo');
  });

  test('iputils ping summary', () => {
    const text = '--- 127.0.0.1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 401ms\nrtt min/avg/max/mdev = 0.030/0.045/0.060/0.010 ms\n';
    expect(parsePingOutput(text)).toEqual({ icmp: { sent: 3, received: 3, lossPct: 0, rttMs: 0.045 } });
  });
});

describe('real echo on loopback', () => {
  let dir: string;
  let wrapper: string;
  let calls: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mamori-fping-'));
    calls = join(dir, 'calls');
    wrapper = join(dir, 'fping');
    // Counts invocations, then runs the real fping: proves the batching without faking the echo.
    await writeFile(wrapper, `#!/bin/sh\necho "$*" >> ${calls}\nexec fping "$@"\n`);
    await chmod(wrapper, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('pingMany: IPv4 and IPv6 in one fping call, stopped at the first reply of each; a non-address fails alone', async () => {
    const outcomes = await pingMany(['127.0.0.1', '::1', '127.0.0.2', 'not-an-ip'], { timeoutMs: 1000 });
    for (const a of ['127.0.0.1', '::1', '127.0.0.2']) {
      expect(outcomes.get(a)?.failure).toBeUndefined();
      // One reply proves the host up: fping is not kept for the other two echoes (0.4 s a round).
      expect(outcomes.get(a)?.icmp).toMatchObject({ sent: 1, received: 1, lossPct: 0 });
      expect(outcomes.get(a)?.icmp.rttMs).toBeGreaterThan(0);
    }
    expect(outcomes.get('not-an-ip')?.failure).toMatchObject({ kind: 'error', phase: 'echo' });
  });

  test('an address silent at the first echo gets the other echoes from a second fping, and only it', async () => {
    const seen = join(dir, 'two-runs');
    const twice = join(dir, 'fping-twice');
    await writeFile(seen, '');
    // The first (quiet, one echo) run: 127.0.14.2 is kept from the real fping and reported silent,
    // as a host slower than a period would be. The second run is the real fping, as given.
    await writeFile(
      twice,
      `#!/bin/sh\necho "$*" >> ${seen}\nif [ "$1" = "-q" ]; then\n  args=$(echo "$@" | sed 's/ 127.0.14.2//')\n  echo "127.0.14.2 : xmt/rcv/%loss = 1/0/100%" >&2\n  exec fping $args\nfi\nexec fping "$@"\n`,
    );
    await chmod(twice, 0o755);
    const outcomes = await pingMany(['127.0.14.1', '127.0.14.2'], { timeoutMs: 2000, fping: twice });
    expect(outcomes.get('127.0.14.1')?.icmp).toMatchObject({ sent: 1, received: 1, lossPct: 0 });
    // One echo unanswered, then two of two: up, three sent.
    expect(outcomes.get('127.0.14.2')?.failure).toBeUndefined();
    expect(outcomes.get('127.0.14.2')?.icmp).toMatchObject({ sent: 3, received: 2, lossPct: 33 });
    const calls = (await readFile(seen, 'utf8')).trim().split('\n');
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatch(/^-q -c 1 -t 200 /);
    expect(calls[1]).toMatch(/^-c 2 -p 200 /);
    expect(calls[1]?.split(' ').filter((w) => w.startsWith('127.'))).toEqual(['127.0.14.2']);
  });

  test('without fping, the system ping answers the same', async () => {
    const outcomes = await pingMany(['127.0.0.1', '::1'], { timeoutMs: 2000, fping: null });
    expect(outcomes.get('127.0.0.1')?.icmp).toMatchObject({ sent: 3, received: 3 });
    expect(outcomes.get('::1')?.icmp).toMatchObject({ sent: 3, received: 3 });
  });

  test('a missing fping binary is an error result, never a throw', async () => {
    const outcomes = await pingMany(['127.0.0.1'], { timeoutMs: 500, fping: join(dir, 'nope'), ping: join(dir, 'nope-either') });
    expect(outcomes.get('127.0.0.1')?.failure?.kind).toBe('error');
  });

  test('the ping prober coalesces probes that arrive together into one fping call', async () => {
    await writeFile(calls, '');
    const prober = createPingProber({ fping: wrapper });
    const addresses = Array.from({ length: 40 }, (_, i) => `127.0.${Math.floor(i / 20)}.${(i % 20) + 1}`);
    const results = await Promise.all(addresses.map((address) => prober.probe({ service: 'ping', address, timeoutMs: 1000 })));
    expect(results.every((r) => r.up && r.icmp?.received === 1)).toBe(true);
    expect(results.map((r) => r.target)).toEqual(addresses);
    const lines = (await readFile(calls, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.split(' ').filter((w) => w.startsWith('127.'))).toHaveLength(40);
  });

  test('at most maxProcesses fping calls run at once; the rest wait their turn', async () => {
    const spans = join(dir, 'spans');
    const timed = join(dir, 'fping-timed');
    await writeFile(spans, '');
    // Logs when each fping starts and ends, so that the overlap can be counted. fping on loopback
    // ends within a millisecond of its start: each call lasts at least 0.3 s, so that calls allowed
    // to run together do overlap.
    await writeFile(timed, `#!/bin/sh\necho "+ $(date +%s%N)" >> ${spans}\ntrap 'kill $p 2>/dev/null' TERM\nsleep 0.3\nfping "$@" & p=$!\nwait $p\nrc=$?\necho "- $(date +%s%N)" >> ${spans}\nexit $rc\n`);
    await chmod(timed, 0o755);
    const prober = createPingProber({ fping: timed, maxBatch: 2, maxProcesses: 2 });
    const addresses = Array.from({ length: 8 }, (_, i) => `127.0.8.${i + 1}`);
    const results = await Promise.all(addresses.map((address) => prober.probe({ service: 'ping', address, timeoutMs: 1000 })));
    expect(results.every((r) => r.up)).toBe(true);
    const events = (await readFile(spans, 'utf8')).trim().split('\n').map((l) => l.split(' ') as [string, string]);
    events.sort((a, b) => (BigInt(a[1]) < BigInt(b[1]) ? -1 : BigInt(a[1]) > BigInt(b[1]) ? 1 : a[0] === '-' ? -1 : 1));
    let running = 0;
    let most = 0;
    for (const [sign] of events) {
      running += sign === '+' ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(events.filter(([sign]) => sign === '+')).toHaveLength(4);
    expect(most).toBe(2);
  });

  test('a steady stream of pings starts an fping at most every minGapMs, not one per window', async () => {
    const starts = join(dir, 'starts');
    const stamped = join(dir, 'fping-stamped');
    await writeFile(starts, '');
    await writeFile(stamped, `#!/bin/sh\necho "$(date +%s%N)" >> ${starts}\nexec fping "$@"\n`);
    await chmod(stamped, 0o755);
    const prober = createPingProber({ fping: stamped, windowMs: 20, minGapMs: 300 });
    // 40 pings, one every 25 ms (a fleet's scheduler spreading its servers): 1 s of requests.
    const pending: Array<Promise<ProbeResult>> = [];
    const t0 = performance.now();
    for (let i = 0; i < 40; i++) {
      pending.push(prober.probe({ service: 'ping', address: `127.0.10.${i + 1}`, timeoutMs: 1000 }));
      await new Promise((r) => setTimeout(r, 25));
    }
    const requestsMs = performance.now() - t0;
    expect((await Promise.all(pending)).every((r) => r.up)).toBe(true);
    const calls = (await readFile(starts, 'utf8')).trim().split('\n').length;
    // With the 20 ms window alone that was one fping per request (40); now one per 300 ms of requests.
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(Math.ceil(requestsMs / 300) + 1);
  });

  test('batches are split at maxBatch', async () => {
    await writeFile(calls, '');
    const prober = createPingProber({ fping: wrapper, maxBatch: 10 });
    const addresses = Array.from({ length: 25 }, (_, i) => `127.0.9.${i + 1}`);
    const results = await Promise.all(addresses.map((address) => prober.probe({ service: 'ping', address, timeoutMs: 1000 })));
    expect(results.every((r) => r.up)).toBe(true);
    expect((await readFile(calls, 'utf8')).trim().split('\n')).toHaveLength(3);
  });

  test('fping is started by the ping helper process, never by the prober\'s own process', async () => {
    const parents = join(dir, 'parents');
    const ppid = join(dir, 'fping-ppid');
    await writeFile(parents, '');
    // $PPID is whoever started fping: the helper, a small process of its own.
    await writeFile(ppid, `#!/bin/sh\necho "$PPID" >> ${parents}\nexec fping "$@"\n`);
    await chmod(ppid, 0o755);
    const prober = createPingProber({ fping: ppid, windowMs: 10, minGapMs: 10 });
    for (let round = 0; round < 2; round++) {
      const results = await Promise.all(['127.0.11.1', '127.0.11.2'].map((address) => prober.probe({ service: 'ping', address, timeoutMs: 1000 })));
      expect(results.every((r) => r.up && r.icmp?.received === 1)).toBe(true);
    }
    const pids = (await readFile(parents, 'utf8')).trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    // One helper, started once, for both batches; not this process.
    expect(new Set(pids).size).toBe(1);
    expect(pids[0]).not.toBe(process.pid);
    expect(await readFile(`/proc/${pids[0]}/cmdline`, 'utf8')).toContain('mamori-ping-helper');
  });

  test('a helper that dies is started again after a backoff, counted and logged; the batch it was running is still answered', async () => {
    const slow = join(dir, 'fping-slow');
    const slowFlag = join(dir, 'slow-flag');
    // Slow while the flag exists: killed while it runs in the helper, quick when run again from here.
    await writeFile(slowFlag, '');
    const slowStarted = join(dir, 'slow-started');
    await writeFile(slow, `#!/bin/sh\nif [ -e ${slowFlag} ]; then touch ${slowStarted}; sleep 3; fi\nexec fping "$@"\n`);
    await chmod(slow, 0o755);
    const warnings: Array<Record<string, unknown>> = [];
    const logger = { warn: (fields: Record<string, unknown>) => warnings.push(fields), info: () => undefined, debug: () => undefined } as unknown as Logger;
    const helper = new PingHelper(pingMany, { logger, backoffMinMs: 4000 });
    const first = await helper.pingMany(['127.0.12.1'], { timeoutMs: 1000, fping: wrapper });
    expect(first.get('127.0.12.1')?.icmp.received).toBe(1);
    const pid = helper.stats().pid as number;
    expect(pid).toBeGreaterThan(0);
    const inFlight = helper.pingMany(['127.0.12.2'], { timeoutMs: 1000, fping: slow });
    // Once the helper's fping is running (asleep): its run again from here must not be slow.
    for (let waited = 0; !existsSync(slowStarted) && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await rm(slowFlag);
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    // Answered from this process once the helper is gone: a real echo, not an error.
    expect((await inFlight).get('127.0.12.2')).toMatchObject({ icmp: { received: 1 } });
    expect(helper.stats()).toMatchObject({ restarts: 1, inlineBatches: 1 });
    expect(warnings[0]).toMatchObject({ pid, signal: 'SIGKILL', restarts: 1, retryInMs: 4000, batchesLost: 1 });
    // Within the backoff: still from here.
    await helper.pingMany(['127.0.12.3'], { timeoutMs: 1000, fping: wrapper });
    expect(helper.stats()).toMatchObject({ inlineBatches: 2, pid: undefined });
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 4200 - Date.now())));
    // After it: a new helper.
    const again = await helper.pingMany(['127.0.12.4'], { timeoutMs: 1000, fping: wrapper });
    expect(again.get('127.0.12.4')?.icmp.received).toBe(1);
    expect(helper.stats().pid).not.toBe(pid);
    expect(helper.stats()).toMatchObject({ restarts: 1, inlineBatches: 2, helperBatches: 2 });
    helper.close();
  });

  test('through the helper, what is not an IP literal never reaches a command; an aborted batch ends at once', async () => {
    const marker = join(dir, 'marker');
    const helper = new PingHelper(pingMany);
    const hostile = [`127.0.0.1; touch ${marker}`, `$(touch ${marker})`, `-S127.0.0.1`];
    const outcomes = await helper.pingMany([...hostile, '127.0.13.1'], { timeoutMs: 1000, fping: wrapper });
    for (const h of hostile) expect(outcomes.get(h)?.failure).toMatchObject({ kind: 'error', message: 'not an IP address' });
    expect(outcomes.get('127.0.13.1')?.icmp.received).toBe(1);
    expect(existsSync(marker)).toBe(false);
    const stuck = join(dir, 'fping-stuck');
    await writeFile(stuck, `#!/bin/sh\nsleep 30\n`);
    await chmod(stuck, 0o755);
    const abort = new AbortController();
    const t0 = performance.now();
    const aborted = helper.pingMany(['127.0.13.2'], { timeoutMs: 5000, fping: stuck, signal: abort.signal });
    setTimeout(() => abort.abort(), 200);
    expect((await aborted).get('127.0.13.2')?.failure?.kind).toBe('error');
    expect(performance.now() - t0).toBeLessThan(3000);
    helper.close();
  });
});
