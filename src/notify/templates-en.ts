/**
 * English messages: the same facts and order as the Japanese ones, in plain, courteous English.
 * The first paragraph alone says what happened, what was done and whether the reader must act.
 */
import { failureLabel, formatDuration, localized, pingFailureLabel, serverLabel, serviceLabel } from './format.ts';
import type { Block } from './layout.ts';
import { elide, greetingEn, hostsAllowForm, type TemplateContext, type TemplateSet } from './template-context.ts';
import { monthlyReportEn } from './template-monthly-report.ts';
import { certificateExpiringEn, certificateInvalidEn } from './template-certificate.ts';
import type {
  ChangeRefusedFacts,
  CouldNotRecoverReason,
  Notification,
  NotificationKind,
  ProbeFailureSummary,
  ReadinessCheck,
  StepSummary,
} from './types.ts';
import type { ServiceName } from '../vocabulary.ts';

const CLOSING = 'If you have any questions, please reply to this e-mail.\nKind regards,';

function greeting(n: Notification): string {
  return greetingEn(n.to, n.server?.customer);
}

function signature(ctx: TemplateContext, n: Notification): Block {
  const lines = [ctx.providerName, 'This message was sent automatically by our monitoring system.'];
  if (n.incident) lines.push(`Reference: ${n.incident.id}`);
  return { type: 'signature', lines };
}

function serverLine(n: Notification): string {
  return n.server ? `${serverLabel(n.server)} (${n.server.address})` : '';
}

function svc(n: Notification): string {
  return n.service ? serviceLabel(n.service, n.port) : 'the service';
}

function failureText(f: ProbeFailureSummary, service: ServiceName | undefined): string {
  const what = service === 'ping' ? `pinged ${f.target}` : `tried to connect to ${f.target}`;
  const lines = [`When our monitoring servers ${what}, ${service === 'ping' ? pingFailureLabel(f.kind, 'en') : failureLabel(f.kind, 'en')}.`];
  if (f.message) lines.push(`(Detail: ${f.message})`);
  return lines.join('\n');
}

const STEP_DEFAULT_TITLE: Record<StepSummary['type'], string> = {
  check: 'Check the state',
  run: 'Run a command',
  'answer-prompt': 'Answer the start-up prompt',
  verify: 'Verify the recovery',
  console: 'Check on the console',
  power: 'Power-cycle the server',
};

function stepOutcome(step: StepSummary): string {
  const code = step.exitCode !== undefined && step.exitCode !== 0 ? ` (exit code ${step.exitCode})` : '';
  switch (step.outcome) {
    case 'skipped':
      return 'not done';
    case 'timeout':
      return 'did not finish in time';
    case 'ok':
      return step.type === 'check' ? 'no problem found' : step.type === 'verify' ? 'confirmed' : 'done';
    case 'failed':
      return step.type === 'check' ? `problem found${code}` : step.type === 'verify' ? `not confirmed${code}` : `failed${code}`;
  }
}

function steps(list: StepSummary[], ctx: TemplateContext): Block {
  if (list.length === 0) return { type: 'p', text: '  (No steps were taken.)' };
  return {
    type: 'steps',
    steps: list.map((s) => {
      const at = s.startedAt ? `${ctx.time(s.startedAt)} ` : '';
      const title = s.title !== undefined ? localized(s.title, 'en') : STEP_DEFAULT_TITLE[s.type];
      const step: { text: string; command?: string; output?: string } = { text: `${at}${title} → ${stepOutcome(s)}` };
      if (s.command !== undefined) step.command = s.command;
      if (s.output !== undefined) step.output = s.output;
      return step;
    }),
  };
}

function answerCheck(service: ServiceName | undefined): string {
  if (service === 'http' || service === 'https') return 'it answers a HEAD request normally';
  if (service === 'ping') return 'it answers ping';
  return 'it answers connections normally';
}

