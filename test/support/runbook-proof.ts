/**
 * What "a standard runbook proven on a host of its kind" means in a test: a service of a lab
 * host was killed, `mamori run` repaired it with that runbook (the journal's finished record
 * names the runbook, its commands and the verdict Recovered), and the host itself logged the
 * restart (its unit's journal, or its init log). Shared by the runbook proofs per host kind.
 */
import { expect } from 'vitest';
import type { JournalRecord } from '../../src/status/journal.ts';
import type { Lab } from '../lab/index.ts';
import { recordsOf, type E2eFleet } from './e2e-fleet.ts';

export type Finished = JournalRecord & {
  verdict: string;
  acted: boolean;
  runbook: string;
  powerActions: number;
  message?: string;
  steps: Array<{ id: string; kind: string; outcome: string; command?: string; output?: string }>;
};

export const HANG_GUARD = 90_000;

/**
 * Waits until the server's status file has every one of `services` Healthy. On a timeout the error
 * says which services were in what state, why the file could not be read (none, or a parse error),
 * what /api/status has for the server, and the daemon's log lines about it and its warnings: twice
 * in CI a server had no readable status file 90 s after the start while the daemon called it Healthy.
 */
export async function waitHealthyIn(fleet: E2eFleet, server: string, services: readonly string[]): Promise<void> {
  try {
    await expect
      .poll(() => services.map((s) => fleet.service(server, s)?.state), { timeout: HANG_GUARD, interval: 250 })
      .toEqual(services.map(() => 'Healthy'));
  } catch (err) {
    const seen = Object.fromEntries(services.map((s) => [s, fleet.service(server, s)]));
    const api = await fleet.apiServer(server).catch((e: unknown) => `(no answer: ${String(e)})`);
    throw new Error(
      `${server}: not every one of ${services.join(', ')} Healthy within ${HANG_GUARD} ms: ${JSON.stringify(seen)} (status file: ${fleet.statusMiss(server) ?? 'read'}: ${JSON.stringify(fleet.statusText(server)?.slice(0, 2500))})\n/api/status has: ${JSON.stringify(api)?.slice(0, 3000)}\n${aboutServer(fleet, server)}`,
      { cause: err },
    );
  }
}

/** The daemon's log lines about a server, and its warnings (the last 40), for a failure's message. */
function aboutServer(fleet: E2eFleet, server: string): string {
  const about = fleet.daemon.logs
    .filter((l) => JSON.stringify(l).includes(server) || Number(l.level) >= 40)
    .slice(-40)
    .map((l) => JSON.stringify(l).slice(0, 400));
  return `the daemon's log about it (and its warnings): ${about.join('\n') || '(nothing)'}`;
}

export async function finishedAfter(fleet: E2eFleet, server: string, target: string, since: number): Promise<Finished[]> {
  return recordsOf(await fleet.journal(), server, target).filter((r): r is Finished => r.type === 'finished' && Date.parse(r.ts) >= since);
}

/** Waits for the first runbook finished on (server, one of targets) since `since`; returns it. */
export async function waitFinished(fleet: E2eFleet, server: string, target: string | readonly string[], since: number): Promise<Finished> {
  const targets = typeof target === 'string' ? [target] : target;
  const first = async (): Promise<Finished | undefined> => {
    for (const t of targets) {
      const [run] = await finishedAfter(fleet, server, t, since);
      if (run) return run;
    }
    return undefined;
  };
  try {
    await expect.poll(async () => (await first()) !== undefined, { timeout: HANG_GUARD, interval: 250, message: `no runbook finished on ${server} ${targets.join('/')}` }).toBe(true);
  } catch (err) {
    // What the journal and the daemon did about the server meanwhile: a pause, an escalation, no Down.
    const records = (await fleet.journal())
      .filter((r) => Date.parse(r.ts) >= since && JSON.stringify(r).includes(server))
      .slice(-30)
      .map((r) => JSON.stringify(r).slice(0, 300));
    throw new Error(`${(err as Error).message}\n${aboutServer(fleet, server)}\nits journal records since: ${records.join('\n') || '(none)'}`, { cause: err });
  }
  const run = await first();
  if (!run) throw new Error('unreachable');
  return run;
}

/** The journal says: this runbook ran this command, and the verdict is Recovered. */
export function expectRepairedWith(run: Finished, runbook: string, command: string): void {
  expect({ runbook: run.runbook, verdict: run.verdict, acted: run.acted }, JSON.stringify(run.steps)).toEqual({ runbook, verdict: 'Recovered', acted: true });
  const commands = run.steps.map((s) => s.command).filter((c): c is string => c !== undefined);
  expect(commands).toContain(command);
  const step = run.steps.find((s) => s.command === command);
  expect(step?.outcome).toBe('ok');
}

/** On a systemd host: the unit's own journal since `since` (epoch ms), as `journalctl -u` prints it. */
export async function unitLogSince(lab: Lab, host: string, unit: string, since: number): Promise<string> {
  const r = await lab.console(host, `journalctl -u ${unit} --since @${Math.floor(since / 1000)} --no-pager -o cat`);
  return r.stdout;
}
