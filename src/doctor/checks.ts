/**
 * `mamori doctor`: the host checked before the first run, one line per check — ok, or what is
 * wrong and what to do. Each check is bounded in time and touches nothing: it reads, connects,
 * asks; it creates no folder and writes no file outside a temporary folder of its own.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, lstat, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MamoriConfig } from '../config/types.ts';
import { isMamoriError } from '../errors.ts';
import { resolveSecret } from '../secrets/resolve-secret.ts';
import { credentialsFromSecret, gitCredentialEnv, sanitizeMessage, sanitizeUrl } from '../source/git-credentials.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  /** What was found. */
  message: string;
  /** What to do, when not ok. */
  fix?: string;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: NodeJS.ErrnoException;
}

function run(file: string, args: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', env: env ?? process.env, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      const e = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, stdout, stderr, ...(e !== null ? { error: e } : {}) });
    });
  });
}

const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
const warn = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'warn', message, fix });
const fail = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'fail', message, fix });

/** fping (ICMP for every server) and ipmitool (when a console profile drives a BMC) on PATH. */
export async function checkTools(config: MamoriConfig): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const fping = await run('fping', ['-v'], 5000);
  out.push(
    fping.error?.code === 'ENOENT'
      ? fail('fping', 'fping is not installed', 'apt-get install fping (ping probes of every server use it)')
      : ok('fping', (fping.stdout + fping.stderr).trim().split('\n')[0] ?? 'fping'),
  );
  const needsIpmi = Object.values(config.consoleProfiles).some((p) => p.driver === 'ipmi');
  const ipmi = await run('ipmitool', ['-V'], 5000);
  if (ipmi.error?.code === 'ENOENT') {
    out.push(needsIpmi ? fail('ipmitool', 'ipmitool is not installed, and a console profile uses the ipmi driver', 'apt-get install ipmitool') : ok('ipmitool', 'not installed; no console profile uses the ipmi driver'));
  } else out.push(ok('ipmitool', (ipmi.stdout + ipmi.stderr).trim().split('\n')[0] ?? 'ipmitool'));
  return out;
}

/** Whether this process holds CAP_NET_RAW (bit 13 of the effective set). */
async function hasNetRaw(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex !== undefined && (BigInt(`0x${hex}`) & (1n << 13n)) !== 0n;
}

/** ICMP: fping must open its raw socket, through its file capability, setuid, or the daemon's CAP_NET_RAW. */
export async function checkIcmp(): Promise<CheckResult> {
  const r = await run('fping', ['-c', '1', '-t', '500', '-q', '127.0.0.1'], 5000);
  const cap = (await hasNetRaw()) ? 'this process holds CAP_NET_RAW' : 'this process has no CAP_NET_RAW';
  if (r.error?.code === 'ENOENT') return fail('icmp', 'no fping to send ICMP with', 'apt-get install fping');
  if (r.code === 0) return ok('icmp', `fping sends ICMP echo (127.0.0.1 answered; ${cap})`);
  const said = (r.stderr || r.stdout).trim().split('\n')[0] ?? '';
  return fail(
    'icmp',
    `fping could not ping 127.0.0.1: ${said} (${cap})`,
    'give the daemon CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW, as in packaging/systemd/mamori.service) or fping the capability: setcap cap_net_raw+ep "$(command -v fping)"',
  );
}

function modeOf(n: number): string {
  return (n & 0o777).toString(8).padStart(3, '0');
}

/** The state folder: ours, writable, not writable by others; or, missing, a parent we may create it in. */
export async function checkStateDir(dir: string, uid: number): Promise<CheckResult> {
  const st = await stat(dir).catch(() => undefined);
  if (st === undefined) {
    const parent = dirname(dir);
    const writable = await access(parent, constants.W_OK).then(
      () => true,
      () => false,
    );
    return writable ? ok('state folder', `${dir} does not exist yet; it will be created at the first start`) : fail('state folder', `${dir} does not exist and ${parent} is not writable`, `mkdir -p ${dir} && chown <the daemon's user> ${dir} && chmod 750 ${dir}`);
  }
  if (!st.isDirectory()) return fail('state folder', `${dir} is not a folder`, `remove it, or point stateDir elsewhere`);
  if ((st.mode & 0o002) !== 0) return fail('state folder', `${dir} is writable by every user (mode ${modeOf(st.mode)})`, `chmod o-w ${dir}`);
  const writable = await access(dir, constants.W_OK).then(
    () => true,
    () => false,
  );
  if (!writable) return fail('state folder', `${dir} is not writable by uid ${uid} (owner ${st.uid}, mode ${modeOf(st.mode)})`, `chown <the daemon's user> ${dir}`);
  if (st.uid !== uid) return warn('state folder', `${dir} is writable but owned by uid ${st.uid}, not this user (${uid})`, `chown -R <the daemon's user> ${dir}`);
  return ok('state folder', `${dir}: owner ${st.uid}, mode ${modeOf(st.mode)}, writable`);
}

