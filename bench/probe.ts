/**
 * Probe throughput and CPU, mamori against its peers on the same targets at the same concurrency:
 * monitoring-plugins (a process per check) and prometheus-blackbox-exporter's /probe driven by wrk
 * (keep-alive). Targets: a lab host's nginx, exim and sshd (lab id 6, started and stopped here), and
 * a light banner responder on many loopback addresses (its own process).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProberRegistry } from '../src/probe/registry.ts';
import type { ProbeTarget, ServiceName } from '../src/probe/types.ts';
import { responderAddresses } from '../test/probe/light-responder.ts';
import { generate } from 'selfsigned';
import { startLab, type Lab } from '../test/lab/index.ts';
import { LAB_TARGETS } from '../test/support/targets.ts';

const LAB_ID = 6;
const DURATION_S = Number(process.env.PROBE_BENCH_SECONDS ?? 6);
/**
 * Each tool runs in ROUNDS slices taking turns (mamori, blackbox, plugins, mamori, …), so that a
 * machine whose load drifts (a shared one) weighs on every tool alike.
 */
const ROUNDS = Number(process.env.PROBE_BENCH_ROUNDS ?? 3);
// wrk takes whole seconds.
const SLICE_S = Math.max(1, Math.round(DURATION_S / ROUNDS));
const PLUGINS = '/usr/lib/nagios/plugins';
const BLACKBOX = '/usr/bin/prometheus-blackbox-exporter';
const BLACKBOX_ADDR = '127.0.0.1:9116';
const RESPONDER_PORT = 2121;
const RESPONDER_OCTET = 220;
const RESPONDER_HOSTS = 200;
const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s on Linux

interface Figure {
  target: string;
  tool: string;
  concurrency: number;
  probes: number;
  ok: number;
  seconds: number;
  cpuMs?: number;
}

/** CPU (user+sys, ms) of a process, or of this process's waited-for children. */
async function procCpuMs(pid: number | 'self', children = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17
  const at = (n: number): number => Number(fields[n - 3]);
  return ((children ? at(16) + at(17) : at(14) + at(15)) * 1000) / TICKS;
}

