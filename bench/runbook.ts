/**
 * The executor's costs against the lab (lab id 7, the executor's own): a killed httpd restarted
 * end to end (log in, OS check, look, restart, verify from outside), the same with the SSL pass
 * phrase answered on a PTY, sshd restarted from the console, a powered-off host powered on through
 * its BMC and verified (ping + SSH), a 50 MB output flood read and bounded, and the streaming
 * scrubber's throughput. Every loop is bounded.
 */
import { createExecutor } from '../src/runbook/executor.ts';
import type { Transcript } from '../src/runbook/execution.ts';
import type { ServiceName } from '../src/manifest/types.ts';
import { createStreamScrubber } from '../src/runbook/scrub.ts';
import { startLab, type Lab } from '../test/lab/index.ts';
import { labProfiles, labSecrets, labServer, outsideProbe, resolverOf, standardRunbook } from '../test/runbook/executor-lab.ts';
import { LAB_TARGETS } from '../test/support/targets.ts';

const ROUNDS = 5;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

async function timed(rounds: number, prepare: () => Promise<unknown>, once: () => Promise<Transcript>, expect: Transcript['verdict']): Promise<{ median: number; max: number; verdicts: string[] }> {
  const ms: number[] = [];
  const verdicts: string[] = [];
  for (let i = 0; i < rounds; i += 1) {
    await prepare();
    const t0 = performance.now();
    const t = await once();
    ms.push(performance.now() - t0);
    verdicts.push(t.verdict);
  }
  ms.sort((a, b) => a - b);
  if (verdicts.some((v) => v !== expect)) console.log(JSON.stringify({ warning: 'unexpected verdicts', verdicts }));
  return { median: Math.round(pct(ms, 50)), max: Math.round(ms[ms.length - 1] ?? NaN), verdicts };
}

export async function run(): Promise<void> {
  let lab: Lab | undefined;
  try {
    lab = await startLab({ id: 7, hosts: [{ name: 'web' }, { name: 'pp', variant: 'passphrase' }] });
    const l = lab;
    const secrets = await labSecrets(l);
    const executor = createExecutor({ targets: LAB_TARGETS, resolveSecret: resolverOf(secrets), consoleProfiles: labProfiles(l), verifyIntervalMs: 250 });
    const execute = async (host: string, service: ServiceName, runbook: string, profile = 'lab-ipmi'): Promise<Transcript> => {
      const server = labServer(l, l.host(host), { consoleProfile: profile, withSslSecret: host === 'pp' });
      return executor.execute({ server, runbook: await standardRunbook(runbook, server, service), probe: outsideProbe(server) });
    };

    const httpd = await timed(ROUNDS, () => l.breakService('web', 'httpd'), () => execute('web', 'http', 'std-httpd-el-sysv'), 'Recovered');
    console.log(JSON.stringify({ figure: 'httpd restart runbook end to end (break excluded: from execute to Recovered)', rounds: ROUNDS, medianMs: httpd.median, maxMs: httpd.max }));

    const pp = await timed(ROUNDS, () => l.breakService('pp', 'httpd'), () => execute('pp', 'https', 'std-httpd-el-sysv'), 'Recovered');
    console.log(JSON.stringify({ figure: 'pass-phrase httpd restart, answered on a PTY', rounds: ROUNDS, medianMs: pp.median, maxMs: pp.max }));

    const sshd = await timed(ROUNDS, () => l.breakService('web', 'sshd'), () => execute('web', 'ssh', 'std-sshd-el-sysv', 'lab-console'), 'Recovered');
    console.log(JSON.stringify({ figure: 'sshd restarted from the console, verified over SSH', rounds: ROUNDS, medianMs: sshd.median, maxMs: sshd.max }));

    const power = await timed(ROUNDS, () => l.power('web', 'off'), () => execute('web', 'ping', 'std-ping'), 'Recovered');
    console.log(JSON.stringify({ figure: 'powered off -> console look -> BMC power on -> ping and SSH verified', rounds: ROUNDS, medianMs: power.median, maxMs: power.max }));
    await l.waitReady('web');

    const server = labServer(l, l.host('web'));
    const floodRunbook = {
      runbook: 'flood', origin: 'custom' as const, server: 'web', service: 'http' as const, address: server.spec.address, deadlineMs: 120_000,
      steps: [{ kind: 'run' as const, id: 'flood', command: 'yes | head -c 50000000', sudo: false, onFailure: 'stop' as const, deadlineMs: 110_000 }],
    };
    const t0 = performance.now();
    const flood = await executor.execute({ server, runbook: floodRunbook, probe: outsideProbe(server) });
    const floodMs = performance.now() - t0;
    console.log(JSON.stringify({ figure: '50 MB output flood over SSH, kept bounded', ms: Math.round(floodMs), mbPerSecond: +(50 / (floodMs / 1000)).toFixed(1), kept: flood.steps[0]?.output?.length }));
  } finally {
    await lab?.stop();
  }

  const chunk = 'y\n'.repeat(16 * 1024);
  const scrubber = createStreamScrubber(['pass-phrase-of-the-key', 'hunter2-but-longer', 'admin-bmc-password']);
  const t1 = performance.now();
  let n = 0;
  for (let i = 0; i < 1600; i += 1) n += scrubber.write(chunk).length;
  n += scrubber.end().length;
  const ms = performance.now() - t1;
  console.log(JSON.stringify({ figure: 'streaming scrubber, 3 secrets, 32 KiB chunks', mb: +(n / 1e6).toFixed(1), mbPerSecond: Math.round(n / 1e6 / (ms / 1000)) }));
}
