/**
 * The fleet-wide judgements behind their interfaces (fleet-state.ts): two controllers, each owning
 * part of one /24 (as two replicas would), judge mass failure on counts they share
 * (ControllerOptions.fleetJudgements) — and, for contrast, on their own slice each. The shared
 * store here is the local MassFailureIndex behind a per-replica view that sets only the servers
 * the replica owns, as a coordinated store would.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { seededRandom } from '../../src/reconcile/clock.ts';
import { Controller } from '../../src/reconcile/controller.ts';
import type { RemediationCoordinator } from '../../src/reconcile/coordinator.ts';
import type { MassFailureCounts } from '../../src/reconcile/fleet-state.ts';
import { MassFailureIndex } from '../../src/reconcile/mass-failure.ts';
import { policyFromConfig } from '../../src/reconcile/policy.ts';
import type { Policy } from '../../src/reconcile/types.ts';
import { openJournal } from '../../src/status/journal.ts';
import { createStatusStore } from '../../src/status/store.ts';
import { RecordingNotifier, renderStub, ScriptedExecutor, serverDoc, TableProber, tempStateDir } from './harness.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** One replica's view of counts shared by all: it sets only its own servers; every change moves the version. */
class SharedCountsView implements MassFailureCounts {
  constructor(
    private readonly shared: { index: MassFailureIndex; version: number },
    private readonly owns: (server: string) => boolean,
  ) {}
  set(server: string, groupKeys: readonly string[], failing: boolean): boolean {
    if (!this.owns(server)) return false;
    const changed = this.shared.index.set(server, groupKeys, failing);
    if (changed) this.shared.version++;
    return changed;
  }
  remove(server: string): void {
    if (this.owns(server)) this.shared.index.remove(server);
  }
  setCanary(address: string, down: boolean): boolean {
    return this.shared.index.setCanary(address, down);
  }
  tripped(policy: Policy) {
    return this.shared.index.tripped(policy);
  }
  pausedBy(server: string, policy: Policy): string | undefined {
    return this.shared.index.pausedBy(server, policy);
  }
  version(): number {
    return this.shared.version;
  }
}

function coordinator(owns: (server: string) => boolean): RemediationCoordinator {
  return {
    owns: (server) => owns(server),
    canRemediate: () => true,
    beginAttempt: async () => ({ ok: true, end: async () => undefined }),
    serverFailing: () => undefined,
  };
}

async function replica(owned: ReadonlySet<string>, prober: TableProber, counts: MassFailureCounts | undefined): Promise<{ controller: Controller; executor: ScriptedExecutor }> {
  const state = await tempStateDir();
  cleanup.push(() => rm(state, { recursive: true, force: true }));
  const journal = await openJournal(state);
  cleanup.push(() => journal.close());
  const executor = new ScriptedExecutor();
  const owns = (server: string): boolean => owned.has(server);
  const controller = new Controller({
    policy: policyFromConfig({ probe: { failuresToDown: 2, retryIntervalSeconds: 1, intervalSeconds: 10 }, remediation: { destructiveWaitSeconds: 0 }, massFailure: { fleetFraction: 1 } }),
    probe: prober.probe,
    executor,
    renderRunbook: renderStub,
    notifier: new RecordingNotifier(),
    store: createStatusStore(state),
    journal,
    logger: silentLogger(),
    random: seededRandom(7),
    coordinator: coordinator(owns),
    ...(counts !== undefined ? { fleetJudgements: { counts } } : {}),
  });
  cleanup.push(() => controller.stop({ deadlineMs: 1000 }));
  return { controller, executor };
}

/** Five servers of 10.231.10.0/24; replica A owns s0, s1, replica B s2, s3, s4; s0–s3 stop answering. */
async function twoReplicas(shared: boolean): Promise<Array<{ controller: Controller; executor: ScriptedExecutor }>> {
  const docs = [0, 1, 2, 3, 4].map((i) => serverDoc(`s${i}`, `10.231.10.${11 + i}`, ['http']));
  const prober = new TableProber();
  const store = { index: new MassFailureIndex(), version: 0 };
  const sets = [new Set(['acme/s0', 'acme/s1']), new Set(['acme/s2', 'acme/s3', 'acme/s4'])];
  const replicas = [];
  for (const owned of sets) replicas.push(await replica(owned, prober, shared ? new SharedCountsView(store, (s) => owned.has(s)) : undefined));
  for (const r of replicas) {
    r.controller.setDesired('rev1', docs);
    await r.controller.start(undefined, { schedule: false });
  }
  for (const i of [0, 1, 2, 3]) prober.set(`s${i}`, 'http', false);
  // A's passes first each round: when A first sees its two failing, B's two are not counted yet.
  for (let round = 0; round < 4; round++) for (const r of replicas) await r.controller.reconcileOnce();
  return replicas;
}

describe('fleet-wide judgements behind interfaces', () => {
  test('counts shared by two replicas: four of five servers of a /24 down pauses both, nothing is run', async () => {
    const [a, b] = await twoReplicas(true);
    for (const r of [a, b]) {
      expect(r?.executor.runs).toEqual([]);
      expect(r?.controller.status().massFailure.map((e) => e.scope)).toEqual([{ kind: 'network', value: '10.231.10.0/24' }]);
    }
    expect(a?.controller.historyOf('acme/s0')?.services.http?.hold).toBe('MassFailurePaused');
    expect(b?.controller.historyOf('acme/s2')?.services.http?.hold).toBe('MassFailurePaused');
  });

  test('each replica judging its own slice sees two of five failing: no pause, each restarts its own (what sharing is for)', async () => {
    const [a, b] = await twoReplicas(false);
    expect([...new Set(a?.executor.runs.map((r) => r.server))].sort()).toEqual(['s0', 's1']);
    expect([...new Set(b?.executor.runs.map((r) => r.server))].sort()).toEqual(['s2', 's3']);
    expect(a?.controller.status().massFailure).toEqual([]);
  });
});
