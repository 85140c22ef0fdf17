/**
 * A replica for the coordination tests, run as its own process (so that it can be killed -9,
 * SIGSTOPped and cut off): the cluster layer as production wires it, with a stand-in for probes and
 * runbooks — a server is down while `<faults>/<server>` exists (its content says what repairs it:
 * `restart` or `power`), and a runbook step is an O_APPEND line in the host log, which the test reads
 * as the lab host's own record of what was done to it.
 *
 * Emits one JSON line per event on stdout.
 */
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Cluster } from '../../src/cluster/cluster.ts';
import { limitCheck } from '../../src/cluster/limits.ts';
import { judgeInDoubt } from '../../src/cluster/takeover.ts';
import type { Claim, StepKind } from '../../src/cluster/claims.ts';
import type { Policy } from '../../src/reconcile/types.ts';

interface DriverConfig {
  endpoints: string[];
  prefix: string;
  replica: string;
  ttlSeconds: number;
  servers: Array<{ name: string; groups: string[] }>;
  faults: string;
  hostLog: string;
  probeMs: number;
  /** How long a server must have been failing before a destructive step (the one-interval wait). */
  destructiveWaitMs: number;
  /** Between the intent and the command, and between the command and its outcome. */
  stepDelayMs: number;
  /** After a claim is taken, before the first step (a window to pause the holder in). */
  pauseAfterClaimMs: number;
  stepDeadlineMs: number;
  policy: Policy;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
const emit = (event: string, fields: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ event, replica: cfg.replica, t: Date.now(), ...fields })}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = pino({ level: 'warn' }, pino.destination(2));

const cluster = new Cluster({ endpoints: cfg.endpoints, prefix: cfg.prefix, replica: cfg.replica, ttlSeconds: cfg.ttlSeconds, callTimeoutMs: 1500 }, log);
const fleet = new Map(cfg.servers.map((s) => [s.name, s.groups]));
const failingSince = new Map<string, number>();
const busy = new Set<string>();
const heldLocally = new Set<string>();

