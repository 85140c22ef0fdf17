/** A console reached by running an operator's argv template (the command driver, ipmi's consoleCommand). */
import { assertTarget } from '../../manifest/target-networks.ts';
import { expandArgv } from './template.ts';
import { runArgv } from './run-argv.ts';
import { CONSOLE_ALIVE_MARKER, CONSOLE_CHECK_COMMAND, type ConsoleDriver, type DriverContext } from './types.ts';

export function argvConsole(template: readonly string[], ctx: DriverContext): ConsoleDriver {
  const values = {
    'server.name': ctx.server.name,
    'server.address': ctx.server.address,
    ...(ctx.server.target !== undefined ? { 'console.target': ctx.server.target } : {}),
  };
  const where = `console profile ${ctx.profileName}`;
  const run: ConsoleDriver['run'] = async (command, opts) => {
    assertTarget(ctx.targets, ctx.server.address, where);
    const argv = expandArgv(template, { ...values, command }, where);
    return runArgv(argv, { timeoutMs: opts.deadlineMs, secrets: ctx.secrets, ...(opts.signal ? { signal: opts.signal } : {}) });
  };
  return {
    run,
    async check(opts) {
      try {
        const r = await run(CONSOLE_CHECK_COMMAND, opts);
        const alive = r.exitCode === 0 && r.output.includes(CONSOLE_ALIVE_MARKER);
        const why = r.spawnError ?? (r.timedOut ? 'no answer on the console in time' : `exit ${String(r.exitCode)}`);
        return { alive, known: true, detail: alive ? r.output.replace(CONSOLE_ALIVE_MARKER, '').trim() : `${why}: ${r.output.trim().slice(0, 300)}` };
      } catch (err) {
        return { alive: false, known: false, detail: (err as Error).message };
      }
    },
  };
}
