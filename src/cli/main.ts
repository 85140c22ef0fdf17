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
import { buildInfo } from '../package-info.ts';

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
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    throw err;
  }
}
