/** One line per console/power driver, by the profile's `driver` name. */
import { MamoriError } from '../../errors.ts';
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
