/**
 * The scheduled readiness check as `mamori run` builds it (config `readiness`): the loop, the
 * check it runs (the one `mamori check-access` runs: same secrets, console profiles, target
 * networks and rendered runbooks), and a watch on the secrets folder, so that a secret added,
 * changed or removed has its servers checked at once.
 */
import { basename } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { MamoriConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { serviceNames } from '../manifest/services.ts';
import type { TargetCheck } from '../manifest/target-networks.ts';
import type { ServerDocument } from '../manifest/types.ts';
import type { Notifier } from '../notify/types.ts';
import { checkReadiness } from '../runbook/readiness.ts';
import type { RenderedRunbook } from '../runbook/types.ts';
import { resolveSecret } from '../secrets/resolve-secret.ts';
import type { ServerHistory } from './types.ts';
import { escalationClass } from './fault-side.ts';
import { ReadinessLoop, type ReadinessHost } from './readiness-loop.ts';
import { renderFrom, type RunbookMap } from './wiring.ts';

export interface ReadinessWiring {
  loop: ReadinessLoop;
  stop(): Promise<void>;
}

/** What the loop needs of the controller (it is built above it, like wiring.ts). */
export interface ReadinessController {
  /** The loop's host, but for the precondition holds, which this wiring releases itself. */
  readiness: Omit<ReadinessHost, 'releasePreconditionHolds'>;
  historyOf(id: string): ServerHistory | undefined;
  resume(id: string): Promise<{ resumed: readonly string[] }>;
}

export interface ReadinessWiringOptions {
  controller: ReadinessController;
  notifier: Notifier;
  targets: TargetCheck;
  runbooks: () => RunbookMap;
  logger: Logger;
}

export function startReadiness(config: MamoriConfig, o: ReadinessWiringOptions): ReadinessWiring {
  const logger = o.logger.child({ component: 'readiness' });
  const check = (doc: ServerDocument) => {
    const runbooks: RenderedRunbook[] = [];
    for (const service of serviceNames(doc)) {
      const r = renderFrom(o.runbooks(), doc, service);
      if (!(r instanceof Error)) runbooks.push(r);
    }
    return checkReadiness(doc, {
      resolveSecret: (ref) => resolveSecret(ref, config),
      consoleProfiles: config.consoleProfiles,
      runbooks,
      targets: o.targets,
      logger,
      ...(config.sourceAddress !== undefined ? { sourceAddress: config.sourceAddress } : {}),
    });
  };
  const c = o.controller;
  const loop = new ReadinessLoop({
    intervalMs: config.readiness.intervalHours * 3_600_000,
    concurrency: config.readiness.concurrency,
    check,
    notifier: o.notifier,
    logger,
    ...(config.mail.operator !== undefined ? { operatorEmail: config.mail.operator } : {}),
    host: {
      condition: (id) => c.readiness.condition(id),
      setCondition: (id, cond) => c.readiness.setCondition(id, cond),
      hostAnswers: (id) => c.readiness.hostAnswers(id),
      monitorSuspect: (id) => c.readiness.monitorSuspect(id),
      claimCause: (id, cause) => c.readiness.claimCause(id, cause),
      releaseCauses: (id) => c.readiness.releaseCauses(id),
      // Ready again: services held for a precondition (no login, no secret) may be repaired again.
      releasePreconditionHolds: async (id) => {
        const held = Object.values(c.historyOf(id)?.services ?? {}).some((s) => s?.state === 'Escalated' && escalationClass(s.escalation) !== undefined);
        if (!held) return;
        const r = await c.resume(id);
        logger.info({ server: id, resumed: r.resumed }, 'ready again: held services resumed');
      },
    },
  });
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(config.secretsDir, { depth: 0, ignoreInitial: true, awaitWriteFinish: false });
    const changed = (path: string): void => loop.secretsChanged([basename(path)]);
    watcher.on('add', changed).on('change', changed).on('unlink', changed);
    watcher.on('error', (err: unknown) => logger.warn({ err }, 'secrets folder not watched'));
  } catch (err) {
    logger.warn({ err }, 'secrets folder not watched');
  }
  loop.start();
  return {
    loop,
    stop: async () => {
      await watcher?.close();
      await loop.stop();
    },
  };
}
