/**
 * The quick start's demo (run by scripts/quickstart.sh, as root): starts a demo fleet in the lab
 * (lab id 100), writes its server manifests into demo/manifests and its secrets into secrets/,
 * then runs `mamori run --config demo/mamori.yaml` in the foreground. Ctrl-C (or SIGTERM) stops
 * the daemon by its PID, tears the lab down and removes what the demo wrote, except state/ (the
 * status files, journal and e-mails stay to be read).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type Lab, type LabHostSpec } from '../test/lab/index.ts';
import { fleetServer, writeLabSecrets, writeServerManifests, type FleetServerOptions } from '../test/support/lab-fleet.ts';

export const DEMO_LAB_ID = 100;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = join(ROOT, 'demo', 'mamori.yaml');
const MANIFESTS = join(ROOT, 'demo', 'manifests');
const SERVERS = join(MANIFESTS, 'customers', 'demo', 'servers');
const SECRETS = join(ROOT, 'secrets');
const STATE = join(ROOT, 'state');
const STATE_MARK = '.mamori-demo';

/** The demo fleet: one host per lab variant, each the kind of server the seed's service takes. */
export const DEMO_HOSTS: ReadonlyArray<LabHostSpec & { manifest: Omit<FleetServerOptions, 'customer'>; what: string }> = [
  { name: 'demo-web', variant: 'standard', what: 'CentOS 5 web and mail server on the standard runbooks', manifest: { services: ['ping', 'http', 'ftp', 'ssh', 'smtp', 'pop3', 'imap'], locale: 'ja' } },
  {
    name: 'demo-shop',
    variant: 'passphrase',
    what: 'HTTPS shop whose Apache asks for an SSL pass phrase; repaired by its own runbook (demo-shop-httpd)',
    manifest: { services: ['ping', 'https', 'ssh'], runbooks: { https: 'demo-shop-httpd' }, locale: 'en' },
  },
  { name: 'demo-db', variant: 'legacy-ssh', what: 'old server whose sshd speaks only OpenSSH 4-era algorithms', manifest: { services: ['ping', 'ssh', 'ftp'], locale: 'ja' } },
  { name: 'demo-fw', variant: 'firewall', what: "server whose firewall drops mamori's network on its service ports", manifest: { services: ['ping', 'ssh', 'http'], locale: 'en' } },
];

function say(line: string): void {
  process.stderr.write(`demo: ${line}\n`);
}

/** state/ is the demo's own when it carries the mark; another one is moved aside, never deleted. */
async function freshState(): Promise<void> {
  if (existsSync(STATE) && !existsSync(join(STATE, STATE_MARK)) && readdirSync(STATE).length > 0) {
    const aside = `${STATE}.before-demo-${Date.now()}`;
    const { rename } = await import('node:fs/promises');
    await rename(STATE, aside);
    say(`an existing state/ was moved to ${aside}`);
  }
  await rm(STATE, { recursive: true, force: true });
  await mkdir(STATE, { recursive: true });
  await writeFile(join(STATE, STATE_MARK), 'written by scripts/demo.ts; the next demo empties this folder\n');
}

async function removeGenerated(): Promise<void> {
  await rm(SERVERS, { recursive: true, force: true });
  for (const h of DEMO_HOSTS) for (const suffix of ['login', 'bmc', 'ssl']) await rm(join(SECRETS, `${h.name}-${suffix}`), { force: true });
  if (existsSync(SECRETS) && readdirSync(SECRETS).length === 0) await rm(SECRETS, { recursive: true, force: true });
}

function banner(lab: Lab): string {
  const rows = lab.hosts.map((h) => {
    const spec = DEMO_HOSTS.find((d) => d.name === h.name);
    return `  ${h.name.padEnd(10)} ${h.address.padEnd(14)} ${spec?.what ?? ''}`;
  });
  return [
    '',
    `The demo fleet (lab ${lab.id}, ${lab.subnet}):`,
    ...rows,
    '',
    'From another shell, break something and watch it heal here:',
    '  npm run lab -- break demo-web httpd     # httpd killed: restarted over SSH, verified, one e-mail',
    '  npm run lab -- break demo-web sshd      # sshd killed: restarted from the console',
    '  npm run lab -- power demo-db off        # powered off: console looked at, powered on through the BMC',
    '  npm run lab -- pull demo-web            # link pulled: alive on the console, so escalated, no power action',
    '  npm run lab -- plug demo-web            # link back: it recovers by itself',
    'Watch: state/status/*.yaml, state/outbox/sent/*.eml, curl -s 127.0.0.1:9750/api/status,',
    '       curl -s 127.0.0.1:9750/metrics, the status page http://127.0.0.1:9750/',
    'Ctrl-C stops mamori and removes the lab.',
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    say('needs root: the demo fleet runs in network namespaces (ip netns), with iptables and a simulated BMC. Run: sudo bash scripts/quickstart.sh');
    return 2;
  }
  let lab: Lab | undefined;
  let daemon: ChildProcess | undefined;
  let stopping = false;
  let exitCode = 0;
  let wake: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping mamori and the lab`);
    // A Ctrl-C reaches the daemon from the terminal too; a SIGTERM to this process does not.
    if (daemon?.pid !== undefined && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGTERM');
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    say(`starting the demo fleet in lab ${DEMO_LAB_ID}`);
    lab = await startLab({ id: DEMO_LAB_ID, hosts: DEMO_HOSTS.map((h) => ({ name: h.name, variant: h.variant ?? 'standard' })) });
    const l = lab;
    if (stopping) return 130;
    const docs = DEMO_HOSTS.map((spec) => fleetServer(l, l.host(spec.name), { customer: 'demo', ...spec.manifest }));
    await rm(SERVERS, { recursive: true, force: true });
    await writeServerManifests(MANIFESTS, docs, 'Written by the quick start (scripts/demo.ts) for the lab host of the same name; removed when it stops.');
    const names = await writeLabSecrets(SECRETS, l);
    say(`wrote ${docs.length} server manifests into demo/manifests/customers/demo/servers/ and ${names.length} secrets into secrets/ (0700/0600)`);
    await freshState();
    process.stderr.write(banner(l));
    if (stopping) return 130;
    daemon = spawn(process.execPath, [join(ROOT, 'bin', 'mamori.js'), 'run', '--config', CONFIG], { cwd: ROOT, stdio: 'inherit' });
    const child = daemon;
    const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
    const first = await Promise.race([exited.then((code) => ({ code })), stopRequested.then(() => undefined)]);
    if (first !== undefined) {
      say(`mamori exited with ${first.code}`);
      exitCode = first.code === 0 ? 0 : 1;
    } else {
      // Bounded: the daemon's own stop deadline is 10 s plus flushing; past 30 s it is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      say(`mamori stopped (exit ${code})`);
    }
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    exitCode = 1;
  } finally {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    if (lab) {
      say('removing the lab');
      await lab.stop().catch((err: unknown) => say(`lab teardown: ${String(err)}`));
    }
    await removeGenerated().catch(() => undefined);
    say('done; status files, journal and e-mails stay in state/');
  }
  return exitCode;
}

process.exitCode = await main();
