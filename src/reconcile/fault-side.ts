/**
 * Whose move a fault is. A precondition the customer broke (the management key removed, the host
 * key changed, the networks blocked, a wrong pass phrase, another OS) is theirs to fix: they get one
 * mail that says what to do. One the provider broke (a secret missing from our store, a console
 * profile or BMC that does not answer, our own network) is ours: the operator hears at once, and
 * the customer hears once, in plain words, that we are on it — never our reason codes.
 *
 * A server-wide cause (no login, no secret, another host key) stops every repair on the server:
 * it is one server-level incident and one message, and the server's other failing services are
 * held under it (`ServerEscalated`). Pure: no I/O.
 */
import type { EscalationReason } from './types.ts';

export type FaultSide = 'customer' | 'provider';

export interface FaultClass {
  side: FaultSide;
  /** The cause stops every runbook on the server, not just this service's. */
  serverWide: boolean;
}

const ESCALATIONS: Partial<Record<EscalationReason, FaultClass>> = {
  HostKeyChanged: { side: 'customer', serverWide: true },
  ManagementAccessDenied: { side: 'customer', serverWide: true },
  OSMismatch: { side: 'customer', serverWide: true },
  AccessBlocked: { side: 'customer', serverWide: false },
  PassphraseRequired: { side: 'customer', serverWide: false },
  SecretMissing: { side: 'provider', serverWide: true },
  ConsoleUnavailable: { side: 'provider', serverWide: true },
};

/**
 * The class of an escalation reason; undefined for the ones that are no precondition (a budget
 * spent, a repair that did not verify): those keep the could-not-recover mail to the customer.
 */
export function escalationClass(reason: EscalationReason | undefined): FaultClass | undefined {
  return reason === undefined ? undefined : ESCALATIONS[reason];
}

/** Whether an escalation with this reason holds the server's other failing services, whenever they failed. */
export function isServerWide(reason: EscalationReason | undefined): boolean {
  return escalationClass(reason)?.serverWide === true;
}

/** The readiness causes (readiness-verdict.ts) that are the same fault as an escalation reason. */
const SAME_CAUSE: Partial<Record<EscalationReason, readonly string[]>> = {
  SecretMissing: ['SecretMissing'],
  ManagementAccessDenied: ['LoginRefused', 'SudoRefused'],
  HostKeyChanged: ['HostKeyChanged'],
  ConsoleUnavailable: ['ConsoleBroken'],
  PassphraseRequired: ['PassphraseRefused'],
};

/**
 * Whether a repair's escalation and the readiness check's cause are one fault: whichever found it
 * first told it, and the other says nothing more (one message per cause per server).
 */
export function sameCause(escalation: EscalationReason | undefined, readinessCause: string | undefined): boolean {
  if (escalation === undefined || readinessCause === undefined) return false;
  return SAME_CAUSE[escalation]?.includes(readinessCause) === true;
}
