import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/load-config.ts';
import { silentLogger } from '../../src/log.ts';
import { validateDocuments } from '../../src/manifest/validate-documents.ts';
import { DesiredState, type AppliedServer, type HoldPolicy } from '../../src/source/desired.ts';
import type { ValidateRevision } from '../../src/source/desired.ts';
import type { Notification } from '../../src/notify/types.ts';
import { tellRevisionProblem } from '../../src/daemon/revision-notices.ts';

/** The real loader, bound to the embedded default config (its target networks include the loopback). */
export const realValidate: ValidateRevision = (files) =>
  validateDocuments(files, { config: defaultConfig(mkdtempSync(join(tmpdir(), 'mamori-cfg-'))) });

export interface Recorded {
  desired: DesiredState;
  applied: { revision: string; servers: AppliedServer[] }[];
  archived: string[];
  notifications: Notification[];
  /** The files each revision was loaded from (refused changes already at their kept version). */
  validated: Map<string, Map<string, string>>;
  current(): Map<string, AppliedServer>;
}

export function recordingDesired(holds: Partial<HoldPolicy> = {}, options: { notify?: (n: Notification) => Promise<void> } = {}): Recorded {
  const validated = new Map<string, Map<string, string>>();
  const applied: Recorded['applied'] = [];
  const archived: string[] = [];
  const notifications: Notification[] = [];
  const desired = new DesiredState({
    validate: (files, revision) => {
      validated.set(revision, new Map(files.map((f) => [f.path, Buffer.from(f.content).toString('utf8')])));
      return realValidate(files, revision);
    },
    sink: { setDesired: (revision, servers) => void applied.push({ revision, servers: [...servers] }) },
    archiver: { archive: (name) => void archived.push(name) },
    holds: { maxRemovedFraction: holds.maxRemovedFraction ?? 0.5, holdRollbacks: holds.holdRollbacks ?? true },
    logger: silentLogger(),
    // As the daemon wires it: the source reports problems as data, revision-notices words them.
    onProblem: (problem) =>
      tellRevisionProblem(
        problem,
        { operatorEmail: 'operator@example.test' },
        async (n) => {
          notifications.push(n);
          await options.notify?.(n);
        },
        silentLogger(),
      ),
  });
  return {
    desired,
    applied,
    archived,
    notifications,
    validated,
    current: () => new Map((applied.at(-1)?.servers ?? []).map((s) => [s.name, s])),
  };
}