function faultOf(server: string): string | undefined {
  const f = join(cfg.faults, server.replace('/', '__'));
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

function hostActed(server: string, incident: string, step: string): boolean {
  if (!existsSync(cfg.hostLog)) return false;
  return readFileSync(cfg.hostLog, 'utf8').split('\n').some((l) => {
    if (l === '') return false;
    const v = JSON.parse(l) as { server: string; incident: string; step: string };
    return v.server === server && v.incident === incident && v.step === step;
  });
}

const STEPS: Array<{ step: string; kind: StepKind; repairs: string }> = [
  { step: 'restart-1', kind: 'restart', repairs: 'restart' },
  { step: 'power-1', kind: 'power', repairs: 'power' },
];

async function remediate(server: string): Promise<void> {
  const got = await cluster.claims.claim(server, 'http');
  if (!got.ok) {
    if (got.reason !== 'held') emit('claim-refused', { server, reason: got.reason });
    return;
  }
  const claim: Claim = got.claim;
  if (claim.held) {
    heldLocally.add(server);
    await cluster.claims.release(claim, undefined);
    return;
  }
  emit('claimed', { server, incident: claim.incident, token: claim.token, inDoubt: claim.inDoubt.map((s) => s.step), takenOver: got.takenOver });
  if (cfg.pauseAfterClaimMs > 0) await sleep(cfg.pauseAfterClaimMs);
  for (const doubt of claim.inDoubt) {
    const verdict = judgeInDoubt(doubt, { serviceUp: faultOf(server) === undefined, host: hostActed(server, doubt.incident, doubt.step) ? 'acted' : 'unknown' }, Date.now(), cfg.ttlSeconds * 1000);
    emit('in-doubt', { server, step: doubt.step, verdict: verdict.kind });
    if (verdict.kind === 'wait') return; // the claim stays ours; judged again on the next pass
    await cluster.claims.resolveInDoubt(claim, doubt, verdict.kind === 'recovered' ? 'recovered-after-takeover' : 'in-doubt-escalated');
    if (verdict.kind === 'recovered') emit('recovered', { server, incident: claim.incident });
    else emit('escalated', { server, incident: claim.incident, reason: verdict.kind === 'escalate' ? verdict.reason : verdict.kind });
    await cluster.claims.release(claim, { result: verdict.kind === 'recovered' ? 'recovered' : 'escalated' });
    return;
  }
  const done = new Set(claim.steps.filter((s) => s.incident === claim.incident).map((s) => s.step));
  for (const s of STEPS) {
    if (done.has(s.step)) continue;
    const res = await cluster.claims.beginStep(
      claim,
      { step: s.step, kind: s.kind, deadlineMs: cfg.stepDeadlineMs },
      limitCheck({ policy: cfg.policy, server, service: 'http', kind: s.kind, fleet, now: Date.now() }),
    );
    if (!res.ok) {
      emit('step-refused', { server, incident: claim.incident, step: s.step, reason: res.reason, detail: res.detail });
      if (res.reason === 'limit' && res.detail?.startsWith('mass failure') === true) {
        emit('paused', { server, incident: claim.incident, reason: res.detail });
        await cluster.claims.release(claim, undefined);
      } else if (res.reason === 'limit') {
        emit('escalated', { server, incident: claim.incident, reason: res.detail });
        await cluster.claims.release(claim, { result: 'escalated' });
      }
      return;
    }
    emit('intent', { server, incident: claim.incident, step: s.step });
    await sleep(cfg.stepDelayMs);
    // The command: not sent past its deadline or once fenced (the BMC checks no token; this is the bound).
    if (cluster.phase() === 'fenced' || Date.now() > res.handle.record.intentAt + cfg.stepDeadlineMs) {
      emit('command-withheld', { server, incident: claim.incident, step: s.step });
      await cluster.claims.endStep(res.handle, 'not-started').catch(() => false);
      return;
    }
    appendFileSync(cfg.hostLog, `${JSON.stringify({ server, incident: claim.incident, step: s.step, replica: cfg.replica, pid: process.pid, at: Date.now() })}\n`);
    emit('acted', { server, incident: claim.incident, step: s.step });
    const fault = faultOf(server);
    if (fault === s.repairs) rmSync(join(cfg.faults, server.replace('/', '__')), { force: true });
    await sleep(cfg.stepDelayMs);
    const recorded = await cluster.claims.endStep(res.handle, 'done').catch(() => false);
    emit('step-recorded', { server, step: s.step, recorded });
    if (faultOf(server) === undefined) {
      emit('recovered', { server, incident: claim.incident });
      await cluster.claims.release(claim, { result: 'recovered' }).catch(() => undefined);
      return;
    }
  }
  emit('escalated', { server, incident: claim.incident, reason: 'runbook exhausted' });
  await cluster.claims.release(claim, { result: 'escalated' }).catch(() => undefined);
}

async function pass(): Promise<void> {
  const now = Date.now();
  const owned: string[] = [];
  for (const [server, groups] of fleet) {
    if (!cluster.owns(server)) continue;
    owned.push(server);
    const down = faultOf(server) !== undefined;
    if (down && !failingSince.has(server)) failingSince.set(server, now);
    if (!down) failingSince.delete(server);
    await cluster.publishFailing(server, groups, down).catch(() => undefined);
    if (!down && heldLocally.delete(server)) await cluster.claims.clearHold(server, 'http').catch(() => undefined);
    if (!down || busy.has(server) || heldLocally.has(server)) continue;
    if (!cluster.canRemediate()) continue;
    if (now - (failingSince.get(server) ?? now) < cfg.destructiveWaitMs) continue;
    busy.add(server);
    void remediate(server)
      .catch((err: unknown) => emit('error', { server, message: String(err) }))
      .finally(() => busy.delete(server));
  }
  emit('probed', { owned: owned.length, phase: cluster.phase(), servers: owned });
}

async function main(): Promise<void> {
  await cluster.start();
  emit('started', { pid: process.pid });
  let lastPhase = '';
  for (;;) {
    const phase = cluster.phase();
    if (phase !== lastPhase) emit('phase', { phase });
    lastPhase = phase;
    await pass();
    await sleep(cfg.probeMs);
  }
}

process.on('SIGTERM', () => {
  void cluster.stop().finally(() => process.exit(0));
});
void main();
