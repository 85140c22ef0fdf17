import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/load-config.ts';
import { silentLogger } from '../../src/log.ts';
import { validateDocuments } from '../../src/manifest/validate-documents.ts';
import { DesiredState, type AppliedServer, type HoldPolicy } from '../../src/source/desired.ts';
import type { ValidateRevision } from '../../src/source/desired.ts';
import type { Notification } from '../../src/notify/types.ts';

/** The real loader, bound to the embedded default config (its target networks include the loopback). */
export const realValidate: ValidateRevision = (files) =>
  validateDocuments(files, { config: defaultConfig(mkdtempSync(join(tmpdir(), 'mamori-cfg-'))) });

export interface Recorded {
  desired: DesiredState;
  applied: { revision: string; servers: AppliedServer[] }[];
  archived: string[];
  notifications: Notification[];
  current(): Map<string, AppliedServer>;
}

export function recordingDesired(holds: Partial<HoldPolicy> = {}): Recorded {
  const applied: Recorded['applied'] = [];
  const archived: string[] = [];
  const notifications: Notification[] = [];
  const desired = new DesiredState({
    validate: realValidate,
    sink: { setDesired: (revision, servers) => void applied.push({ revision, servers: [...servers] }) },
    archiver: { archive: (name) => void archived.push(name) },
    holds: { maxRemovedFraction: holds.maxRemovedFraction ?? 0.5, holdRollbacks: holds.holdRollbacks ?? true },
    logger: silentLogger(),
    notify: async (n) => void notifications.push(n),
    operatorEmail: 'operator@example.test',
  });
  return {
    desired,
    applied,
    archived,
    notifications,
    current: () => new Map((applied.at(-1)?.servers ?? []).map((s) => [s.name, s])),
  };
}