const REASON: Record<CouldNotRecoverReason, { why: string; ask: string }> = {
  'budget-exhausted': {
    why: 'The service failed repeatedly within a short time, and the limit on restarts was reached.',
    ask: 'A service that keeps stopping usually has a cause such as a configuration error, a full disk, a lack of memory or a surge of traffic. Please log in to the server and check the service and its logs.',
  },
  'verify-failed': {
    why: 'The restart completed, but the service did not answer when we checked afterwards.',
    ask: 'The service may be unable to start (for example a configuration error or a full disk). Please log in to the server and check the service and its logs.',
  },
  'step-failed': {
    why: 'A command of the procedure failed, so we stopped the work.',
    ask: 'The service may be unable to start (for example a configuration error or a full disk). Please log in to the server and check the service and its logs.',
  },
  'login-failed': {
    why: 'We could not log in to the server with our management account, so no work could be done.',
    ask: 'If you have changed or removed the password of our management account, please send us the management user\'s password. Please also check that your firewall or TCP wrappers do not block SSH from our management networks.',
  },
  'console-alive-network-down': {
    why: 'The server is running on its console but does not answer on the network. We did not power-cycle it, to avoid stopping a running server.',
    ask: 'A change to the network or firewall settings is the likely cause. If you changed them recently, please check them. We continue to look into it as well.',
  },
  unexpected: {
    why: 'Something unexpected happened during the work, and we stopped to be safe.',
    ask: 'Our staff will look into the situation and contact you again. If it is urgent, please check the server yourself.',
  },
};

const READINESS: Record<ReadinessCheck, { label: string; ask: string }> = {
  'management-login': {
    label: 'Login with our management account',
    ask: 'We could not log in to the server with our management account. If you removed or changed its password, you must send us the management user\'s password in advance.',
  },
  'host-key': {
    label: 'The server\'s SSH host key',
    ask: 'The server presents an SSH host key other than the one we registered, so we did not log in (it could be another machine). If you reinstalled the server or replaced its SSH host key, please tell us the new key\'s fingerprint through the agreed channel.',
  },
  networks: {
    label: 'Connections from our management networks',
    ask: 'The server answers our monitoring, but SSH from our management networks is blocked. Please allow SSH (and the watched services) from our management networks in your firewall or TCP wrappers settings.',
  },
  os: {
    label: 'The operating system',
    ask: 'The server runs another operating system than the one we registered, so our procedures cannot be used on it. Please tell us about the change so that we can update the registration.',
  },
  'ssl-passphrase': {
    label: 'SSL pass phrase of the web server',
    ask: 'The web server asks for an SSL pass phrase when it starts, and the pass phrase we hold did not work. A restart of httpd needs it, so please send us the pass phrase.',
  },
  bmc: {
    label: 'Console (BMC) access',
    ask: 'We could not connect to the server\'s console (BMC). If the server stops answering ping, we cannot check it on the console or power-cycle it. If you changed the BMC settings or password, please let us know.',
  },
};

const SIGNATURE_EN: Record<ChangeRefusedFacts['changes'][number]['signature'], string> = {
  good: 'signed by',
  unsigned: 'not signed',
  'unknown-key': 'signed with a key that is not among the signers',
  bad: 'with a bad signature',
  expired: 'signed with an expired key',
  revoked: 'signed with a revoked key',
};

const KIND_SHORT: Record<NotificationKind, string> = {
  recovered: 'recovered',
  'could-not-recover': 'could not recover',
  'access-blocked': 'blocked from our monitoring networks',
  'not-ready': 'not ready for recovery',
  'provider-fault': 'recovery blocked on our side',
  'provider-working': 'our staff are fixing a problem on our side',
  'readiness-restored': 'ready for recovery again',
  'revision-refused': 'revision refused',
  'revision-held': 'revision held',
  'change-refused': 'change refused (signer)',
  'mass-failure-paused': 'recovery paused (mass failure)',
  'console-check-requested': 'console check requested',
  digest: 'digest',
  'monthly-report': 'monthly report',
  'certificate-expiring': 'SSL certificate expiring',
  'certificate-invalid': 'SSL certificate cannot be verified',
};

function target(n: Notification): string {
  return [n.server !== undefined ? serverLabel(n.server) : undefined, n.service].filter((x) => x !== undefined).join(' ');
}

