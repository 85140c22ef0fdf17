/**
 * The soak behind soak.test.ts, in its own process so that it can run with --expose-gc and its
 * handle counts are its own: N probes to a light responder in a child process, heap and open
 * handles measured before and after. Prints one JSON line.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createProberRegistry } from '../../src/probe/registry.ts';
import { responderAddresses } from './light-responder.ts';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.ts';
import { LAB_TARGETS } from '../support/targets.ts';

const total = Number(process.argv[2] ?? 100_000);
const concurrency = Number(process.argv[3] ?? 128);
const octet = Number(process.argv[4] ?? 210);
const port = 2121;
const addresses = responderAddresses(octet, 128);
const gc = (globalThis as { gc?: () => void }).gc;

function handles(): { tcp: number; timers: number; fds: number } {
  const info = process.getActiveResourcesInfo();
  return {
    tcp: info.filter((r) => r.startsWith('TCP')).length,
    timers: info.filter((r) => r === 'Timeout').length,
    fds: readdirSync('/proc/self/fd').length,
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 50));
    gc?.();
  }
}

const responder = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./light-responder.ts', import.meta.url)), String(octet), '128', String(port)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
await new Promise<void>((resolve, reject) => {
  responder.stdout.once('data', () => resolve());
  responder.once('exit', (code) => reject(new Error(`responder exited ${code}`)));
});

const registry = createProberRegistry({ targets: LAB_TARGETS });
const counts = { up: 0, down: 0, kinds: {} as Record<string, number> };
async function run(n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      // Every path, not only the happy one: up (ftp), a wrong reply mid-dialog (smtp gets 221 to
      // EHLO), a wrong first reply (http gets an FTP greeting), and a refused port.
      const address = addresses[i % addresses.length] ?? '127.0.0.1';
      const kind = i % 4;
      const target: ProbeTarget =
        kind === 0 ? { service: 'ftp', address, port, timeoutMs: 10_000 }
        : kind === 1 ? { service: 'smtp', address, port, timeoutMs: 10_000 }
        : kind === 2 ? { service: 'http', address, port, timeoutMs: 10_000 }
        : { service: 'ftp', address, port: port + 1, timeoutMs: 10_000 };
      const r: ProbeResult = await registry.probe(target);
      if (r.up) counts.up++;
      else {
        counts.down++;
        const k = `${r.failure?.kind}/${r.failure?.phase}`;
        counts.kinds[k] = (counts.kinds[k] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

await run(2000); // warm-up: JIT, buffers, lazily created internals
await settle();
const before = { heap: process.memoryUsage().heapUsed, ...handles() };
const t0 = performance.now();
await run(total);
const seconds = (performance.now() - t0) / 1000;
await settle();
const after = { heap: process.memoryUsage().heapUsed, ...handles() };
responder.stdin.end();
responder.kill('SIGTERM');
process.stdout.write(`${JSON.stringify({ total, seconds, rate: total / seconds, gc: gc !== undefined, counts, before, after })}\n`);
process.exit(0);
