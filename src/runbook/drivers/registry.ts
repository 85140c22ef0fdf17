/** One line per console/power driver, by the profile's `driver` name. */
import { MamoriError } from '../../errors.ts';
import type { TargetCheck } from '../../manifest/target-networks.ts';
import type { ServerDocument } from '../../manifest/types.ts';
import { commandChannel } from './command.ts';
import { ipmiChannel } from './ipmi.ts';
import { manualChannel } from './manual.ts';
import type { ConsoleChannel, ConsoleProfile, ConsoleProfiles, DriverContext, DriverName } from './types.ts';

type Factory<P> = (profile: P, ctx: DriverContext) => ConsoleChannel;

export const CONSOLE_DRIVERS: { [K in DriverName]: Factory<Extract<ConsoleProfile, { driver: K }>> } = {
  ipmi: ipmiChannel,
  command: commandChannel,
  manual: manualChannel,
};

/** The channel for a server's console profile; throws MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE for an unknown profile. */
export function consoleChannelFor(profiles: ConsoleProfiles | undefined, profileName: string, ctx: Omit<DriverContext, 'profileName'>): ConsoleChannel {
  const profile = profiles?.[profileName];
  if (!profile) {
    throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', `no console profile named "${profileName}" in the operator's configuration`, { details: { profile: profileName } });
  }
  const full = { ...ctx, profileName };
  switch (profile.driver) {
    case 'ipmi':
      return CONSOLE_DRIVERS.ipmi(profile, full);
    case 'command':
      return CONSOLE_DRIVERS.command(profile, full);
    case 'manual':
      return CONSOLE_DRIVERS.manual(profile, full);
  }
}

/**
 * A server's console/power channel, as the executor and the readiness check both open it: the
 * profile spec.console names, its BMC and target, the server's resolved console credentials.
 * Throws MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE for an unknown profile.
 */
export function serverConsoleChannel(
  server: ServerDocument,
  console: NonNullable<ServerDocument['spec']['console']>,
  secrets: { console?: string; all: readonly string[] },
  options: { consoleProfiles?: ConsoleProfiles | undefined; ipmitool?: string | undefined; targets: TargetCheck },
): ConsoleChannel {
  return consoleChannelFor(options.consoleProfiles, console.profile, {
    server: {
      name: server.metadata.name,
      address: server.spec.address,
      ...(console.bmc !== undefined ? { bmc: console.bmc } : {}),
      ...(console.bmcPort !== undefined ? { bmcPort: console.bmcPort } : {}),
      ...(console.target !== undefined ? { target: console.target } : {}),
    },
    ...(secrets.console !== undefined ? { credentials: secrets.console } : {}),
    secrets: secrets.all,
    ...(options.ipmitool ? { ipmitool: options.ipmitool } : {}),
    targets: options.targets,
  });
}