/** The secrets folder: 0700 and ours, its files not readable by others. */
export async function checkSecretsDir(dir: string, uid: number): Promise<CheckResult> {
  const st = await stat(dir).catch(() => undefined);
  if (st === undefined) return warn('secrets folder', `${dir} does not exist: secrets can come only from MAMORI_SECRET_* variables`, `mkdir -m 700 ${dir} and install each secret as a file (0600)`);
  if ((st.mode & 0o077) !== 0) return fail('secrets folder', `${dir} is readable by other users (mode ${modeOf(st.mode)}): mamori refuses to start`, `chmod 700 ${dir}`);
  if (st.uid !== uid) return fail('secrets folder', `${dir} is owned by uid ${st.uid}, not this user (${uid})`, `chown -R <the daemon's user> ${dir}`);
  const open: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const f = await lstat(join(dir, name)).catch(() => undefined);
    if (f?.isFile() === true && (f.mode & 0o077) !== 0) open.push(name);
  }
  if (open.length > 0) return fail('secrets folder', `${open.length} secret file(s) readable by other users: ${open.slice(0, 5).join(', ')}`, `chmod 600 ${dir}/*`);
  return ok('secrets folder', `${dir}: owner ${st.uid}, mode ${modeOf(st.mode)}`);
}

/** Every secret the config itself names resolves (the manifests' secrets: `mamori check-access`). */
export async function checkConfigSecrets(config: MamoriConfig): Promise<CheckResult> {
  const refs: string[] = [];
  if (config.source.type === 'git' && config.source.credentials) refs.push(config.source.credentials.secretRef);
  if (config.http.token) refs.push(config.http.token.secretRef);
  if (config.http.webhookSecret) refs.push(config.http.webhookSecret.secretRef);
  if (config.mail.smtp?.auth) refs.push(config.mail.smtp.auth.secretRef);
  for (const w of config.alerting.webhooks) {
    refs.push(w.secret.secretRef);
    if (w.urlSecret) refs.push(w.urlSecret.secretRef);
  }
  if (refs.length === 0) return ok('config secrets', 'the config names no secret');
  const missing: string[] = [];
  for (const ref of refs) {
    try {
      await resolveSecret(ref, config);
    } catch (err) {
      if (!isMamoriError(err)) throw err;
      missing.push(ref);
    }
  }
  return missing.length === 0
    ? ok('config secrets', `${refs.length} resolve: ${refs.join(', ')}`)
    : fail('config secrets', `missing: ${missing.join(', ')}`, `install each as a file in ${config.secretsDir} (0600), or set MAMORI_SECRET_<NAME>`);
}

