/**
 * `mamori doctor`: check the host before the first run (src/doctor/checks.ts) — tools, ICMP,
 * folders and their modes, the config's secrets, the manifests' remote, the SMTP relay, the
 * clock, etcd when configured. One line per check; exit 0 when nothing failed, 1 otherwise.
 */
import type { Command } from 'commander';
import { isMamoriError } from '../errors.ts';

const HELP = `
Each line: ok, warn (works, but look) or FAIL, what was found, and what to do.
Run it as the daemon's user, with the daemon's config:

Examples:
  $ sudo -u mamori mamori doctor --config /etc/mamori/mamori.yaml
  $ mamori doctor --json | jq '.[] | select(.status != "ok")'

Exit status: 0 nothing failed (warnings allowed), 1 a check failed, 2 usage (an invalid config).`;

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check this host before the first run: fping, ICMP, ipmitool, folders and modes, secrets, git remote, SMTP relay, clock.')
    .option('--json', 'print the checks as JSON')
    .addHelpText('after', HELP)
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ config?: string }>();
      const [{ loadConfig }, { runDoctor }] = await Promise.all([import('../config/load-config.ts'), import('../doctor/checks.ts')]);
      let config;
      try {
        config = await loadConfig(globals.config);
      } catch (err) {
        if (!isMamoriError(err)) throw err;
        process.stderr.write(`mamori doctor: ${err.code}: ${err.message}\n`);
        process.exitCode = 2;
        return;
      }
      const results = await runDoctor(config);
      if (opts.json === true) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      else {
        const width = Math.max(...results.map((r) => r.check.length));
        for (const r of results) {
          const tag = r.status === 'ok' ? 'ok  ' : r.status === 'warn' ? 'warn' : 'FAIL';
          process.stdout.write(`${tag}  ${r.check.padEnd(width)}  ${r.message}${r.fix !== undefined ? `\n      ${' '.repeat(width)}  → ${r.fix}` : ''}\n`);
        }
      }
      process.exitCode = results.some((r) => r.status === 'fail') ? 1 : 0;
    });
}
