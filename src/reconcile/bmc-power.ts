/**
 * The BMC's word on a host's power, asked when its ping fails and vantage points are configured:
 * a host its BMC reports off is powered on at once, with no quorum (quorum.ts). Never throws: a
 * BMC that cannot be asked is `unknown`, which needs the quorum like `on`.
 */
import type { TargetCheck } from '../manifest/target-networks.ts';
import type { ServerDocument } from '../manifest/types.ts';
import { consoleChannelFor } from '../runbook/drivers/registry.ts';
import type { ConsoleProfiles } from '../runbook/drivers/types.ts';
import { resolveServerSecrets, type SecretResolver } from '../runbook/ssh-access.ts';
import type { BmcPower } from './quorum.ts';

export interface BmcPowerOptions {
  consoleProfiles: ConsoleProfiles | undefined;
  resolveSecret: SecretResolver;
  targets: TargetCheck;
  ipmitool?: string;
  deadlineMs: number;
}

export type BmcPowerFn = (doc: ServerDocument, signal?: AbortSignal) => Promise<BmcPower>;

export function bmcPowerAsker(options: BmcPowerOptions): BmcPowerFn {
  return async (doc, signal) => {
    const c = doc.spec.console;
    if (c === undefined) return 'unknown';
    try {
      const secrets = await resolveServerSecrets(doc, options.resolveSecret);
      const channel = consoleChannelFor(options.consoleProfiles, c.profile, {
        server: {
          name: doc.metadata.name,
          address: doc.spec.address,
          ...(c.bmc !== undefined ? { bmc: c.bmc } : {}),
          ...(c.bmcPort !== undefined ? { bmcPort: c.bmcPort } : {}),
          ...(c.target !== undefined ? { target: c.target } : {}),
        },
        ...(secrets.console !== undefined ? { credentials: secrets.console } : {}),
        secrets: secrets.all,
        ...(options.ipmitool !== undefined ? { ipmitool: options.ipmitool } : {}),
        targets: options.targets,
      });
      if (channel.power === undefined) return 'unknown';
      return await channel.power.status({ deadlineMs: options.deadlineMs, ...(signal !== undefined ? { signal } : {}) });
    } catch {
      return 'unknown';
    }
  };
}