/** The SMTP relay answers with its 220 greeting. */
export async function checkSmtp(config: MamoriConfig, timeoutMs = 5000): Promise<CheckResult> {
  const smtp = config.mail.smtp;
  if (!smtp) return ok('smtp relay', `none configured: e-mails are written as .eml files into ${join(config.stateDir, 'outbox', 'sent')}`);
  const where = `${smtp.host}:${smtp.port}`;
  const said = await new Promise<string | Error>((resolve) => {
    const socket = connect({ host: smtp.host, port: smtp.port });
    let text = '';
    const done = (v: string | Error): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(new Error(`no greeting within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) {
        socket.write('QUIT\r\n');
        done(text.split('\n')[0]?.trim() ?? '');
      }
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error('closed before its greeting')));
  });
  if (said instanceof Error) return fail('smtp relay', `${where}: ${said.message}`, `check mail.smtp.host and port, and that this host may connect to the relay (firewall)`);
  if (!said.startsWith('220')) return fail('smtp relay', `${where} greeted "${said.slice(0, 120)}"`, 'the relay refuses this host: ask its operator to accept it');
  return ok('smtp relay', `${where}: ${said.slice(0, 120)}`);
}

/** The manifests: a git remote that answers ls-remote with the configured ref, or a readable folder. */
export async function checkSource(config: MamoriConfig, timeoutMs = 20_000): Promise<CheckResult> {
  const s = config.source;
  if (s.type === 'folder') {
    const readable = await access(s.path, constants.R_OK | constants.X_OK).then(
      () => true,
      () => false,
    );
    return readable ? ok('manifests', `folder ${s.path}`) : fail('manifests', `folder ${s.path} is missing or not readable`, `create it, or set source.path`);
  }
  const url = sanitizeUrl(s.url);
  const tmp = await mkdtemp(join(tmpdir(), 'mamori-doctor-'));
  try {
    let credentials;
    if (s.credentials) {
      try {
        credentials = credentialsFromSecret(await resolveSecret(s.credentials.secretRef, config));
      } catch (err) {
        if (!isMamoriError(err)) throw err;
        return fail('git remote', `${url}: its credentials ${s.credentials.secretRef} do not resolve`, `install the secret ${s.credentials.secretRef} in ${config.secretsDir}`);
      }
    }
    const env = { ...process.env, ...(await gitCredentialEnv(tmp, credentials)) };
    const r = await run('git', ['ls-remote', '--', s.url, s.ref], timeoutMs, env);
    if (r.code !== 0) return fail('git remote', `${url}: ${sanitizeMessage((r.stderr || r.error?.message || 'git ls-remote failed').trim().split('\n').pop() ?? '')}`, 'check source.url and its credentials (a deploy key with read access)');
    const sha = r.stdout.trim().split(/\s/)[0];
    if (!sha) return fail('git remote', `${url} is readable but has no ref ${s.ref}`, `push ${s.ref}, or set source.ref`);
    return ok('git remote', `${url} ${s.ref} at ${sha.slice(0, 12)}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The clock: journal times, status times and the monthly report count on it. */
export async function checkClock(): Promise<CheckResult> {
  const td = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], 5000);
  if (td.code === 0) {
    return td.stdout.trim() === 'yes'
      ? ok('clock', 'synchronised (timedatectl)')
      : fail('clock', 'not synchronised (timedatectl NTPSynchronized=no)', 'enable time synchronisation: timedatectl set-ntp true (systemd-timesyncd), or install chrony');
  }
  const chrony = await run('chronyc', ['-n', 'tracking'], 5000);
  if (chrony.code === 0) {
    const leap = /^Leap status\s*:\s*(.+)$/m.exec(chrony.stdout)?.[1]?.trim();
    return leap === 'Normal' ? ok('clock', 'synchronised (chronyc: leap status Normal)') : fail('clock', `chrony is not synchronised (leap status ${leap ?? 'unknown'})`, 'check chronyc sources');
  }
  return warn('clock', 'cannot tell whether the clock is synchronised (no timedatectl answer, no chronyc)', 'run a time synchronisation daemon (systemd-timesyncd or chrony)');
}

/** etcd, when the config names endpoints: each answers /health. */
export async function checkEtcd(endpoints: readonly string[], timeoutMs = 5000): Promise<CheckResult> {
  const bad: string[] = [];
  for (const e of endpoints) {
    try {
      const res = await fetch(new URL('/health', e), { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json().catch(() => ({}))) as { health?: unknown };
      if (!res.ok || String(body.health) !== 'true') bad.push(`${e} (HTTP ${res.status}, health ${String(body.health)})`);
    } catch (err) {
      bad.push(`${e} (${(err as Error).message})`);
    }
  }
  return bad.length === 0 ? ok('etcd', `${endpoints.length} endpoint(s) healthy`) : fail('etcd', `not healthy: ${bad.join('; ')}`, 'check the etcd cluster and that this host may reach its client port');
}

/** Every check, in the order an operator fixes them. */
export async function runDoctor(config: MamoriConfig, uid: number = process.getuid?.() ?? 0): Promise<CheckResult[]> {
  const results: CheckResult[] = [ok('node', `node ${process.versions.node}`), ...(await checkTools(config)), await checkIcmp()];
  results.push(await checkStateDir(config.stateDir, uid), await checkSecretsDir(config.secretsDir, uid), await checkConfigSecrets(config));
  results.push(await checkSource(config), await checkSmtp(config), await checkClock());
  // Replicas keep their lease in etcd (config cluster).
  if (config.cluster !== undefined) results.push(await checkEtcd(config.cluster.endpoints));
  return results;
}
