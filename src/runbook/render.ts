/**
 * A runbook rendered for one server and one service: step ids and deadlines filled in,
 * manifest values placed into commands shell-quoted. Pure: the same input gives the
 * same steps, so `runbook show`, `plan` and the executor agree on what runs.
 */
import { MamoriError } from '../errors.ts';
import { servicePort, serviceSettings } from '../manifest/services.ts';
import type { RunbookDocument, RunbookStep, ServerDocument, ServiceName } from '../manifest/types.ts';
import { DEFAULT_PORT, DEFAULT_PROCESS } from './service-defaults.ts';
import { shellQuote } from './shell-quote.ts';
import type { RenderedRunbook, RenderedStep, StepCommon } from './types.ts';

export const DEFAULT_STEP_DEADLINE_SECONDS = 60;
export const DEFAULT_RUNBOOK_DEADLINE_SECONDS = 300;
export const DEFAULT_VERIFY_WITHIN_SECONDS = 30;

export const PLACEHOLDERS = ['server.name', 'server.address', 'service.name', 'service.port', 'service.process'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export const PLACEHOLDER_PATTERN = /\{\{\s*([^{}]*?)\s*\}\}/g;

export interface ServiceFacts {
  port: number | undefined;
  process: string | undefined;
}

export function serviceFacts(server: ServerDocument, service: ServiceName, runbook: RunbookDocument): ServiceFacts {
  return {
    port: servicePort(server, service) ?? DEFAULT_PORT[service],
    process: serviceSettings(server, service)?.process ?? runbook.spec.process ?? DEFAULT_PROCESS[service],
  };
}

function fail(runbook: RunbookDocument, server: ServerDocument, message: string): never {
  throw new MamoriError('MAMORI_RUNBOOK_UNRENDERABLE', `runbook ${runbook.metadata.name} for server ${server.metadata.name}: ${message}`, {
    details: { runbook: runbook.metadata.name, server: server.metadata.name },
  });
}

export function renderRunbook(
  server: ServerDocument,
  service: ServiceName,
  runbook: RunbookDocument,
  origin: 'custom' | 'standard' = runbook.metadata.customer === undefined ? 'standard' : 'custom',
): RenderedRunbook {
  const facts = serviceFacts(server, service, runbook);
  const values: Record<Placeholder, string | undefined> = {
    'server.name': server.metadata.name,
    'server.address': server.spec.address,
    'service.name': service,
    'service.port': facts.port === undefined ? undefined : String(facts.port),
    'service.process': facts.process,
  };
  const value = (name: string, where: string): string => {
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      fail(runbook, server, `${where}: unknown placeholder {{${name}}} (known: ${PLACEHOLDERS.join(', ')})`);
    }
    const v = values[name as Placeholder];
    if (v === undefined) fail(runbook, server, `${where}: {{${name}}} has no value for ${service}`);
    return v;
  };
  const command = (text: string, where: string): string => text.replace(PLACEHOLDER_PATTERN, (_m, name: string) => shellQuote(value(name, where)));
  const prose = (text: string, where: string): string => text.replace(PLACEHOLDER_PATTERN, (_m, name: string) => value(name, where));
  const processName = (name: string | undefined, where: string): string | undefined => {
    if (name === undefined) return undefined;
    return name.replace(PLACEHOLDER_PATTERN, (_m, inner: string) => value(inner, where));
  };
  const port = (given: number | undefined, where: string): number => {
    const p = given ?? facts.port;
    if (p === undefined) fail(runbook, server, `${where}: localConnect needs a port and ${service} has none`);
    return p;
  };

  const steps = runbook.spec.steps.map((step: RunbookStep, index): RenderedStep => {
    const where = `step ${index + 1}`;
    const kind = stepKind(step);
    const common: StepCommon = {
      id: step.id ?? `${kind}-${index + 1}`,
      deadlineMs: (step.deadlineSeconds ?? DEFAULT_STEP_DEADLINE_SECONDS) * 1000,
      ...(step.description === undefined ? {} : { description: prose(step.description, where) }),
    };
    if (step.check !== undefined) {
      const look = step.check;
      return {
        kind: 'check',
        ...common,
        ...(look.process === undefined ? {} : { process: processName(look.process, where) }),
        ...(look.pidFile === undefined ? {} : { pidFile: look.pidFile }),
        ...(look.localConnect === undefined ? {} : { localConnectPort: port(look.localConnect.port, where) }),
        ...(look.command === undefined ? {} : { command: command(look.command, where), expectExit: look.expectExit ?? 0 }),
      };
    }
    if (step.run !== undefined) {
      const run = step.run;
      // A standard runbook asks for a secret only a server that has one can give (the
      // SSL pass phrase): without it the command runs as it is. A custom runbook keeps
      // its answer, so a missing secret is reported instead of silently ignored.
      const hasSecret = run.answer !== undefined && server.spec.secrets?.[run.answer.secret] !== undefined;
      const keepAnswer = run.answer !== undefined && (hasSecret || origin === 'custom');
      return {
        kind: 'run',
        ...common,
        command: command(run.command, where),
        sudo: run.sudo ?? true,
        ...(keepAnswer && run.answer !== undefined ? { answer: { prompt: run.answer.prompt, secretKey: run.answer.secret } } : {}),
        onFailure: run.onFailure ?? 'stop',
      };
    }
    if (step.verify !== undefined) {
      const verify = step.verify;
      const withinMs = (verify.withinSeconds ?? DEFAULT_VERIFY_WITHIN_SECONDS) * 1000;
      return {
        kind: 'verify',
        ...common,
        // A verify that waits longer than a step may run gets the room to do it.
        deadlineMs: step.deadlineSeconds === undefined ? Math.max(common.deadlineMs, withinMs + 30_000) : common.deadlineMs,
        ...(verify.process === undefined ? {} : { process: processName(verify.process, where) }),
        ...(verify.localConnect === undefined ? {} : { localConnectPort: port(verify.localConnect.port, where) }),
        probe: verify.probe ?? true,
        waitFor: [...(verify.waitFor ?? [])],
        withinMs,
      };
    }
    if (step.console !== undefined) {
      return {
        kind: 'console',
        ...common,
        action: step.console.action,
        ...(step.console.command === undefined ? {} : { command: command(step.console.command, where) }),
      };
    }
    if (step.power !== undefined) return { kind: 'power', ...common, action: step.power.action };
    if (step.escalate !== undefined) {
      return {
        kind: 'escalate',
        ...common,
        reason: step.escalate.reason,
        ...(step.escalate.message === undefined ? {} : { message: prose(step.escalate.message, where) }),
      };
    }
    return fail(runbook, server, `${where}: a step must be one of check, run, verify, console, power, escalate`);
  });

  return {
    runbook: runbook.metadata.name,
    origin,
    server: server.metadata.name,
    service,
    address: server.spec.address,
    deadlineMs: (runbook.spec.deadlineSeconds ?? DEFAULT_RUNBOOK_DEADLINE_SECONDS) * 1000,
    steps,
  };
}

export type StepKind = RenderedStep['kind'];
const KINDS: readonly StepKind[] = ['check', 'run', 'verify', 'console', 'power', 'escalate'];

export function stepKind(step: RunbookStep): StepKind | 'unknown' {
  return KINDS.find((k) => step[k] !== undefined) ?? 'unknown';
}
