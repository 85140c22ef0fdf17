/**
 * The canaries ("doubt yourself first"): addresses outside the customers' fleet that should always
 * answer. They are probed every interval on their own timer, under the probe permits; any canary
 * down trips everything (the mass-failure counts), and a change runs the fleet step at once.
 */
import type { Actuator } from './actuator.ts';
import type { LoopContext } from './loop-types.ts';
import type { Semaphore } from './semaphore.ts';
import type { Action } from './types.ts';

export interface CanariesDeps {
  readonly probes: Semaphore;
  readonly actuator: Actuator;
  /** The fleet step now (server-pass.ts), with its undo. */
  fleetStep(now: number): { actions: Action[]; undo: () => void };
}

export class Canaries {
  private timer: unknown;

  constructor(
    private readonly ctx: LoopContext,
    private readonly deps: CanariesDeps,
  ) {}

  /** Canaries are probed every interval on their own timer; a change may open or clear an episode. */
  schedule(first = false): void {
    const o = this.ctx.o;
    if ((o.canaries ?? []).length === 0 || o.probeCanary === undefined || this.ctx.stopping()) return;
    this.timer = this.ctx.clock.setTimeout(() => {
      this.timer = undefined;
      void this.ctx.track(
        this.probe()
          .then(async () => {
            const fleet = this.ctx.fleet;
            if (!fleet.canariesChanged) return;
            fleet.canariesChanged = false;
            const now = this.ctx.clock.now();
            const step = this.deps.fleetStep(now);
            try {
              await this.deps.actuator.perform('', step.actions, now);
            } catch (err) {
              step.undo();
              fleet.stepStale = true;
              throw err;
            }
          })
          .catch((err: unknown) => o.logger.error({ err }, 'canary probe failed'))
          .finally(() => this.schedule()),
      );
    }, first ? 0 : o.policy.intervalMs);
  }

  /** Probes every canary once (each reconcileOnce does, before its servers). */
  async probe(): Promise<void> {
    const canaries = this.ctx.o.canaries ?? [];
    const probe = this.ctx.o.probeCanary;
    if (canaries.length === 0 || probe === undefined) return;
    await Promise.all(
      canaries.map(async (c) => {
        const r = await this.deps.probes.run(() => probe(c, this.ctx.abort.signal));
        this.ctx.fleet.setCanary(c.address, r.up);
      }),
    );
  }

  stop(): void {
    if (this.timer !== undefined) this.ctx.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
