/**
 * The `manual` driver: no console or power that mamori can use. The seed's on-site check
 * is a person's job: the executor escalates with "console check requested", and the
 * reconciler's notification goes to the operations desk.
 */
import type { ConsoleChannel, DriverContext, ManualProfile } from './types.ts';

export function manualChannel(profile: ManualProfile, ctx: DriverContext): ConsoleChannel {
  const channel: ConsoleChannel = { profile: ctx.profileName, driver: 'manual' };
  if (profile.desk) channel.desk = profile.desk;
  return channel;
}
