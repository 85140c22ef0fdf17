/**
 * A rendered runbook as lines people review: one line per step with its kind, id,
 * deadline and exactly what runs. `mamori runbook show` prints it and `mamori plan`
 * diffs it, so the same text is what a reviewer approves and what runs.
 */
import type { RenderedRunbook, RenderedStep } from './types.ts';

const seconds = (ms: number): string => `${Math.round(ms / 1000)}s`;

function what(step: RenderedStep): string {
  switch (step.kind) {
    case 'check': {
      const parts: string[] = [];
      if (step.process !== undefined) parts.push(step.pidFile === undefined ? `process ${step.process} running` : `process ${step.process} running with pid in ${step.pidFile}`);
      if (step.localConnectPort !== undefined) parts.push(`answers on 127.0.0.1:${step.localConnectPort}`);
      if (step.command !== undefined) parts.push(`exit ${step.expectExit ?? 0} from: ${step.command}`);
      return parts.join('; ');
    }
    case 'run': {
      const answer = step.answer === undefined ? '' : ` (answers "${step.answer.prompt}" from secret ${step.answer.secretKey})`;
      const failure = step.onFailure === 'continue' ? ' (continues on failure)' : '';
      return `${step.sudo ? 'as root' : 'as the management user'}: ${step.command}${answer}${failure}`;
    }
    case 'verify': {
      const parts: string[] = [];
      if (step.waitFor.length > 0) parts.push(`wait for ${step.waitFor.join(', ')} from outside`);
      if (step.process !== undefined) parts.push(`process ${step.process} running`);
      if (step.localConnectPort !== undefined) parts.push(`answers on 127.0.0.1:${step.localConnectPort}`);
      if (step.probe) parts.push('outside probe passes');
      return `within ${seconds(step.withinMs)}: ${parts.join('; ')}`;
    }
    case 'console':
      return step.action === 'check' ? 'look at the console: is the host alive?' : `on the console, as root: ${step.command ?? ''}`;
    case 'power':
      return `power ${step.action}`;
    case 'escalate':
      return `escalate ${step.reason}${step.message === undefined ? '' : `: ${step.message}`}`;
  }
}

/** The first line: which runbook, for what. The lines after it are the same for every server it renders alike. */
export function runbookHeader(r: RenderedRunbook): string {
  return `runbook ${r.runbook} (${r.origin}) for ${r.service} on ${r.server} (${r.address})`;
}

export function formatRenderedRunbook(r: RenderedRunbook): string[] {
  return [
    runbookHeader(r),
    `whole runbook within ${seconds(r.deadlineMs)}`,
    ...r.steps.map((step, i) => `${i + 1}. ${step.kind} ${step.id} [${seconds(step.deadlineMs)}] ${what(step)}`),
  ];
}
