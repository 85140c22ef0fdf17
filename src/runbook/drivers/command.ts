/**
 * The `command` driver: operator-written argv templates for a console server (or the lab).
 * Power, when given, prints `on`/`off` for {{action}} = status.
 */
import { MamoriError } from '../../errors.ts';
import { assertTarget } from '../../manifest/target-networks.ts';
import { argvConsole } from './console-argv.ts';
import { runArgv } from './run-argv.ts';
import { expandArgv } from './template.ts';
import type { CommandProfile, ConsoleChannel, DriverContext, PowerDriver, PowerState } from './types.ts';

export function commandChannel(profile: CommandProfile, ctx: DriverContext): ConsoleChannel {
  const channel: ConsoleChannel = { profile: ctx.profileName, driver: 'command', console: argvConsole(profile.console, ctx) };
  if (profile.power) channel.power = argvPower(profile.power, ctx);
  return channel;
}

function argvPower(template: readonly string[], ctx: DriverContext): PowerDriver {
  const where = `power profile ${ctx.profileName}`;
  const call = async (action: string, deadlineMs: number, signal?: AbortSignal): Promise<string> => {
    assertTarget(ctx.targets, ctx.server.address, where);
    const argv = expandArgv(template, {
      'server.name': ctx.server.name,
      'server.address': ctx.server.address,
      ...(ctx.server.target !== undefined ? { 'console.target': ctx.server.target } : {}),
      action,
    }, where);
    const r = await runArgv(argv, { timeoutMs: deadlineMs, secrets: ctx.secrets, ...(signal ? { signal } : {}) });
    if (r.exitCode !== 0) {
      throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', `${where}: power ${action} failed (${r.spawnError ?? (r.timedOut ? 'timed out' : `exit ${String(r.exitCode)}`)}): ${r.output.trim().slice(0, 300)}`);
    }
    return r.output;
  };
  return {
    async status(opts = {}) {
      const out = await call('status', opts.deadlineMs ?? 30_000, opts.signal);
      const m = /\b(on|off)\b/i.exec(out);
      if (!m?.[1]) throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', `${where}: power status printed neither on nor off`);
      return m[1].toLowerCase() as PowerState;
    },
    async set(action, opts = {}) {
      await call(action, opts.deadlineMs ?? 60_000, opts.signal);
    },
  };
}
