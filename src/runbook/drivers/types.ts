/**
 * The console and power channel: what the executor uses when SSH, or the whole host, is
 * gone. The operator defines profiles (config `consoleProfiles`); a server names one.
 * A driver turns a profile + a server into a ConsoleChannel.
 */
import type { TargetCheck } from '../../manifest/target-networks.ts';
import type { ArgvResult } from './run-argv.ts';

export type PowerState = 'on' | 'off';
export type PowerAction = 'on' | 'off' | 'cycle';

export interface ConsoleCheck {
  /** The host answered on its console. */
  alive: boolean;
  /** false when the driver cannot look at the console at all (e.g. ipmi without a console command). */
  known: boolean;
  detail: string;
}

export interface ConsoleDriver {
  /** Runs a command on the server's console, as root. */
  run(command: string, opts: { deadlineMs: number; signal?: AbortSignal }): Promise<ArgvResult>;
  /** Whether the host answers on its console; never throws. */
  check(opts: { deadlineMs: number; signal?: AbortSignal }): Promise<ConsoleCheck>;
}

export interface PowerDriver {
  /** Throws MamoriError MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE when the BMC does not answer. */
  status(opts?: { deadlineMs?: number; signal?: AbortSignal }): Promise<PowerState>;
  set(action: PowerAction, opts?: { deadlineMs?: number; signal?: AbortSignal }): Promise<void>;
}

export type DriverName = 'ipmi' | 'command' | 'manual';

/** The operator's profiles as the config gives them (read-only; a mutable one fits too). */
export type IpmiProfile = { readonly driver: 'ipmi'; readonly cipherSuite?: number; readonly consoleCommand?: readonly string[] };
export type CommandProfile = { readonly driver: 'command'; readonly console: readonly string[]; readonly power?: readonly string[] };
export type ManualProfile = { readonly driver: 'manual'; readonly desk?: string };
export type ConsoleProfile = IpmiProfile | CommandProfile | ManualProfile;
export type ConsoleProfiles = { readonly [name: string]: ConsoleProfile | undefined };

export interface ConsoleChannel {
  profile: string;
  driver: DriverName;
  console?: ConsoleDriver;
  power?: PowerDriver;
  /** manual: the operations desk the request goes to. */
  desk?: string;
}

/** What a driver knows of the server: never more than the manifest's console block and address. */
export interface DriverServer {
  name: string;
  address: string;
  bmc?: string;
  bmcPort?: number;
  target?: string;
}

export interface DriverContext {
  server: DriverServer;
  profileName: string;
  /** The server's console credentials secret, resolved (`user:password` for ipmi). */
  credentials?: string;
  /** Every secret to scrub from driver output. */
  secrets: readonly string[];
  /** The ipmitool binary (default `ipmitool` on PATH). */
  ipmitool?: string;
  /** The operator's target networks: the BMC, and the address a console/power command is given, are checked at each call. */
  targets: TargetCheck;
}

/** The text a console check prints: alive only if it comes back. */
export const CONSOLE_ALIVE_MARKER = 'mamori-console-alive';
export const CONSOLE_CHECK_COMMAND = `echo ${CONSOLE_ALIVE_MARKER}; uptime`;
