/**
 * The review policy lint: why mamori cannot follow a customer's runbook, as findings
 * with the rule and the line of the offending field. Some checks hold for every
 * runbook (placeholders, step ids); the operator's policy applies to custom ones.
 * Pure: the caller loads the documents.
 */
import type { Finding, LoadedDocument, ReviewPolicyDocument, RunbookDocument, RunbookStep, ServerDocument, SourcePosition } from '../manifest/types.ts';
import { PLACEHOLDER_PATTERN, PLACEHOLDERS, stepKind } from './render.ts';
import { compilePolicy, judgeParsed, type CompiledPolicy } from './command-rules.ts';
import type { ParseOutcome } from './shell-command.ts';

type Policy = ReviewPolicyDocument['spec'];

/** The parser's outcome for a command text (src/runbook/shell-parser-pool.ts), looked up by the text. */
export type CommandLookup = (text: string) => ParseOutcome | undefined;

/** Findings for the policy document itself: a pattern that RE2 refuses (not linear-time, or not valid). */
export function lintPolicy(policy: LoadedDocument<ReviewPolicyDocument>): Finding[] {
  return compilePolicy(policy.doc.spec).problems.map((problem) => {
    const at = policy.positionOf(problem.field);
    return { file: policy.file, line: at.line, col: at.col, field: problem.field, rule: 'policy-pattern', severity: 'error' as const, message: problem.message };
  });
}

interface CommandField {
  field: string;
  text: string;
}

function commandFields(step: RunbookStep, index: number): CommandField[] {
  const base = `spec.steps[${index}]`;
  const out: CommandField[] = [];
  if (step.check?.command !== undefined) out.push({ field: `${base}.check.command`, text: step.check.command });
  if (step.run?.command !== undefined) out.push({ field: `${base}.run.command`, text: step.run.command });
  if (step.console?.command !== undefined) out.push({ field: `${base}.console.command`, text: step.console.command });
  return out;
}

/**
 * The line of `offset` in a command: the key's own line for a one-line value; for a
 * block scalar (`command: |`) the text starts on the line after the key.
 */
function lineOf(at: SourcePosition, text: string, offset: number): SourcePosition {
  if (!text.includes('\n')) return at;
  const before = text.slice(0, offset).split('\n').length - 1;
  return { line: at.line + 1 + before, col: at.col };
}

/** The line of a command's `row` (its line in the text, from 0). */
function rowLine(at: SourcePosition, text: string, row: number): SourcePosition {
  return text.includes('\n') ? { line: at.line + 1 + row, col: at.col } : at;
}

const ALLOW_HINT = 'an operator may allow this exact command in operator/policy.yaml (allowCommands)';

/** The review of one command field: what the operator's rules refuse in it, or why it cannot be judged. */
function commandFindings(text: string, outcome: ParseOutcome | undefined, policy: CompiledPolicy, customer: string | undefined, at: SourcePosition): Array<{ rule: string; message: string; at: SourcePosition }> {
  if (outcome === undefined) {
    return [{ rule: 'policy-timeout', message: 'refused: this command was not judged (an earlier command of the runbook used up its time budget)', at }];
  }
  if ('timeout' in outcome) {
    return [{ rule: 'policy-timeout', message: `refused: judging this command took longer than its time budget (${outcome.timeout} ms): write it as shorter, plainer commands`, at }];
  }
  if ('failed' in outcome) {
    return [{ rule: 'policy-timeout', message: `refused: this command could not be judged: ${outcome.failed}`, at }];
  }
  return judgeParsed(outcome.parsed, policy, { text, ...(customer !== undefined ? { customer } : {}) }).map((j) => ({
    rule: j.kind === 'forbidden' ? 'policy-forbidden-command' : 'policy-unreviewable',
    message: j.kind === 'forbidden' ? `refused by rule ${j.rule as string}: \`${j.shown}\`: ${j.reason}` : `refused as unreviewable: \`${j.shown}\`: ${j.reason}; ${ALLOW_HINT}`,
    at: rowLine(at, text, j.row),
  }));
}

