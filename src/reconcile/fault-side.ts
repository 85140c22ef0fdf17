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

/** One key per fault, whether a repair's escalation or the readiness check found it. */
const CAUSE_KEY: Record<string, string> = {
  SecretMissing: 'secret',
  ManagementAccessDenied: 'login',
  LoginRefused: 'login',
  SudoRefused: 'login',
  HostKeyChanged: 'host-key',
  ConsoleUnavailable: 'console',
  ConsoleBroken: 'console',
  PassphraseRequired: 'passphrase',
  PassphraseRefused: 'passphrase',
};

/** The fault an escalation reason or a readiness cause names; undefined for the others. */
export function causeKey(reason: string | undefined): string | undefined {
  return reason === undefined ? undefined : CAUSE_KEY[reason];
}

/**
 * Whether a repair's escalation and the readiness check's cause are one fault: whichever found it
 * first tells it, and the other says nothing more (one message per cause per server).
 */
export function sameCause(escalation: EscalationReason | undefined, readinessCause: string | undefined): boolean {
  const a = causeKey(escalation);
  return a !== undefined && a === causeKey(readinessCause);
}

/**
 * Who told which fault of which server: the first to claim a (server, fault) tells it, the same
 * teller may tell it again (an escalation's two mails), anyone else stays quiet until it is released
 * (the readiness check passes again, or the teller's incident closes). Memory only: after a restart
 * the mails' own ids and the RecoveryReady condition keep what was told from being told again.
 */
export class ToldCauses {
  private readonly told = new Map<string, Map<string, string>>();

  /** true: tell it (first, or the same teller); false: someone else told it. */
  claim(server: string, reason: string | undefined, teller: string): boolean {
    const key = causeKey(reason);
    if (key === undefined) return true;
    let causes = this.told.get(server);
    if (causes === undefined) {
      causes = new Map();
      this.told.set(server, causes);
    }
    const by = causes.get(key);
    if (by === undefined) causes.set(key, teller);
    return by === undefined || by === teller;
  }

  /** Every fault of the server (it is ready again), or only those a teller told (its incident closed). */
  release(server: string, teller?: string): void {
    const causes = this.told.get(server);
    if (causes === undefined) return;
    for (const [key, by] of causes) if (teller === undefined || by === teller) causes.delete(key);
    if (causes.size === 0) this.told.delete(server);
  }
}
