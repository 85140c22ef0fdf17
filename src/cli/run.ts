/**
 * `mamori run`: the long-lived daemon. Signals: SIGTERM/SIGINT stop it (in-flight runbooks get
 * --stop-deadline to reach a safe point, the rest are journaled interrupted), SIGHUP reloads the
 * config (a bad one is refused and the running one kept).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Daemon } from '../daemon.ts';
import { isMamoriError } from '../errors.ts';

const HELP = `
Defaults without --config: the folder source manifests/, the state folder state/, HTTP on
127.0.0.1:9750 (/healthz /readyz /metrics /api/status, the local API, POST /hooks/git).

Signals:
  SIGTERM, SIGINT  stop scheduling, let in-flight runbooks reach a safe point, flush, exit
  SIGHUP           reload the config (log level, probe and remediation settings, holds, poll interval)
                   and re-read http.tls's certificate and key (also done every minute)

Examples:
  $ mamori run                                  # ./manifests, ./state
  $ mamori run --config /etc/mamori/mamori.yaml # a git source, signed revisions, webhook
  $ kill -HUP $(cat state/mamori.lock.owner.json | jq .pid)`;

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 3600) throw new InvalidArgumentError('seconds between 0 and 3600');
  return n;
}

export interface RunOptions {
  configPath?: string;
  manifestsDir?: string;
  stopDeadlineSeconds: number;
}

/** Start the daemon and serve until a stop signal; resolves with the exit code. */
export async function runDaemon(options: RunOptions, stderr: NodeJS.WritableStream = process.stderr): Promise<number> {
  // Signals are caught from the first moment: a SIGTERM that arrives while the daemon starts
  // (its reconciler may already run a runbook) must still stop it cleanly, not kill it.
  let daemon: Daemon | undefined;
  let stopSignal: NodeJS.Signals | undefined;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const stop = (signal: NodeJS.Signals): void => {
    if (stopSignal !== undefined) return;
    stopSignal = signal;
    if (daemon) shutDown(daemon, signal);
  };
  const reload = (): void => {
    void daemon?.reload();
  };
  const shutDown = (d: Daemon, signal: NodeJS.Signals): void => {
    // The bound on exit: the runbook deadline, then flushing, then out whatever is left.
    const bound = setTimeout(() => {
      d.logger.error({ signal }, 'shutdown did not finish in time; exiting');
      finish(1);
    }, options.stopDeadlineSeconds * 1000 + 15_000);
    d.stop(signal)
      .then(() => finish(0))
      .catch(() => finish(1))
      .finally(() => clearTimeout(bound));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);
  try {
    const { Daemon } = await import('../daemon.ts');
    daemon = await Daemon.start({
      ...(options.configPath !== undefined ? { configPath: options.configPath } : {}),
      ...(options.manifestsDir !== undefined ? { manifestsDir: options.manifestsDir } : {}),
      stopDeadlineMs: options.stopDeadlineSeconds * 1000,
    });
  } catch (err) {
    const text = isMamoriError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    stderr.write(`mamori run: ${text}\n`);
    finish(1);
  }
  if (daemon && stopSignal !== undefined) shutDown(daemon, stopSignal);
  const code = await done;
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  process.off('SIGHUP', reload);
  return code;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Run the daemon: follow the manifests (folder or git), probe, repair, report.')
    .option('--stop-deadline <seconds>', 'how long in-flight runbooks get to reach a safe point on SIGTERM', parseSeconds, 10)
    .addHelpText('after', HELP)
    .action(async (opts: { stopDeadline: number }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ manifests?: string; config?: string }>();
      // --manifests has a default; only an explicit one overrides the config's source.
      const explicit = cmd.getOptionValueSourceWithGlobals('manifests') === 'cli';
      const code = await runDaemon({
        ...(globals.config !== undefined ? { configPath: globals.config } : {}),
        ...(explicit && globals.manifests !== undefined ? { manifestsDir: globals.manifests } : {}),
        stopDeadlineSeconds: opts.stopDeadline,
      });
      // A daemon's exit is final: do not wait on whatever a library left open.
      process.exit(code);
    });
}