export function lintRunbook(
  doc: LoadedDocument<RunbookDocument>,
  policy: ReviewPolicyDocument | LoadedDocument<ReviewPolicyDocument> | undefined,
  commands: CommandLookup = () => undefined,
): Finding[] {
  const findings: Finding[] = [];
  const spec = doc.doc.spec;
  const custom = doc.owner.kind === 'customer';
  const add = (field: string, rule: string, message: string, at: SourcePosition = doc.positionOf(field), severity: Finding['severity'] = 'error'): void => {
    findings.push({ file: doc.file, line: at.line, col: at.col, field, rule, severity, message });
  };

  // Checks for every runbook: what would fail only at render time, found at review.
  const ids = new Map<string, number>();
  const servicesWithoutPort = spec.services.filter((s) => s === 'ping');
  spec.steps.forEach((step, index) => {
    const base = `spec.steps[${index}]`;
    if (step.id !== undefined) {
      const first = ids.get(step.id);
      if (first !== undefined) add(`${base}.id`, 'runbook-step-id', `step id "${step.id}" is already used by step ${first + 1}`);
      else ids.set(step.id, index);
    }
    const texts: CommandField[] = [...commandFields(step, index)];
    if (step.description !== undefined) texts.push({ field: `${base}.description`, text: step.description });
    if (step.escalate?.message !== undefined) texts.push({ field: `${base}.escalate.message`, text: step.escalate.message });
    for (const { field, text } of texts) {
      for (const match of text.matchAll(PLACEHOLDER_PATTERN)) {
        const name = match[1] ?? '';
        const at = lineOf(doc.positionOf(field), text, match.index);
        if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
          add(field, 'runbook-placeholder', `unknown placeholder {{${name}}}; known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`, at);
        } else if (name === 'service.port' && servicesWithoutPort.length > 0) {
          add(field, 'runbook-placeholder', '{{service.port}} has no value for ping, which this runbook repairs', at);
        }
      }
    }
    if (servicesWithoutPort.length > 0) {
      for (const look of ['check', 'verify'] as const) {
        const connect = step[look]?.localConnect;
        if (connect !== undefined && connect.port === undefined) {
          add(`${base}.${look}.localConnect`, 'runbook-local-connect', 'localConnect needs a port, and ping has none: give localConnect.port');
        }
      }
    }
  });

  if (!custom) {
    if (spec.appliesTo === undefined || spec.appliesTo.length === 0) {
      add('spec', 'runbook-applies-to', 'a standard runbook needs appliesTo: the operating systems it suits', doc.positionOf('spec'), 'warning');
    }
    return findings;
  }
  if (spec.appliesTo !== undefined) {
    add('spec.appliesTo', 'runbook-applies-to', 'appliesTo is ignored in a custom runbook: a server names its custom runbook in spec.runbooks', doc.positionOf('spec.appliesTo'), 'warning');
  }
  if (policy === undefined) return findings;
  const rules: Policy = 'doc' in policy ? policy.doc.spec : policy.spec;

  // The operator's policy, for the customer's own runbooks.
  const maxSteps = rules.maxSteps ?? 12;
  if (spec.steps.length > maxSteps) {
    add(`spec.steps[${maxSteps}]`, 'policy-max-steps', `a custom runbook may have at most ${maxSteps} steps; this one has ${spec.steps.length}`);
  }
  if (rules.maxRunbookDeadlineSeconds !== undefined && spec.deadlineSeconds !== undefined && spec.deadlineSeconds > rules.maxRunbookDeadlineSeconds) {
    add('spec.deadlineSeconds', 'policy-runbook-deadline', `a custom runbook may run at most ${rules.maxRunbookDeadlineSeconds} s; this one asks for ${spec.deadlineSeconds} s`);
  }
  const allowedPower = rules.customPower ?? [];
  const acting = spec.steps.some((s) => s.run !== undefined || s.power !== undefined || s.console?.action === 'run');
  spec.steps.forEach((step, index) => {
    const base = `spec.steps[${index}]`;
    if (rules.maxStepDeadlineSeconds !== undefined) {
      if (step.deadlineSeconds !== undefined && step.deadlineSeconds > rules.maxStepDeadlineSeconds) {
        add(`${base}.deadlineSeconds`, 'policy-step-deadline', `a custom step may run at most ${rules.maxStepDeadlineSeconds} s; this one asks for ${step.deadlineSeconds} s`);
      }
      if (step.verify?.withinSeconds !== undefined && step.verify.withinSeconds > rules.maxStepDeadlineSeconds) {
        add(`${base}.verify.withinSeconds`, 'policy-step-deadline', `a custom verify may wait at most ${rules.maxStepDeadlineSeconds} s; this one asks for ${step.verify.withinSeconds} s`);
      }
    }
    if (step.power !== undefined && !allowedPower.includes(step.power.action)) {
      add(`${base}.power.action`, 'policy-power', allowedPower.length === 0
        ? `power actions are not allowed in custom runbooks (power ${step.power.action}): the operator's ping runbook looks at the console and recovers power`
        : `power ${step.power.action} is not allowed in custom runbooks; allowed: ${allowedPower.join(', ')}`);
    }
    if (step.console !== undefined && rules.customConsole !== true) {
      add(`${base}.console`, 'policy-console', "the console is not available to custom runbooks: it is the operator's channel for a server SSH cannot reach");
    }
    if (step.run?.sudo === false && rules.allowSudoFalse === false) {
      add(`${base}.run.sudo`, 'policy-sudo', 'custom commands run through sudo; sudo: false is not allowed');
    }
    for (const { field, text } of commandFields(step, index)) {
      const customer = doc.owner.kind === 'customer' ? doc.owner.customer : undefined;
      for (const f of commandFindings(text, commands(text), compilePolicy(rules), customer, doc.positionOf(field))) add(field, f.rule, f.message, f.at);
    }
  });
  const loginServices = spec.services.filter((s) => s !== 'ping' && s !== 'ssh');
  if (rules.requireOpeningCheck !== false && loginServices.length > 0 && acting && spec.steps[0]?.check === undefined) {
    add('spec.steps[0]', 'policy-opening-check', `a custom runbook for ${loginServices.join(', ')} must open with a check step (log in and look before acting): a service that still answers on the server is blocked on the way, and restarting it would hide that`);
  }
  const last = spec.steps[spec.steps.length - 1];
  if (rules.requireVerify !== false && acting && last !== undefined && stepKind(last) !== 'verify' && stepKind(last) !== 'escalate') {
    add(`spec.steps[${spec.steps.length - 1}]`, 'policy-verify', 'a custom runbook that acts must end with a verify step: a service is recovered only when the outside probe passes again');
  }
  return findings;
}

