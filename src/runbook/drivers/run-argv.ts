/**
 * Runs an operator's program with execFile semantics: an argv, no shell, so no manifest
 * value can become shell syntax. Its own process group, killed whole at the deadline.
 * Output bounded and scrubbed, as SSH output is.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { BoundedOutput, createStreamScrubber } from '../scrub.ts';

export interface ArgvResult {
  exitCode: number | null;
  /** stdout and stderr as they came, scrubbed and bounded. */
  output: string;
  timedOut: boolean;
  /** The program could not be started (ENOENT, EACCES). */
  spawnError?: string;
  durationMs: number;
}

export interface ArgvOptions {
  timeoutMs: number;
  /** Added to a minimal environment (PATH, LANG): passwords travel here, never in argv. */
  env?: Record<string, string>;
  secrets?: readonly string[];
  outputLimitBytes?: number;
  signal?: AbortSignal;
}

export function runArgv(argv: readonly string[], opts: ArgvOptions): Promise<ArgvResult> {
  const started = Date.now();
  const [file, ...args] = argv;
  return new Promise((resolve) => {
    if (file === undefined) {
      resolve({ exitCode: null, output: '', timedOut: false, spawnError: 'empty command', durationMs: 0 });
      return;
    }
    const child = spawn(file, args, {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const kept = new BoundedOutput(opts.outputLimitBytes ?? 64 * 1024);
    const scrubber = createStreamScrubber(opts.secrets ?? []);
    const out = new StringDecoder('utf8');
    const err = new StringDecoder('utf8');
    let timedOut = false;
    let spawnError: string | undefined;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    const onAbort = (): void => {
      timedOut = true;
      killGroup();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => kept.append(scrubber.write(out.write(d))));
    child.stderr.on('data', (d: Buffer) => kept.append(scrubber.write(err.write(d))));
    child.on('error', (e) => {
      spawnError = e.message;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      kept.append(scrubber.write(out.end() + err.end()));
      kept.append(scrubber.end());
      const result: ArgvResult = { exitCode: code, output: kept.toString(), timedOut, durationMs: Date.now() - started };
      if (spawnError !== undefined) result.spawnError = spawnError;
      resolve(result);
    });
  });
}