async function mamoriLoad(target: string, concurrency: number, next: (i: number) => ProbeTarget): Promise<Figure> {
  const registry = createProberRegistry({ targets: LAB_TARGETS });
  let i = 0;
  let ok = 0;
  let probes = 0;
  const warm = performance.now() + 200;
  while (performance.now() < warm) await Promise.all(Array.from({ length: concurrency }, () => registry.probe(next(i++))));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + SLICE_S * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = await registry.probe(next(i++));
        probes++;
        if (r.up) ok++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { target, tool: 'mamori', concurrency, probes, ok, seconds, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function exec(file: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

async function pluginLoad(target: string, concurrency: number, plugin: string, args: (i: number) => string[]): Promise<Figure> {
  let i = 0;
  let ok = 0;
  let probes = 0;
  const cpu0 = await procCpuMs('self', true);
  const t0 = performance.now();
  const end = t0 + SLICE_S * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = await exec(`${PLUGINS}/${plugin}`, args(i++), 15_000);
        probes++;
        if (r.code === 0 || r.code === 1) ok++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { target, tool: `plugins ${plugin}`, concurrency, probes, ok, seconds, cpuMs: (await procCpuMs('self', true)) - cpu0 };
}

const WRK_LUA = `
local targets = {}
for t in string.gmatch(os.getenv("BB_TARGETS"), "[^,]+") do table.insert(targets, t) end
local module = os.getenv("BB_MODULE")
local n = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) failed = 0; n = math.random(#targets) end
function request()
  n = n % #targets + 1
  return wrk.format("GET", "/probe?module=" .. module .. "&target=" .. targets[n])
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, "\\nprobe_success 1") then failed = failed + 1 end
end
function done(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("failed") end
  io.write(string.format("RESULT %d %d\\n", summary.requests, f))
end
`;

async function blackboxLoad(bb: ChildProcess, dir: string, target: string, concurrency: number, module: string, targets: string[]): Promise<Figure> {
  const lua = join(dir, 'probe.lua');
  await writeFile(lua, WRK_LUA);
  const pid = bb.pid as number;
  const env = { ...process.env, BB_TARGETS: targets.join(','), BB_MODULE: module };
  // Warm up (connections, Go runtime) outside the measurement.
  await new Promise<void>((resolve) => execFile('wrk', ['-t2', `-c${concurrency}`, '-d0.3s', '-s', lua, `http://${BLACKBOX_ADDR}`], { env }, () => resolve()));
  const cpu0 = await procCpuMs(pid);
  const t0 = performance.now();
  const out = await new Promise<string>((resolve) =>
    execFile('wrk', ['-t2', `-c${concurrency}`, `-d${SLICE_S}s`, '--timeout', '10s', '-s', lua, `http://${BLACKBOX_ADDR}`], { env }, (_e, stdout) => resolve(stdout)),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = (await procCpuMs(pid)) - cpu0;
  const m = /RESULT (\d+) (\d+)/.exec(out);
  if (m === null) throw new Error(`wrk gave no result: ${out.slice(0, 300)}`);
  const probes = Number(m?.[1] ?? 0);
  return { target, tool: 'blackbox_exporter', concurrency, probes, ok: probes - Number(m?.[2] ?? probes), seconds: Math.min(seconds, SLICE_S + 0.2), cpuMs };
}

const BLACKBOX_CONFIG = `modules:
  http_head:
    prober: http
    timeout: 5s
    http:
      method: HEAD
      preferred_ip_protocol: ip4
  smtp_banner:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^220 "
        - send: "QUIT\\r"
  ftp_banner:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^220 "
        - send: "QUIT\\r"
  smtp_starttls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls_config:
        insecure_skip_verify: true
      query_response:
        - expect: "^220 "
        - send: "EHLO prober\r"
        - expect: "^250-STARTTLS"
        - send: "STARTTLS\r"
        - expect: "^220"
        - starttls: true
        - send: "EHLO prober\r"
        - expect: "^250 "
        - send: "QUIT\r"
  ssh_banner:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^SSH-2.0-"
        - send: "SSH-2.0-blackbox-ssh-check\\r"
`;

async function startBlackbox(dir: string): Promise<ChildProcess> {
  const config = join(dir, 'blackbox.yml');
  await writeFile(config, BLACKBOX_CONFIG);
  const bb = spawn(BLACKBOX, [`--config.file=${config}`, `--web.listen-address=${BLACKBOX_ADDR}`, '--log.level=error'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const healthy = await fetch(`http://${BLACKBOX_ADDR}/-/healthy`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
    if (healthy) return bb;
    await new Promise((res) => setTimeout(res, 100));
  }
  bb.kill('SIGKILL');
  throw new Error('blackbox_exporter did not start');
}

async function startResponder(): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('../test/probe/light-responder.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(RESPONDER_OCTET), String(RESPONDER_HOSTS), String(RESPONDER_PORT)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`light responder exited ${code}`)));
  });
  return child;
}

/** Run the tools of one target in turns, ROUNDS times, and add up each tool's slices. */
async function interleaved(runs: Array<() => Promise<Figure>>): Promise<Figure[]> {
  const sums: Figure[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, once] of runs.entries()) {
      const f = await once();
      const sum = sums[k];
      if (sum === undefined) sums[k] = { ...f };
      else {
        sum.probes += f.probes;
        sum.ok += f.ok;
        sum.seconds += f.seconds;
        sum.cpuMs = (sum.cpuMs ?? 0) + (f.cpuMs ?? 0);
      }
    }
  }
  return sums;
}

function table(figures: Figure[]): string {
  const head = ['target', 'tool', 'conc', 'probes/s', 'ok %', 'CPU ms/probe', 'probes/CPU-s'];
  const rows = figures.map((f) => [
    f.target,
    f.tool,
    String(f.concurrency),
    (f.probes / f.seconds).toFixed(0),
    f.probes === 0 ? '-' : ((100 * f.ok) / f.probes).toFixed(1),
    f.cpuMs === undefined || f.probes === 0 ? '-' : (f.cpuMs / f.probes).toFixed(3),
    // What one core would carry if this tool had it to itself (the machine may be shared).
    f.cpuMs === undefined || f.cpuMs === 0 ? '-' : ((f.probes * 1000) / f.cpuMs).toFixed(0),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  return [head, ...rows].map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')).join('\n');
}

function ratio(figures: Figure[], target: string, a: string, b: string): string {
  const fa = figures.find((f) => f.target === target && f.tool === a);
  const fb = figures.find((f) => f.target === target && f.tool.startsWith(b));
  if (fa === undefined || fb === undefined || fb.probes === 0) return '-';
  return ((fa.probes / fa.seconds) / (fb.probes / fb.seconds)).toFixed(2);
}

export async function run(): Promise<void> {
  const only = new Set((process.env.PROBE_BENCH ?? 'light,http,smtp,starttls,ssh').split(','));
  const dir = await mkdtemp(join(tmpdir(), 'mamori-bench-probe-'));
  const figures: Figure[] = [];
  let lab: Lab | undefined;
  let bb: ChildProcess | undefined;
  let responder: ChildProcess | undefined;
  const responderCpu = { ms: 0, probes: 0 };
  try {
    bb = await startBlackbox(dir);

    if (only.has('light')) {
      responder = await startResponder();
      const addrs = responderAddresses(RESPONDER_OCTET, RESPONDER_HOSTS);
      const light = `light responder x${RESPONDER_HOSTS} (ftp banner)`;
      const c = Number(process.env.PROBE_BENCH_LIGHT_CONCURRENCY ?? 128);
      const box = bb;
      figures.push(
        ...(await interleaved([
          async () => {
            // The responder's own CPU while mamori drives it: is the peer the ceiling?
            const pid = responder?.pid as number;
            const r0 = await procCpuMs(pid);
            const f = await mamoriLoad(light, c, (i) => ({ service: 'ftp', address: addrs[i % addrs.length] as string, port: RESPONDER_PORT, timeoutMs: 5000 }));
            responderCpu.ms += (await procCpuMs(pid)) - r0;
            responderCpu.probes += f.probes;
            return f;
          },
          () => blackboxLoad(box, dir, light, c, 'ftp_banner', addrs.map((a) => `${a}:${RESPONDER_PORT}`)),
          () => pluginLoad(light, c, 'check_ftp', (i) => ['-H', addrs[i % addrs.length] as string, '-p', String(RESPONDER_PORT), '-t', '5']),
        ])),
      );
      responder.stdin?.end();
      responder.kill('SIGTERM');
      responder = undefined;
    }

    if (only.has('http') || only.has('smtp') || only.has('starttls') || only.has('ssh')) {
      // exim and dovecot with TLS (a self-signed certificate made now): STARTTLS rows beside the banner ones.
      const pems = await generate([{ name: 'commonName', value: 'bench.lab.test' }], { keyType: 'rsa', keySize: 2048, algorithm: 'sha256', notAfterDate: new Date(Date.now() + 30 * 86_400_000) });
      lab = await startLab({ id: LAB_ID, hosts: [{ name: 'bench', mailTls: { cert: pems.cert, key: pems.private } }] });
      const address = lab.hosts[0]?.address as string;
      const lab1 = (service: ServiceName) => (): ProbeTarget => ({ service, address, timeoutMs: 5000 });
      const box = bb;
      if (only.has('http')) {
        const t = 'lab nginx (HTTP HEAD)';
        figures.push(
          ...(await interleaved([
            () => mamoriLoad(t, 64, lab1('http')),
            () => blackboxLoad(box, dir, t, 64, 'http_head', [`http://${address}/`]),
            () => pluginLoad(t, 64, 'check_http', () => ['-I', address, '-j', 'HEAD', '-t', '5']),
          ])),
        );
      }
      if (only.has('smtp')) {
        const t = 'lab exim (SMTP banner)';
        figures.push(
          ...(await interleaved([
            () => mamoriLoad(t, 16, lab1('smtp')),
            () => blackboxLoad(box, dir, t, 16, 'smtp_banner', [`${address}:25`]),
            () => pluginLoad(t, 16, 'check_smtp', () => ['-H', address, '-t', '5']),
          ])),
        );
      }
      if (only.has('starttls')) {
        // The same conversation for both: banner, EHLO, STARTTLS, handshake, EHLO inside TLS, QUIT.
        const t = 'lab exim (SMTP STARTTLS)';
        figures.push(
          ...(await interleaved([
            () => mamoriLoad(t, 16, (): ProbeTarget => ({ service: 'smtp', address, timeoutMs: 5000, starttls: true })),
            () => blackboxLoad(box, dir, t, 16, 'smtp_starttls', [`${address}:25`]),
            () => pluginLoad(t, 16, 'check_smtp', () => ['-H', address, '-S', '-t', '5']),
          ])),
        );
      }
      if (only.has('ssh')) {
        const t = 'lab sshd (SSH banner)';
        figures.push(
          ...(await interleaved([
            () => mamoriLoad(t, 16, lab1('ssh')),
            () => blackboxLoad(box, dir, t, 16, 'ssh_banner', [`${address}:22`]),
            () => pluginLoad(t, 16, 'check_ssh', () => ['-H', address, '-t', '5']),
          ])),
        );
      }
    }
  } finally {
    responder?.kill('SIGTERM');
    bb?.kill('SIGTERM');
    await lab?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  process.stdout.write(`${table(figures)}\nload average during the run: ${load} on ${availableParallelism()} cores\n`);
  if (responderCpu.probes > 0) {
    const per = responderCpu.ms / responderCpu.probes;
    process.stdout.write(`light responder's own CPU under mamori: ${per.toFixed(3)} ms/probe (one core carries ${(1000 / per).toFixed(0)}/s)\n`);
  }
  const light = `light responder x${RESPONDER_HOSTS} (ftp banner)`;
  process.stdout.write(
    `mamori / blackbox_exporter: HTTP ${ratio(figures, 'lab nginx (HTTP HEAD)', 'mamori', 'blackbox')}x, light ${ratio(figures, light, 'mamori', 'blackbox')}x; ` +
      `mamori / monitoring-plugins: light ${ratio(figures, light, 'mamori', 'plugins')}x, HTTP ${ratio(figures, 'lab nginx (HTTP HEAD)', 'mamori', 'plugins')}x\n`,
  );
}