/**
 * A server that names a custom runbook must hold every secret the runbook's prompts
 * are answered from: otherwise the prompt would wait, unanswered, until the deadline.
 */
export function lintServerRunbookSecrets(
  server: LoadedDocument<ServerDocument>,
  runbookFor: (name: string) => LoadedDocument<RunbookDocument> | undefined,
): Finding[] {
  const findings: Finding[] = [];
  for (const [service, name] of Object.entries(server.doc.spec.runbooks ?? {})) {
    const runbook = name === undefined ? undefined : runbookFor(name);
    if (runbook === undefined || runbook.owner.kind !== 'customer') continue;
    for (const step of runbook.doc.spec.steps) {
      const secret = step.run?.answer?.secret;
      if (secret === undefined || server.doc.spec.secrets?.[secret] !== undefined) continue;
      const field = `spec.runbooks.${service}`;
      const at = server.positionOf(field);
      findings.push({
        file: server.file, line: at.line, col: at.col, field, rule: 'runbook-secret', severity: 'error',
        message: `runbook ${name} answers a prompt with the secret "${secret}", which this server does not list in spec.secrets`,
      });
    }
  }
  return findings;
}

/** What the loader's semantic-check hook hands over (src/manifest's CheckInput). */
export interface PolicyCheckInput {
  servers: readonly LoadedDocument<ServerDocument>[];
  runbooks: readonly LoadedDocument<RunbookDocument>[];
  policy: LoadedDocument<ReviewPolicyDocument>;
}

/** The review policy as one of `validate`'s semantic checks, judging commands from the parser's outcomes. */
export function reviewPolicyCheck(commands: CommandLookup): { name: string; check(input: PolicyCheckInput): Finding[] } {
  return {
  name: 'review-policy',
  check(input: PolicyCheckInput): Finding[] {
    const byCustomer = new Map<string, LoadedDocument<RunbookDocument>>();
    for (const r of input.runbooks) byCustomer.set(`${r.owner.kind === 'customer' ? r.owner.customer : ''}/${r.doc.metadata.name}`, r);
    return [
      ...lintPolicy(input.policy),
      ...input.runbooks.flatMap((r) => lintRunbook(r, input.policy, commands)),
      ...input.servers.flatMap((s) => lintServerRunbookSecrets(s, (name) => byCustomer.get(`${s.doc.metadata.customer ?? ''}/${name}`))),
    ];
  },
  };
}

/** The command texts of a custom runbook, as the review reads them. */
export function customRunbookCommands(doc: RunbookDocument): string[] {
  return doc.spec.steps.flatMap((step, index) => commandFields(step, index).map((f) => f.text));
}
