/**
 * The readiness check's report judged: one cause per server (the first that applies, server-wide
 * ones first), whose move it is (fault-side.ts), and the `RecoveryReady` condition the status file
 * shows. Pure: the report and what the probes know about the host come in, a verdict goes out.
 */
import type { ReadinessReport } from '../runbook/readiness.ts';
import type { FaultSide } from './fault-side.ts';

/** PascalCase causes, as the condition's reason. */
export type ReadinessCause =
  | 'HostKeyChanged'
  | 'LoginRefused'
  | 'SudoRefused'
  | 'NetworkBlocked'
  | 'PassphraseRefused'
  | 'SecretMissing'
  | 'ConsoleBroken'
  | 'MonitorNetwork'
  | 'TargetRefused';

const CLASSES: Record<ReadinessCause, { side: FaultSide; serverWide: boolean }> = {
  HostKeyChanged: { side: 'customer', serverWide: true },
  LoginRefused: { side: 'customer', serverWide: true },
  SudoRefused: { side: 'customer', serverWide: true },
  NetworkBlocked: { side: 'customer', serverWide: true },
  PassphraseRefused: { side: 'customer', serverWide: false },
  SecretMissing: { side: 'provider', serverWide: true },
  ConsoleBroken: { side: 'provider', serverWide: false },
  MonitorNetwork: { side: 'provider', serverWide: true },
  TargetRefused: { side: 'provider', serverWide: true },
};

export function readinessCauseClass(cause: ReadinessCause): { side: FaultSide; serverWide: boolean } {
  return CLASSES[cause];
}

export function isReadinessCause(reason: string): reason is ReadinessCause {
  return Object.hasOwn(CLASSES, reason);
}

export type ReadinessVerdict =
  | { status: 'True'; message: string }
  | { status: 'False'; cause: ReadinessCause; side: FaultSide; serverWide: boolean; message: string }
  /** Not judged: the host itself does not answer (the probes and the host runbook deal with that). */
  | { status: 'Unknown'; reason: string; message: string };

export interface ReadinessContext {
  /** Whether the server answered any probe lately (its newest probes). undefined = not probed yet. */
  hostAnswers: boolean | undefined;
  /** Many servers unreachable in the same round: mamori's own network is the likely fault. */
  monitorSuspect: boolean;
}

function verdict(cause: ReadinessCause, message: string): ReadinessVerdict {
  return { status: 'False', cause, ...CLASSES[cause], message };
}

/** The report's problems in order of precedence; the first is the server's cause. */
export function judgeReadiness(report: Pick<ReadinessReport, 'conditions' | 'problems'>, ctx: ReadinessContext): ReadinessVerdict {
  const cond = (type: string): ReadinessReport['conditions'][number] | undefined => report.conditions.find((c) => c.type === type);
  const management = cond('ManagementAccessDenied');
  const hostKey = cond('HostKeyChanged');
  const problem = (reason: string): { message: string } | undefined => report.problems.find((p) => p.reason === reason);

  if (hostKey?.status === 'True') return verdict('HostKeyChanged', hostKey.message);
  const secret = problem('SecretMissing');
  if (management?.reason === 'CredentialsMissing') return verdict('SecretMissing', management.message);
  if (management?.reason === 'TargetRefused') return verdict('TargetRefused', management.message);
  if (management?.status === 'True') return verdict(management.reason === 'SudoRefused' ? 'SudoRefused' : 'LoginRefused', management.message);
  if (management?.reason === 'NoCommonAlgorithm') return verdict('LoginRefused', management.message);
  if (management !== undefined && management.status === 'Unknown' && management.reason !== 'NotChecked') {
    // No connection to SSH at all: our own network when many servers fail together; the
    // customer's firewall when the host still answers our probes; else the host is down, which
    // is the probes' business, not the readiness check's.
    if (ctx.monitorSuspect) return verdict('MonitorNetwork', management.message);
    if (ctx.hostAnswers === true) return verdict('NetworkBlocked', `the host answers our probes, but SSH does not: ${management.message}`);
    return { status: 'Unknown', reason: 'HostUnreachable', message: `not judged: the host does not answer (${management.message})` };
  }
  if (secret !== undefined) return verdict('SecretMissing', secret.message);
  const pass = problem('PassphraseRefused');
  if (pass !== undefined) return verdict('PassphraseRefused', pass.message);
  const consoleProblem = report.problems.find((p) => p.reason === 'BmcUnreachable' || p.reason === 'ConsoleProfileMissing' || p.reason === 'ConsoleMissing');
  if (consoleProblem !== undefined) return verdict('ConsoleBroken', consoleProblem.message);
  const target = problem('TargetRefused');
  if (target !== undefined) return verdict('TargetRefused', target.message);
  return { status: 'True', message: 'login with the pinned host key, sudo, every secret and the console answer' };
}