export const EN: TemplateSet = {
  recovered(n, ctx) {
    const f = n.facts;
    const remedy = f.remedy.type === 'restart-service' ? `restart of ${f.remedy.unit}` : f.remedy.type === 'power-cycle' ? 'power-cycle of the server' : 'none (recovered by itself)';
    const intro =
      f.remedy.type === 'none'
        ? `We detected a failure of ${svc(n)} on your server ${serverLine(n)}; the service recovered before any work was needed.`
        : `We detected a failure of ${svc(n)} on your server ${serverLine(n)} and, following the first-response procedure, performed a ${remedy}.`;
    const verified: string[] = [];
    if (f.verification.process) verified.push(`The ${f.verification.process} process is running (checked with ps).`);
    if (f.verification.localConnect) verified.push('The service answers on the server itself.');
    verified.push(`At ${ctx.dt(f.verification.externalProbe.at)}, our monitoring servers connected to ${f.verification.externalProbe.target} and confirmed that ${answerCheck(n.service)}.`);
    const rows: Array<[string, string]> = [
      ['Server', serverLine(n)],
      ['Service', svc(n)],
      ['Detected', ctx.dt(f.detectedAt)],
      ['Recovered', ctx.dt(f.recoveredAt)],
      ['Down for', `${formatDuration(Date.parse(f.recoveredAt) - Date.parse(f.detectedAt), 'en')} (detection to recovery)`],
      ['Action', remedy],
    ];
    if (f.runbook) rows.push(['Procedure', f.runbook]);
    return {
      subject: `${target(n)}: recovered`,
      blocks: [
        { type: 'p', text: greeting(n) },
        { type: 'p', text: `${intro}\nThe service is answering normally again.` },
        { type: 'p', text: 'No action is needed on your side.' },
        { type: 'heading', text: 'Summary' },
        { type: 'fields', rows },
        { type: 'heading', text: 'What failed' },
        { type: 'p', text: failureText(f.failure, n.service) },
        { type: 'heading', text: 'What we did' },
        steps(f.steps, ctx),
        { type: 'heading', text: 'How we verified it' },
        { type: 'list', items: verified },
        { type: 'p', text: `If this failure happens again, we suggest checking the server's load and logs.\n${CLOSING}` },
        signature(ctx, n),
      ],
    };
  },

  'could-not-recover'(n, ctx) {
    const f = n.facts;
    const reason = REASON[f.reason];
    const state = [
      f.stateNow.up
        ? `At ${ctx.dt(f.stateNow.checkedAt)}, ${svc(n)} was answering.`
        : `At ${ctx.dt(f.stateNow.checkedAt)}, ${svc(n)} was still not answering.`,
    ];
    if (f.stateNow.detail) state.push(`(Detail: ${f.stateNow.detail})`);
    state.push(
      f.remediationHeld
        ? 'To avoid repeating the same work, automatic recovery of this service is on hold. Monitoring continues, and normal handling resumes once the service is seen to recover.'
        : 'Monitoring continues.',
    );
    const rows: Array<[string, string]> = [
      ['Server', serverLine(n)],
      ['Service', svc(n)],
      ['Detected', ctx.dt(f.detectedAt)],
    ];
    if (f.runbook) rows.push(['Procedure', f.runbook]);
    return {
      subject: `${target(n)}: could not recover (status report)`,
      blocks: [
        { type: 'p', text: greeting(n) },
        {
          type: 'p',
          text: `We detected a failure of ${svc(n)} on your server ${serverLine(n)} and followed the first-response procedure, but could not recover it.\n${reason.why}\nThis is a report of the current state.`,
        },
        { type: 'heading', text: 'State now' },
        { type: 'p', text: state.join('\n') },
        { type: 'heading', text: 'What we ask you to do' },
        { type: 'p', text: reason.ask },
        { type: 'heading', text: 'Summary' },
        { type: 'fields', rows },
        { type: 'heading', text: 'What failed' },
        { type: 'p', text: failureText(f.failure, n.service) },
        { type: 'heading', text: 'What we tried' },
        steps(f.steps, ctx),
        { type: 'p', text: `We apologise for the inconvenience.\n${CLOSING}` },
        signature(ctx, n),
      ],
    };
  },

  'access-blocked'(n, ctx) {
    const f = n.facts;
    const missing = f.missingNetworks;
    const evidence =
      missing !== undefined
        ? (f.vantages ?? []).map((v) => `From our management network ${v.network} (${v.vantage}) to ${f.external.target}: ${v.up ? 'answered normally' : failureLabel(f.external.kind, 'en')} (${ctx.dt(v.at)})`)
        : [`From our monitoring servers${f.sourceAddress ? ` (${f.sourceAddress})` : ''} to ${f.external.target}: ${failureLabel(f.external.kind, 'en')}`];
    if (missing === undefined && f.process) evidence.push(`The ${f.process} process on the server: running`);
    if (missing === undefined) evidence.push(`A connection on the server itself: answered normally${f.local.command ? `\n$ ${f.local.command}` : ''}${f.local.result ? `\n> ${f.local.result}` : ''}`);
    const nets = missing ?? f.managementNetworks;
    const why =
      missing !== undefined
        ? `Our monitoring servers on ${missing.join(', ')} cannot connect to ${svc(n)} on your server ${serverLine(n)}, while those on our other management network reach it normally. A firewall or TCP wrappers setting most likely allows only some of our management networks: ${missing.join(', ')} is missing.`
        : `Our monitoring servers cannot connect to ${svc(n)} on your server ${serverLine(n)}.\nWe logged in and found the service running and answering on the server itself, so a firewall or TCP wrappers setting is most likely blocking our management networks.`;
    const example = [
      'TCP wrappers (/etc/hosts.allow), for example:',
      `  ALL: ${nets.map(hostsAllowForm).join(' ')}`,
      'iptables, for example:',
      ...nets.map((net) => `  iptables -I INPUT -s ${net} -j ACCEPT`),
    ].join('\n');
    return {
      subject: `${target(n)}: blocked from our monitoring networks`,
      blocks: [
        { type: 'p', text: greeting(n) },
        { type: 'p', text: why },
        { type: 'p', text: missing !== undefined ? 'Because the service answers from our other network, we did not restart anything.' : 'Because the service itself is running, we did not restart anything.' },
        { type: 'heading', text: 'What we ask you to do' },
        { type: 'p', text: 'This service connects to and monitors your server from our management networks. If you filter connections with a firewall or TCP wrappers, please allow connections from these networks:' },
        { type: 'code', text: nets.join('\n') },
        { type: 'p', text: 'Examples (adapt them to your setup; with FreeBSD\'s ipfw or pf, allow the same networks):' },
        { type: 'code', text: example },
        { type: 'p', text: 'Once our monitoring servers can connect again, normal monitoring resumes by itself.' },
        { type: 'heading', text: 'What we checked' },
        { type: 'list', items: evidence },
        { type: 'heading', text: 'Summary' },
        {
          type: 'fields',
          rows: [
            ['Server', serverLine(n)],
            ['Service', svc(n)],
            ['Detected', ctx.dt(f.detectedAt)],
          ],
        },
        { type: 'p', text: CLOSING },
        signature(ctx, n),
      ],
    };
  },

  'not-ready'(n, ctx) {
    const f = n.facts;
    const failing = f.checks.filter((c) => !c.ok);
    return {
      subject: `${target(n)}: not ready for recovery (please check)`,
      blocks: [
        { type: 'p', text: greeting(n) },
        {
          type: 'p',
          text: `Our regular check that we can recover your server ${serverLine(n)} found the problems below.\nUntil they are fixed, we cannot carry out the first-response procedure if a failure occurs. Please check them.`,
        },
        { type: 'heading', text: 'Results' },
        { type: 'list', items: f.checks.map((c) => `${READINESS[c.check].label}: ${c.ok ? 'OK' : 'problem'}${c.detail ? ` (${c.detail})` : ''}`) },
        { type: 'heading', text: 'What we ask you to do' },
        { type: 'list', items: failing.map((c) => READINESS[c.check].ask) },
        { type: 'p', text: 'Note: please do not send passwords or pass phrases by replying to this e-mail; use the agreed channel.' },
        { type: 'fields', rows: [['Checked', ctx.dt(f.checkedAt)]] },
        { type: 'p', text: CLOSING },
        signature(ctx, n),
      ],
    };
  },

  'provider-working'(n, ctx) {
    const f = n.facts;
    const services = (f.services ?? []).map((x) => serviceLabel(x));
    const intro =
      f.origin === 'repair'
        ? `${services.length > 0 ? services.join(', ') : 'A service'} on your server ${serverLine(n)} stopped answering. We could not start the recovery work because of a problem on our side, not on your server.`
        : `Our regular check found a problem on our side with what we need to recover your server ${serverLine(n)} if it fails. Your server itself is not affected.`;
    return {
      subject: `${target(n)}: we are fixing a problem on our side`,
      blocks: [
        { type: 'p', text: greeting(n) },
        { type: 'p', text: `${intro}\nOur staff have been alerted and are fixing it now. There is nothing you need to do.` },
        { type: 'p', text: 'Monitoring continues. We will write again once it is fixed.' },
        { type: 'fields', rows: [['Server', serverLine(n)], ['Since', ctx.dt(f.since)]] },
        { type: 'p', text: `We apologise for the inconvenience.\n${CLOSING}` },
        signature(ctx, n),
      ],
    };
  },

  'provider-fault'(n, ctx) {
    const f = n.facts;
    const rows: Array<[string, string]> = [
      ['Server', serverLine(n)],
      ['Cause', f.cause],
      ['Found by', f.origin === 'repair' ? 'a repair that could not run' : 'the readiness check'],
      ['Since', ctx.dt(f.since)],
    ];
    if (f.services !== undefined && f.services.length > 0) rows.push(['Services held', f.services.join(', ')]);
    return {
      subject: `${target(n)}: recovery blocked on our side (${f.cause})`,
      blocks: [
        { type: 'p', text: 'To the operators,' },
        {
          type: 'p',
          text: `mamori cannot repair ${serverLine(n)} because of a fault on the provider's side (${f.cause}). ${f.origin === 'repair' ? 'Its failing services are held until it is fixed.' : 'A failure would not be repaired until it is fixed.'}\nThe customer was told, in plain words, that we are on it.`,
        },
        { type: 'fields', rows },
        { type: 'heading', text: 'What mamori saw' },
        { type: 'code', text: f.message },
        { type: 'heading', text: 'What to do' },
        {
          type: 'p',
          text: `Fix the cause (the secret in the secrets folder, the console profile or BMC, our own network), then check with: mamori check-access ${n.server ? serverLabel(n.server) : 'SERVER'}\nmamori checks again by itself when a secret or the manifest changes, and mails once when it is ready again.${f.origin === 'repair' ? ' Held services: mamori resume SERVER.' : ''}`,
        },
        signature(ctx, n),
      ],
    };
  },

  'readiness-restored'(n, ctx) {
    const f = n.facts;
    const operator = f.cause !== undefined;
    return {
      subject: `${target(n)}: ready for recovery again`,
      blocks: [
        { type: 'p', text: operator ? 'To the operators,' : greeting(n) },
        {
          type: 'p',
          text: operator
            ? `The readiness check of ${serverLine(n)} passes again (the cause was ${f.cause}, since ${ctx.dt(f.since)}).`
            : `The problem we wrote to you about on ${ctx.dt(f.since)} is resolved: we can again recover your server ${serverLine(n)} if it fails. Thank you.`,
        },
        { type: 'fields', rows: [['Checked', ctx.dt(f.checkedAt)]] },
        ...(operator ? [] : [{ type: 'p' as const, text: CLOSING }]),
        signature(ctx, n),
      ],
    };
  },

  'revision-refused'(n, ctx) {
    const f = n.facts;
    const rows: Array<[string, string]> = [['Revision', f.revision]];
    if (f.source) rows.push(['Source', f.source]);
    rows.push(['Applied revision', f.keptRevision ?? '(none)']);
    return {
      subject: `revision ${f.revision}: refused (invalid manifests)`,
      blocks: [
        { type: 'p', text: 'To the operators,' },
        {
          type: 'p',
          text: `Revision ${f.revision} of the manifests is not valid and was not applied.\n${f.keptRevision ? `Monitoring and recovery continue with revision ${f.keptRevision}.` : 'No revision is applied yet.'}`,
        },
        { type: 'heading', text: 'Errors' },
        { type: 'list', ordered: true, items: f.errors.map((e) => `${e.file}${e.line !== undefined ? `:${e.line}` : ''}${e.field ? ` ${e.field}` : ''}\n${e.message}`) },
        { type: 'heading', text: 'Summary' },
        { type: 'fields', rows },
        signature(ctx, n),
      ],
    };
  },

  'change-refused'(n, ctx) {
    const f = n.facts;
    const customer = f.customer !== undefined;
    const rows: Array<[string, string]> = [['Revision applied', f.revision]];
    if (f.source && !customer) rows.push(['Source', f.source]);
    const files = [...new Set(f.changes.map((c) => c.file))];
    return {
      subject: `change refused: ${files.length === 1 ? files[0] : `${files.length} files`} (signer not allowed)`,
      blocks: [
        { type: 'p', text: customer ? greetingEn(n.to, f.customer) : 'To the operators,' },
        {
          type: 'p',
          text: `${customer ? 'Changes to your manifests' : 'Changes to the manifests'} were made by commits whose signer may not change these files, and were not applied. Each file keeps its last good version; the rest of revision ${f.revision} is applied.`,
        },
        { type: 'heading', text: 'Refused changes' },
        {
          type: 'list',
          ordered: true,
          items: f.changes.map(
            (c) =>
              `${c.file}\ncommit ${c.commit}, ${SIGNATURE_EN[c.signature]}${c.signature === 'good' ? ` ${c.signer ?? ''}` : c.key ? ` (${c.key})` : ''}\n${c.allowed.length > 0 ? `may be changed by: ${c.allowed.join(', ')}` : 'no signer may change this file'}${c.kept ? '' : ' (new file: not applied)'}`,
          ),
        },
        {
          type: 'p',
          text: 'To apply such a change, have a signer allowed for the file sign it (a new commit by them, after the refused commit is reverted or removed from the branch).',
        },
        { type: 'fields', rows },
        signature(ctx, n),
      ],
    };
  },

  'revision-held'(n, ctx) {
    const f = n.facts;
    const blocks: Block[] = [
      { type: 'p', text: 'To the operators,' },
      {
        type: 'p',
        text: `Revision ${f.revision} of the manifests contains changes that need a review, and is held.\n${f.keptRevision ? `Until it is approved, monitoring and recovery continue with revision ${f.keptRevision}.` : 'It will not be applied until approved.'}`,
      },
      { type: 'heading', text: 'Why it is held' },
      { type: 'p', text: `${f.reason}: ${f.message}` },
    ];
    if (f.affected && f.affected.length > 0) blocks.push({ type: 'heading', text: 'Servers affected' }, { type: 'list', items: f.affected });
    if (f.releaseCommand) blocks.push({ type: 'p', text: 'To apply it after review, run:' }, { type: 'code', text: f.releaseCommand });
    blocks.push(signature(ctx, n));
    return { subject: `revision ${f.revision}: held (${f.reason})`, blocks };
  },

  'mass-failure-paused'(n, ctx) {
    const f = n.facts;
    const scope = f.scope.kind === 'network' ? `network ${f.scope.value}` : f.scope.kind === 'location' ? `location ${f.scope.value}` : 'the whole fleet';
    const blocks: Block[] = [
      { type: 'p', text: 'To the operators,' },
      {
        type: 'p',
        text: `${f.down} of ${f.total} servers in ${scope} failed at the same time.\nThe monitor's own network may be at fault, so automatic recovery (restarts, power-cycles) is paused. Monitoring continues.`,
      },
      { type: 'heading', text: 'State' },
      {
        type: 'fields',
        rows: [
          ['Scope', scope],
          ['Servers down', `${f.down} / ${f.total}`],
          ['Paused at', ctx.dt(f.pausedAt)],
        ],
      },
      { type: 'heading', text: 'Servers down (some)' },
      { type: 'list', items: f.servers },
      { type: 'heading', text: 'What to do' },
      { type: 'p', text: "Please check the monitoring side's network. Once you are sure the monitor is not at fault, resume automatic recovery." },
    ];
    if (f.resumeCommand) blocks.push({ type: 'code', text: f.resumeCommand });
    blocks.push(signature(ctx, n));
    return { subject: `recovery paused: mass failure (${f.scope.value}: ${f.down} of ${f.total} down)`, blocks };
  },

  'console-check-requested'(n, ctx) {
    const f = n.facts;
    const ask: Record<typeof f.reason, { what: string; todo: string }> = {
      'ping-failed': {
        what: `does not answer ping (since ${ctx.dt(f.since)}).`,
        todo: 'Please check on the console whether the server is running (screen output, kernel panic). If it has stopped, power-cycle it. If it is running, do not power-cycle it; check its network instead.',
      },
      'ssh-down': {
        what: `does not answer SSH (since ${ctx.dt(f.since)}), so we cannot log in to check it.`,
        todo: 'Please log in on the console and check whether sshd is running. If it has stopped, restart sshd.',
      },
      'power-state-unknown': {
        what: `gives no power state through the power driver (since ${ctx.dt(f.since)}).`,
        todo: 'Please check the power state of the server.',
      },
      'console-unreachable': {
        what: `has a console (BMC) we cannot connect to (since ${ctx.dt(f.since)}).`,
        todo: "Please check the BMC and the network path to it.",
      },
      'vantage-lost': {
        what: `does not answer from our monitoring network (since ${ctx.dt(f.since)}), and too few of our other vantage points report on it, so we will not power-cycle it on one network's word.`,
        todo: 'Please check the vantage-point agents named below and the path from them; and check on the console whether the server is running. If it has stopped, power-cycle it.',
      },
      'vantage-disagreement': {
        what: `fails from one of our monitoring networks and answers from another (since ${ctx.dt(f.since)}), like many other servers at once: our own network is the likely fault, so nothing is done.`,
        todo: 'Please check the monitoring network named below (its uplink, routes, firewall). Recovery resumes by itself once the vantage points agree again.',
      },
    };
    const item = ask[f.reason];
    const rows: Array<[string, string]> = [['Server', serverLine(n)]];
    if (n.server) rows.push(['Customer', n.server.customer]);
    if (f.console?.site) rows.push(['Site', f.console.site]);
    if (f.console?.rack) rows.push(['Rack', f.console.rack]);
    if (f.console?.profile) rows.push(['Console', f.console.profile]);
    return {
      subject: `${target(n)}: console check requested`,
      blocks: [
        { type: 'p', text: 'To the operators,' },
        { type: 'p', text: `Server ${serverLine(n)} ${item.what}\nWe cannot check it automatically; please check it on the console in the data centre.` },
        { type: 'heading', text: 'What to check' },
        { type: 'p', text: f.question ? `${item.todo}\n${f.question}` : item.todo },
        { type: 'heading', text: 'Where' },
        { type: 'fields', rows },
        signature(ctx, n),
      ],
    };
  },

  digest(n, ctx) {
    const f = n.facts;
    const items = f.items.map((i) => `${ctx.time(i.occurredAt)} ${i.service ? `${serviceLabel(i.service)}: ` : ''}${KIND_SHORT[i.kind]}${i.incidentId ? ` (${i.incidentId})` : ''}`);
    return {
      subject: `${target(n) || 'notifications'}: digest (${f.items.length} messages)`,
      blocks: [
        { type: 'p', text: greeting(n) },
        {
          type: 'p',
          text: `${n.server ? `There were many notices about your server ${serverLine(n)} in a short time, ` : 'There were many notices in a short time, '}so we are sending those of the period below together.\nThe failure may be recurring; we suggest checking the server's load and logs.`,
        },
        { type: 'heading', text: 'Period' },
        { type: 'p', text: `${ctx.dt(f.windowStart)} to ${ctx.dt(f.windowEnd)}` },
        { type: 'heading', text: `Notices (${f.items.length}, oldest first)` },
        { type: 'list', items: elide(items, 40, (omitted) => `… (${omitted} more in between, not listed) …`) },
        { type: 'p', text: `The last notice is the current state.\n${CLOSING}` },
        signature(ctx, n),
      ],
    };
  },
  'monthly-report': monthlyReportEn,
  'certificate-expiring': certificateExpiringEn,
  'certificate-invalid': certificateInvalidEn,
};
