/**
 * A mamori process for the crash tests: takes the state folder's lock, replays the journal and runs
 * the real controller (real probes, the real executor over SSH) against a lab host until the
 * service is Recovered or `passes` run out. argv[2]: a JSON spec file written by the test.
 * SLOW=1 puts a `sleep 600` step first into the runbook, so that the test can SIGKILL this process
 * while the runbook runs. Prints one JSON line per pass; exits 3 on MAMORI_STATE_LOCKED.
 */
import { readFile } from 'node:fs/promises';
import { isMamoriError } from '../../src/errors.ts';
import { serverIdOf } from '../../src/manifest/server-id.ts';
import { createLogger } from '../../src/log.ts';
import type { ServerDocument } from '../../src/manifest/types.ts';
import { createProberRegistry } from '../../src/probe/registry.ts';
import { Controller } from '../../src/reconcile/controller.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import { probeTargetOf } from '../../src/reconcile/probe-target.ts';
import type { ConsoleProfiles } from '../../src/runbook/drivers/types.ts';
import { createExecutor } from '../../src/runbook/executor.ts';
import type { RenderedRunbook } from '../../src/runbook/types.ts';
import { openJournal, readJournal } from '../../src/status/journal.ts';
import { acquireStateLock } from '../../src/status/lock.ts';
import { createStatusStore } from '../../src/status/store.ts';
import { LAB_TARGETS } from '../support/targets.ts';

interface Spec {
  stateDir: string;
  server: ServerDocument;
  secrets: Record<string, string>;
  profiles: ConsoleProfiles;
  runbook: RenderedRunbook;
  passes: number;
}

const spec = JSON.parse(await readFile(process.argv[2] as string, 'utf8')) as Spec;
const logger = createLogger({ level: 'warn', destination: process.stderr });
let lock;
try {
  lock = await acquireStateLock(spec.stateDir, { purpose: 'lab-child', deadOwnerWaitMs: 5_000 });
} catch (err) {
  if (isMamoriError(err, 'MAMORI_STATE_LOCKED')) {
    process.stderr.write(`${err.code}: ${err.message}\n`);
    process.exit(3);
  }
  throw err;
}
const slow = process.env.SLOW === '1';
const runbook: RenderedRunbook = slow
  ? { ...spec.runbook, deadlineMs: 900_000, steps: [{ kind: 'run', id: 'slow-1', command: 'sleep 600', sudo: false, onFailure: 'stop', deadlineMs: 700_000 }, ...spec.runbook.steps] }
  : spec.runbook;
const policy = policyFromConfig({ probe: { timeoutSeconds: 5, failuresToDown: 2, retryIntervalSeconds: 0.2 } });
const registry = createProberRegistry({ targets: LAB_TARGETS });
const records = (await readJournal(spec.stateDir)).records;
const journal = await openJournal(spec.stateDir);
const controller = new Controller({
  policy,
  probe: (doc, service, signal) => registry.probe(probeTargetOf(doc, service, policy.timeoutMs), signal),
  executor: createExecutor({ targets: LAB_TARGETS,
    resolveSecret: async (ref) => {
      const v = spec.secrets[ref];
      if (v === undefined) throw new Error(`no secret ${ref}`);
      return v;
    },
    consoleProfiles: spec.profiles,
    logger,
  }),
  renderRunbook: () => runbook,
  notifier: { notify: async () => undefined },
  store: createStatusStore(spec.stateDir),
  journal,
  logger,
});
controller.setDesired('lab', [spec.server]);
const started = await controller.start(records, { schedule: false });
process.stdout.write(`${JSON.stringify({ type: 'started', ...started })}\n`);
for (let i = 0; i < spec.passes; i++) {
  const s = await controller.reconcileOnce();
  const state = controller.historyOf(serverIdOf(spec.server))?.services.http?.state;
  process.stdout.write(`${JSON.stringify({ type: 'pass', i, state, runbooks: s.runbooks })}\n`);
  if (state === 'Recovered' || state === 'Healthy') break;
  await new Promise((r) => setTimeout(r, 200));
}
await controller.stop({ deadlineMs: 5_000 });
await controller.writeAllStatus();
await journal.close();
await lock.release();
process.exit(0);
