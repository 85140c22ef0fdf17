import { Command, CommanderError } from 'commander';
import { registerProbeCommand } from './probe.ts';
import { registerValidateCommand } from './validate.ts';
import { registerPlanCommand } from './plan.ts';
import { registerRunbookCommand } from './runbook.ts';
import { registerRunbookRunCommand } from './run-runbook.ts';
import { registerCheckAccessCommand } from './check-access.ts';
import { registerRunCommand } from './run.ts';
import { registerConfirmCommand } from './confirm.ts';
import { registerReportCommand } from './report.ts';
import { registerReconcileCommand } from './reconcile.ts';
import { registerStatusCommand } from './status.ts';
import { registerResumeCommand } from './resume.ts';
import { registerInitCommand } from './init.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerCompletionCommand } from './completion.ts';
import { registerClusterCommand } from './cluster.ts';
import { registerAgentCommand } from './agent.ts';
import { buildInfo } from '../package-info.ts';
import { isMamoriError } from '../errors.ts';

/** `mamori --version`: the version, and which build it is (for a bug report). */
export function versionText(): string {
  const b = buildInfo();
  return `mamori ${b.version} (${b.flavour === 'dist' ? `build ${b.revision}` : 'from source'}, node ${b.node})`;
}

/** Exit codes: 0 ok, 1 a finding (invalid manifest, a service down), 2 usage. */
export const EXIT_OK = 0;
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('mamori')
    .description('Managed fault recovery for customer servers, driven by manifests in git.')
    .option('--manifests <dir>', 'the manifests folder (operator/ and customers/)', 'manifests')
    .option('--config <file>', "the daemon's config (mamori.yaml); without it, the embedded defaults")
    .version(versionText(), '-V, --version', 'print the version and the build')
    .showHelpAfterError()
    .exitOverride();
  registerProbeCommand(program);
  registerValidateCommand(program);
  registerPlanCommand(program);
  registerRunbookCommand(program);
  registerRunbookRunCommand(program);
  registerCheckAccessCommand(program);
  registerRunCommand(program);
  registerConfirmCommand(program);
  registerReportCommand(program);
  registerReconcileCommand(program);
  registerStatusCommand(program);
  registerResumeCommand(program);
  registerInitCommand(program);
  registerDoctorCommand(program);
  registerCompletionCommand(program);
  program.addHelpText(
    'after',
    `
Examples:
  $ mamori validate --manifests manifests --config mamori.yaml
  $ mamori probe acme-web1 --service http
  $ mamori run --config /etc/mamori/mamori.yaml
  $ mamori <command> --help                                  # each command's options and examples`,
  );
  registerClusterCommand(program);
  registerAgentCommand(program);
  return program;
}

/** An error line a command writes (`mamori status: MAMORI_CONFIG_UNREADABLE: …`, commander's `error: …`). */
const ERROR_LINE = /^(?:mamori[a-z -]*|error): (?:(MAMORI_[A-Z_]+): )?(.+)$/;

/** One error as `--json` prints it: `{"error":{"code":"MAMORI_…","message":"…"}}` on one line. */
export function jsonError(code: string | undefined, message: string): string {
  return `${JSON.stringify({ error: { ...(code === undefined ? {} : { code }), message } })}\n`;
}

/**
 * Under --json, errors are JSON too: every error line a command writes to stderr, commander's
 * usage errors (without the help text that follows them in a terminal) and an uncaught error.
 */
function jsonErrors(program: Command): () => void {
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const out = text
      .split('\n')
      .map((line) => {
        const m = ERROR_LINE.exec(line);
        return m ? jsonError(m[1] ?? (line.startsWith('error:') ? 'MAMORI_CLI_USAGE' : undefined), m[2] ?? line).trimEnd() : line;
      })
      .join('\n');
    return (write as (c: string, ...r: unknown[]) => boolean)(out, ...rest);
  }) as typeof process.stderr.write;
  const quiet = (c: Command): void => {
    c.showHelpAfterError(false);
    for (const sub of c.commands) quiet(sub);
  };
  quiet(program);
  return () => {
    process.stderr.write = write;
  };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  const restore = json ? jsonErrors(program) : () => undefined;
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (json) {
      process.stderr.write(jsonError(isMamoriError(err) ? err.code : undefined, err instanceof Error ? err.message : String(err)));
      return 1;
    }
    throw err;
  } finally {
    restore();
  }
}
