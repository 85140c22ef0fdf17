/**
 * The `ipmi` driver: ipmitool over RMCP+ (lanplus) to the server's BMC. The password goes
 * to ipmitool in its environment (IPMI_PASSWORD with -E), never in argv, where any user on
 * the machine could read it with ps. The console, when the profile has a consoleCommand,
 * is that argv template (a serial console server); otherwise the console cannot be looked at.
 */
import { MamoriError } from '../../errors.ts';
import { assertTarget } from '../../manifest/target-networks.ts';
import { argvConsole } from './console-argv.ts';
import { runArgv } from './run-argv.ts';
import type { ConsoleChannel, DriverContext, IpmiProfile, PowerDriver, PowerState } from './types.ts';

export const DEFAULT_BMC_PORT = 623;

/** Splits a `user:password` secret; the password may itself contain colons. */
export function splitBmcCredentials(secret: string): { user: string; password: string } {
  const text = secret.replace(/\r?\n$/, '');
  const i = text.indexOf(':');
  if (i <= 0) throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', 'the BMC credentials secret must be user:password');
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** The argv of one ipmitool call: note that no element is the password. */
export function ipmitoolArgv(binary: string, bmc: string, port: number, user: string, cipherSuite: number, args: readonly string[]): string[] {
  return [binary, '-I', 'lanplus', '-H', bmc, '-p', String(port), '-U', user, '-E', '-C', String(cipherSuite), ...args];
}

export function ipmiChannel(profile: IpmiProfile, ctx: DriverContext): ConsoleChannel {
  const channel: ConsoleChannel = { profile: ctx.profileName, driver: 'ipmi' };
  if (profile.consoleCommand && profile.consoleCommand.length > 0) channel.console = argvConsole(profile.consoleCommand, ctx);
  channel.power = ipmiPower(profile, ctx);
  return channel;
}

function ipmiPower(profile: IpmiProfile, ctx: DriverContext): PowerDriver {
  const where = `ipmi profile ${ctx.profileName}`;
  const call = async (args: string[], deadlineMs: number, signal?: AbortSignal): Promise<string> => {
    const bmc = ctx.server.bmc;
    if (!bmc) throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', `${where}: server ${ctx.server.name} has no spec.console.bmc`);
    assertTarget(ctx.targets, bmc, `${where}: the BMC`);
    if (ctx.credentials === undefined) throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', `${where}: server ${ctx.server.name} has no BMC credentials`);
    const { user, password } = splitBmcCredentials(ctx.credentials);
    const argv = ipmitoolArgv(ctx.ipmitool ?? 'ipmitool', bmc, ctx.server.bmcPort ?? DEFAULT_BMC_PORT, user, profile.cipherSuite ?? 3, args);
    const r = await runArgv(argv, { timeoutMs: deadlineMs, env: { IPMI_PASSWORD: password }, secrets: [...ctx.secrets, password], ...(signal ? { signal } : {}) });
    if (r.exitCode !== 0) {
      const why = r.spawnError ?? (r.timedOut ? 'no answer in time' : `exit ${String(r.exitCode)}`);
      throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', `${where}: the BMC ${bmc} did not do "${args.join(' ')}" (${why}): ${r.output.trim().slice(0, 300)}`);
    }
    return r.output;
  };
  return {
    async status(opts = {}) {
      const out = await call(['chassis', 'power', 'status'], opts.deadlineMs ?? 30_000, opts.signal);
      const m = /Chassis Power is (on|off)/i.exec(out);
      if (!m?.[1]) throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', `${where}: unexpected answer to power status: ${out.trim().slice(0, 200)}`);
      return m[1].toLowerCase() as PowerState;
    },
    async set(action, opts = {}) {
      await call(['chassis', 'power', action], opts.deadlineMs ?? 60_000, opts.signal);
    },
  };
}
