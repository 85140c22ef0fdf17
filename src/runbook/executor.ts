/**
 * The executor: runs a rendered runbook with the seed's judgement and returns a transcript.
 *
 * Look before acting (the opening checks: process up and answering locally means the path
 * is blocked, so nothing is restarted), act on the right machine (pinned host key, the OS
 * the manifest says), confirm (process up and the outside probe passes). Console before
 * power: a host alive on its console with a broken network is escalated, never cycled.
 * Every outcome is a verdict in the transcript; this never throws for what a server does.
 *
 * The flow is results, not exceptions: each step returns a Flow (go on, or the Ending that
 * stops the runbook with its verdict). Only a bug, or a library failing in a way no step
 * expects, throws; the run turns that into StepFailed "the executor failed". Every time in a
 * transcript and every deadline is read from one injected clock.
 */
import { wallClock, type Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { ExecutionRequest, Executor, StepRecord, Transcript, Verdict } from './execution.ts';
import type { TargetCheck } from '../manifest/target-networks.ts';
import type { RenderedStep } from './types.ts';
import { serverConsoleChannel } from './drivers/registry.ts';
import type { ConsoleChannel, ConsoleProfiles, PowerDriver } from './drivers/types.ts';
import { OS_LOOK_SCRIPT, killTreeScript, localConnectScript, plainCommand, processLookScript, wrapCommand } from './remote-command.ts';
import { osMismatch, parseOsLook } from './os-check.ts';
import { scrubText } from './scrub.ts';
import { logIn, loginVerdict, noSecrets, resolveServerSecrets, sshEndpointText, sudoAccess, type SecretResolver, type ServerSecrets } from './ssh-access.ts';
import type { ExecResult, PromptAnswer, SshSession } from './ssh-session.ts';

/** Services whose server waits for the client (HTTP) or for a TLS ClientHello: no greeting to wait for locally. */
const SPEAKS_SECOND: ReadonlySet<string> = new Set(['http', 'https', 'smtps', 'pop3s', 'imaps']);

export interface ExecutorOptions {
  resolveSecret: SecretResolver;
  /** The operator's console/power profiles (config `consoleProfiles`). */
  consoleProfiles?: ConsoleProfiles;
  logger?: Logger;
  /** Kept output per step (64 KiB). */
  outputLimitBytes?: number;
  /** SSH handshake bound (15 s). */
  connectTimeoutMs?: number;
  /** Local address SSH connects from. */
  sourceAddress?: string;
  /** Pause between verify attempts (1 s). */
  verifyIntervalMs?: number;
  /** The ipmitool binary. */
  ipmitool?: string;
  /** The operator's target networks: every SSH session and console/power call is checked against them. */
  targets: TargetCheck;
  /** Times in the transcript, the runbook's deadline, verify and power waits (the wall clock). */
  clock?: Clock;
}

export function createExecutor(options: ExecutorOptions): Executor {
  return {
    execute: (request) => new Execution(options, request).run(),
  };
}

/** How a runbook ended: its verdict and the one sentence why. */
interface Ending {
  verdict: Verdict;
  message: string;
}

/** A step that stops the runbook. */
interface Halted {
  ok: false;
  end: Ending;
}

/** What a step (or a part of one) returns: go on with a value, or stop with an Ending. */
type Flow<T = undefined> = { ok: true; value: T } | Halted;

const GO: Flow = { ok: true, value: undefined };

function go<T>(value: T): Flow<T> {
  return { ok: true, value };
}

function halt(verdict: Verdict, message: string): Halted {
  return { ok: false, end: { verdict, message } };
}

class Execution {
  private readonly steps: StepRecord[] = [];
  private readonly evidence: Record<string, string | number | boolean> = {};
  private acted = false;
  private readonly powerActions: Transcript['powerActions'] = [];
  private session: SshSession | undefined;
  private secrets: ServerSecrets = noSecrets();
  private channel: ConsoleChannel | undefined;
  private osConfirmed = false;
  /** false: the console was looked at and the host did not answer. undefined: not looked at, or could not be. */
  private consoleAlive: boolean | undefined;
  private verified = false;
  private readonly runbookAbort = new AbortController();
  private deadlineHit = false;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly startedAt: Date;

  constructor(
    private readonly options: ExecutorOptions,
    private readonly request: ExecutionRequest,
  ) {
    const { runbook } = request;
    this.log = (request.logger ?? options.logger ?? silentLogger()).child({ server: runbook.server, service: runbook.service, runbook: runbook.runbook });
    this.clock = options.clock ?? wallClock;
    this.startedAt = this.at();
  }

  private get server(): ServerDocument {
    return this.request.server;
  }

  private get signal(): AbortSignal {
    return this.runbookAbort.signal;
  }

  /** Now, as the injected clock says. */
  private at(): Date {
    return new Date(this.clock.now());
  }

  async run(): Promise<Transcript> {
    const { runbook } = this.request;
    const timer = this.clock.setTimeout(() => {
      this.deadlineHit = true;
      this.runbookAbort.abort();
    }, runbook.deadlineMs);
    const onOuterAbort = (): void => this.runbookAbort.abort();
    if (this.request.signal?.aborted) this.runbookAbort.abort();
    this.request.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let end: Ending;
    this.log.info({ steps: runbook.steps.length }, 'runbook started');
    try {
      end = await this.runAll();
    } catch (err) {
      // A bug, or a library failing where no step expects it: still a transcript, never a crash.
      end = { verdict: 'StepFailed', message: `the executor failed: ${(err as Error).message}` };
      this.log.error({ err: scrubText(String(err), this.secrets.all) }, 'runbook executor failed');
    } finally {
      this.clock.clearTimeout(timer);
      this.request.signal?.removeEventListener('abort', onOuterAbort);
      this.session?.close();
    }
    let { verdict, message } = end;
    if (this.runbookAbort.signal.aborted && verdict !== 'Recovered') {
      if (this.deadlineHit) {
        verdict = 'DeadlineExceeded';
        message = `the runbook ran past its deadline of ${Math.round(runbook.deadlineMs / 1000)} s; the running step was stopped`;
      } else {
        verdict = 'Interrupted';
        message = 'the execution was interrupted (mamori is stopping); the running step was stopped';
      }
    }
    const finishedAt = this.at();
    const transcript: Transcript = {
      runbook: runbook.runbook,
      origin: runbook.origin,
      server: runbook.server,
      service: runbook.service,
      startedAt: this.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      verdict,
      message,
      steps: this.steps,
      evidence: this.evidence,
      acted: this.acted,
      powerActions: this.powerActions,
    };
    const safe = scrubTranscript(transcript, this.secrets.all);
    this.log.info({ verdict, acted: safe.acted, powerActions: safe.powerActions, durationMs: finishedAt.getTime() - this.startedAt.getTime() }, 'runbook finished');
    return safe;
  }

  private async runAll(): Promise<Ending> {
    const { runbook } = this.request;
    if (runbook.server !== this.server.metadata.name || runbook.address !== this.server.spec.address) {
      return {
        verdict: 'StepFailed',
        message: `the runbook was rendered for ${runbook.server} (${runbook.address}), not for ${this.server.metadata.name} (${this.server.spec.address}); nothing was run`,
      };
    }
    this.secrets = await resolveServerSecrets(this.server, this.options.resolveSecret);
    return this.runSteps();
  }

  private async runSteps(): Promise<Ending> {
    const steps = this.request.runbook.steps;
    let opening = 0;
    while (steps[opening]?.kind === 'check') opening += 1;
    if (opening > 0) {
      let allPass = true;
      for (const step of steps.slice(0, opening)) {
        if (step.kind !== 'check') continue;
        const passed = await this.check(step);
        if (!passed.ok) return passed.end;
        allPass &&= passed.value;
      }
      if (allPass) {
        const outside = await this.request.probe(this.request.runbook.service);
        this.evidence.outsideProbe = outside.up;
        if (outside.message) this.evidence.outsideProbeMessage = outside.message;
        if (outside.up) {
          return { verdict: 'Recovered', message: `${this.request.runbook.service} runs on the server and answers from mamori again; nothing was done` };
        }
        return {
          verdict: 'RemoteAccessBlocked',
          message: `${this.request.runbook.service} runs and answers on the server itself but not from mamori: a firewall or TCP wrappers block the management networks; nothing was restarted`,
        };
      }
    }
    for (const step of steps.slice(opening)) {
      if (this.signal.aborted) return { verdict: 'Interrupted', message: 'aborted' };
      const fenced = this.request.mayAct?.();
      if (fenced !== undefined) {
        this.log.warn({ step: step.id, reason: fenced }, 'runbook stopped before a step: this replica may act no more');
        return { verdict: 'Interrupted', message: fenced };
      }
      const flow = await this.step(step);
      if (!flow.ok) return flow.end;
    }
    if (this.verified) return { verdict: 'Recovered', message: `${this.request.runbook.service} runs and answers from mamori again` };
    // No verify step: recovered only when the outside probe passes.
    const outside = await this.request.probe(this.request.runbook.service);
    this.evidence.outsideProbe = outside.up;
    if (outside.up) return { verdict: 'Recovered', message: `${this.request.runbook.service} answers from mamori again` };
    return { verdict: 'VerifyFailed', message: `the steps ran, but ${this.request.runbook.service} still does not answer from mamori` };
  }

  private async step(step: RenderedStep): Promise<Flow> {
    switch (step.kind) {
      case 'check': {
        const passed = await this.check(step);
        if (!passed.ok) return passed;
        return passed.value ? GO : halt('StepFailed', `the check ${step.id} did not pass`);
      }
      case 'run':
        return this.runStep(step);
      case 'verify':
        return this.verify(step);
      case 'console':
        return this.consoleStep(step);
      case 'power':
        return this.powerStep(step);
      case 'escalate':
        this.record(step, { outcome: 'ok', note: step.reason });
        return halt('Escalated', step.message ?? `the runbook escalates: ${step.reason}`);
    }
  }

  // ---- recording

  private record(step: { id: string; kind: string; command?: string }, fields: Partial<StepRecord> & { outcome: StepRecord['outcome'] }, started = this.at()): StepRecord {
    const rec: StepRecord = {
      id: step.id,
      kind: step.kind,
      startedAt: started.toISOString(),
      finishedAt: this.at().toISOString(),
      ...fields,
    };
    if (step.command !== undefined && rec.command === undefined) rec.command = step.command;
    this.steps.push(rec);
    this.request.onStep?.(rec);
    this.log.info({ step: rec.id, kind: rec.kind, outcome: rec.outcome, exitCode: rec.exitCode, startedAt: rec.startedAt }, 'runbook step finished');
    return rec;
  }

  /**
   * Asked right before a command that changes the server is sent (run, console command, power):
   * the login, the OS check or the BMC's status came between the check before the step and
   * here, and a replica paused in that wait — SIGSTOP, a stall — must not act once resumed
   * past its lease: the server checks no token, and a new owner may already have acted.
   * Fenced: the step is recorded skipped with `note` and why, and the runbook ends Interrupted.
   */
  private fence(step: { id: string; kind: string; command?: string }, note: string, started: Date): Halted | undefined {
    const fenced = this.request.mayAct?.();
    if (fenced === undefined) return undefined;
    this.log.warn({ step: step.id, reason: fenced }, 'runbook stopped before a step: this replica may act no more');
    this.record(step, { outcome: 'skipped', note: `${note}: ${fenced}` }, started);
    return halt('Interrupted', fenced);
  }

  // ---- SSH

  private async ssh(): Promise<Flow<SshSession>> {
    if (this.session && !this.session.closed) return go(this.session);
    const started = this.at();
    const login = await logIn(this.server, this.secrets, this.options, this.signal);
    if (!login.ok) {
      const failure = login.failure;
      if (failure.kind === 'CredentialsMissing') {
        this.record({ id: 'login', kind: 'login' }, { outcome: 'skipped', note: 'the login secret does not resolve' }, started);
      } else {
        const last = this.steps[this.steps.length - 1];
        if (last?.id === 'login' && last.outcome === 'failed' && last.note === failure.message) {
          // A verify retrying a login while the server boots: one record, however many tries.
          last.finishedAt = this.at().toISOString();
        } else {
          this.record({ id: 'login', kind: 'login' }, { outcome: 'failed', note: failure.message }, started);
        }
      }
      if (failure.kind === 'HostKeyMismatch') {
        if (failure.observedHostKey !== undefined) this.evidence.observedHostKey = failure.observedHostKey;
        this.evidence.pinnedHostKey = this.server.spec.access.hostKey;
      }
      const judged = loginVerdict(failure);
      if (judged.verdict === 'StepFailed') this.evidence.sshLogin = false;
      return halt(judged.verdict, judged.message);
    }
    const session = login.session;
    this.session = session;
    this.record({ id: 'login', kind: 'login' }, { outcome: 'ok', note: `${sshEndpointText(this.server)}, host key ${session.observedHostKey}` }, started);
    if (this.request.runbook.origin === 'standard' && !this.osConfirmed) {
      const os = await this.confirmOsOverSsh(session);
      if (!os.ok) return os;
    }
    return go(session);
  }

  private async exec(command: string, opts: { sudo: boolean; deadlineMs: number; pty?: boolean; answers?: PromptAnswer[]; marker?: boolean; fence?: { step: RenderedStep; started: Date } }): Promise<Flow<ExecResult>> {
    const ssh = await this.ssh();
    if (!ssh.ok) return ssh;
    const session = ssh.value;
    const sudo = sudoAccess(this.server, this.secrets, opts.sudo);
    if (!sudo.ok) return halt('SecretMissing', `the sudo password secret of ${this.server.metadata.name} does not resolve; nothing was run`);
    const mode = sudo.mode;
    const answers = [...sudo.answers, ...(opts.answers ?? [])];
    const pty = opts.pty === true || (opts.sudo && this.server.spec.access.sudo?.pty === true) || (opts.answers?.length ?? 0) > 0;
    const line = opts.marker === false ? plainCommand(command, mode) : wrapCommand(command, mode);
    if (opts.fence) {
      // After the login and the OS check, which can take seconds: the last moment before sending.
      const fenced = this.fence(opts.fence.step, 'not run', opts.fence.started);
      if (fenced) return fenced;
    }
    const r = await session.exec(line, {
      pty,
      deadlineMs: Math.max(1, Math.min(opts.deadlineMs, this.remainingMs())),
      answers,
      secrets: this.secrets.all,
      pidMarker: opts.marker !== false,
      signal: this.signal,
      ...(this.options.outputLimitBytes !== undefined ? { outputLimitBytes: this.options.outputLimitBytes } : {}),
      kill: async (pid) => {
        // The kill runs over a fresh channel of the same connection, as root when the step was.
        const k = await session.exec(plainCommand(killTreeScript(pid), mode), {
          pty: pty && mode !== 'none',
          deadlineMs: 15_000,
          answers: sudo.answers,
          secrets: this.secrets.all,
        });
        const killed = /killed:([\d ]*)/.exec(k.output)?.[1]?.trim();
        return killed ? `killed process tree ${killed} on the server` : `kill on the server: exit ${String(k.exitCode)} ${k.output.trim().slice(0, 200)}`;
      },
    });
    return go(r);
  }

  private remainingMs(): number {
    return this.request.runbook.deadlineMs - (this.clock.now() - this.startedAt.getTime());
  }

  private async confirmOsOverSsh(session: SshSession): Promise<Flow> {
    this.osConfirmed = true;
    const started = this.at();
    const r = await session.exec(plainCommand(OS_LOOK_SCRIPT, 'none'), { pty: false, deadlineMs: 20_000, secrets: this.secrets.all, signal: this.signal });
    return this.judgeOs(r.exitCode === 0 ? r.output : '', started, r.output);
  }

  private judgeOs(lookOutput: string, started: Date, shown: string): Flow {
    const os = this.server.spec.os;
    const observed = parseOsLook(lookOutput);
    this.evidence.os = observed.release;
    const mismatch = osMismatch({ family: os.family, version: os.version, ...(os.variant ? { variant: os.variant } : {}) }, observed);
    this.record({ id: 'os-check', kind: 'os-check', command: 'uname -s; cat /etc/redhat-release; freebsd-version' }, { outcome: mismatch ? 'failed' : 'ok', output: shown, ...(mismatch ? { note: mismatch } : {}) }, started);
    return mismatch ? halt('OSMismatch', `${mismatch}; nothing was run`) : GO;
  }

  /** A remote command that did not end by exiting stops the runbook: timed out, stopped, an unanswered prompt, the connection gone. */
  private execEnded(step: RenderedStep, r: ExecResult, what: string): Flow {
    switch (r.outcome) {
      case 'timeout':
        return halt('DeadlineExceeded', `${what} ran past its deadline and was killed (${r.killNote ?? 'no kill note'})`);
      case 'aborted':
        return halt(this.deadlineHit ? 'DeadlineExceeded' : 'Interrupted', `${what} was stopped (${r.killNote ?? ''})`);
      case 'prompt': {
        // Asked again after the secret was typed (Apache's built-in dialog asks up to five more
        // times): the secret was refused, and typing it again would fail the same way.
        const answer = step.kind === 'run' ? step.answer : undefined;
        if (answer !== undefined && (r.prompt ?? '').includes(answer.prompt.trim())) {
          return halt('PassphraseRequired', `${what} asked "${r.prompt ?? ''}" again after the secret ${answer.secretKey} was typed: the secret was refused; it was stopped at once`);
        }
        return halt('PassphraseRequired', `${what} asked "${r.prompt ?? ''}" and no secret of ${this.server.metadata.name} answers it; it was stopped at once`);
      }
      case 'closed':
        return halt('StepFailed', `the SSH connection closed during ${step.id}`);
      default:
        return GO;
    }
  }

  private recordExec(step: RenderedStep, command: string, r: ExecResult, started: Date, ok: boolean): StepRecord {
    const outcome: StepRecord['outcome'] = r.outcome === 'timeout' || r.outcome === 'aborted' ? 'timeout' : ok ? 'ok' : 'failed';
    const notes: string[] = [];
    if (r.droppedBytes > 0) notes.push(`output was ${r.outputBytes} bytes; ${r.droppedBytes} dropped`);
    if (r.killNote) notes.push(r.killNote);
    if (r.outcome === 'prompt') notes.push(`unanswered prompt: ${r.prompt ?? ''}`);
    return this.record({ id: step.id, kind: step.kind, command }, { outcome, exitCode: r.exitCode, output: r.output, ...(notes.length ? { note: notes.join('; ') } : {}) }, started);
  }

  // ---- check / run / verify

  /** Looks on the server (process, local connect, a check command); the value: whether every look passed. */
  private async look(step: RenderedStep, look: { process?: string; pidFile?: string; localConnectPort?: number; command?: string; expectExit?: number }, deadlineMs: number, record: boolean): Promise<Flow<boolean>> {
    let pass = true;
    const started = this.at();
    const parts: Array<[string, string, boolean]> = [];
    if (look.process !== undefined) {
      const script = processLookScript(look.process, look.pidFile);
      const x = await this.exec(script, { sudo: false, deadlineMs });
      if (!x.ok) return x;
      const r = x.value;
      const ended = this.execEnded(step, r, `the process check of ${step.id}`);
      if (!ended.ok) return ended;
      const ok = r.exitCode === 0;
      this.evidence.process = look.process;
      this.evidence.processRunning = ok;
      const pids = /pids: ([\d ]+)/.exec(r.output)?.[1]?.trim();
      if (pids) this.evidence.processPids = pids;
      parts.push([`process ${look.process}${look.pidFile ? ` (${look.pidFile})` : ''}`, r.output.trim(), ok]);
      pass &&= ok;
    }
    if (look.localConnectPort !== undefined) {
      const service = this.request.runbook.service;
      const x = await this.exec(localConnectScript(look.localConnectPort, !SPEAKS_SECOND.has(service)), { sudo: false, deadlineMs });
      if (!x.ok) return x;
      const r = x.value;
      const ended = this.execEnded(step, r, `the local connect of ${step.id}`);
      if (!ended.ok) return ended;
      const ok = r.exitCode === 0 && r.output.includes('connected');
      this.evidence.localConnect = ok;
      const greeting = /greeting: (.*)/.exec(r.output)?.[1]?.trim();
      if (greeting) this.evidence.localGreeting = greeting.slice(0, 120);
      parts.push([`connect 127.0.0.1:${look.localConnectPort}`, r.output.trim(), ok]);
      pass &&= ok;
    }
    if (look.command !== undefined) {
      const x = await this.exec(look.command, { sudo: true, deadlineMs });
      if (!x.ok) return x;
      const r = x.value;
      const ended = this.execEnded(step, r, `the check command of ${step.id}`);
      if (!ended.ok) return ended;
      const ok = r.exitCode === (look.expectExit ?? 0);
      this.evidence[`${step.id}.exit`] = r.exitCode ?? -1;
      parts.push([look.command, r.output.trim(), ok]);
      pass &&= ok;
    }
    if (record) {
      this.record(
        { id: step.id, kind: step.kind },
        { outcome: pass ? 'ok' : 'failed', command: parts.map(([c]) => c).join(' && '), output: parts.map(([c, o, ok]) => `${ok ? 'ok' : 'FAILED'}: ${c}${o ? `\n${o}` : ''}`).join('\n') },
        started,
      );
    }
    return go(pass);
  }

  private async check(step: Extract<RenderedStep, { kind: 'check' }>): Promise<Flow<boolean>> {
    return this.look(step, step, step.deadlineMs, true);
  }

  private async runStep(step: Extract<RenderedStep, { kind: 'run' }>): Promise<Flow> {
    const answers: PromptAnswer[] = [];
    if (step.answer) {
      const value = this.secrets.named.get(step.answer.secretKey);
      if (value === undefined) {
        const declared = this.server.spec.secrets?.[step.answer.secretKey] !== undefined;
        this.record(step, { outcome: 'skipped', note: `the secret ${step.answer.secretKey} that answers "${step.answer.prompt}" ${declared ? 'does not resolve' : 'is not in spec.secrets'}` });
        return halt(
          declared ? 'SecretMissing' : 'PassphraseRequired',
          `${step.id} must answer "${step.answer.prompt}" with the secret ${step.answer.secretKey}, which ${declared ? 'does not resolve' : 'the server does not declare'}; nothing was run`,
        );
      }
      answers.push({ prompt: step.answer.prompt, value });
    }
    const started = this.at();
    this.acted = true;
    const x = await this.exec(step.command, { sudo: step.sudo, deadlineMs: step.deadlineMs, answers, fence: { step, started } });
    if (!x.ok) return x;
    const r = x.value;
    const ok = r.outcome === 'exited' && r.exitCode === 0;
    this.recordExec(step, step.command, r, started, ok);
    const ended = this.execEnded(step, r, step.id);
    if (!ended.ok) return ended;
    if (ok) return GO;
    if (/sudo: (a password is required|sorry, you must have a tty)/.test(r.output)) {
      return halt('ManagementAccessDenied', `sudo refused ${this.server.spec.access.user} on ${this.server.metadata.name}: ${r.output.trim().split('\n').pop() ?? ''}`);
    }
    // mod_ssl's failures all name the pass phrase (refused, or no terminal to ask it on):
    // the customer must give, or correct, the secret; a retry would fail the same way.
    if (/pass ?phrase/i.test(r.output)) {
      const line = r.output.split('\n').filter((l) => /pass ?phrase/i.test(l)).pop()?.trim() ?? '';
      return halt('PassphraseRequired', `${step.id} failed on the SSL pass phrase${step.answer ? ' (the secret was refused)' : ' (no secret answers it)'}: ${line}`);
    }
    if (step.onFailure === 'stop') return halt('StepFailed', `${step.id} exited ${String(r.exitCode)}`);
    return GO;
  }

  private async verify(step: Extract<RenderedStep, { kind: 'verify' }>): Promise<Flow> {
    const started = this.at();
    const until = this.clock.now() + Math.min(step.withinMs, Math.max(0, this.remainingMs()));
    const interval = this.options.verifyIntervalMs ?? 1_000;
    const pending = new Set<string>([...step.waitFor.map((s) => `probe:${s}`)]);
    const notes: string[] = [];
    let attempts = 0;
    let lastFailure = '';
    for (;;) {
      attempts += 1;
      // Wait for the services the host needs first (after power: ping, then ssh).
      for (const key of [...pending]) {
        const service = key.slice('probe:'.length) as ServiceName;
        const r = await this.request.probe(service);
        if (r.up) {
          pending.delete(key);
          notes.push(`${service} answers from mamori after ${Math.round((this.clock.now() - started.getTime()) / 100) / 10} s`);
        } else {
          lastFailure = `${service} does not answer from mamori${r.message ? `: ${r.message}` : ''}`;
        }
      }
      let ok = pending.size === 0;
      if (ok && (step.process !== undefined || step.localConnectPort !== undefined)) {
        const look: { process?: string; localConnectPort?: number } = {};
        if (step.process !== undefined) look.process = step.process;
        if (step.localConnectPort !== undefined) look.localConnectPort = step.localConnectPort;
        const looked = await this.look(step, look, Math.min(step.deadlineMs, 20_000), false);
        if (looked.ok) {
          ok = looked.value;
          if (!ok) lastFailure = `on the server: process ${String(this.evidence.processRunning ?? '-')}, local connect ${String(this.evidence.localConnect ?? '-')}`;
        } else {
          if (looked.end.verdict !== 'StepFailed') return looked;
          // A server still booting refuses SSH for a while: keep trying within the time.
          this.session?.close();
          this.session = undefined;
          ok = false;
          lastFailure = looked.end.message;
        }
      }
      if (ok && step.probe) {
        const r = await this.request.probe(this.request.runbook.service);
        this.evidence.outsideProbe = r.up;
        ok = r.up;
        if (!ok) lastFailure = `${this.request.runbook.service} does not answer from mamori${r.message ? `: ${r.message}` : ''}`;
      }
      if (ok) {
        this.verified = true;
        this.evidence.verifyAttempts = attempts;
        this.record(step, { outcome: 'ok', note: [...notes, `verified after ${attempts} attempt(s)`].join('; ') }, started);
        return GO;
      }
      if (this.clock.now() + interval > until || this.signal.aborted) break;
      await this.sleep(interval);
    }
    this.verified = false;
    this.evidence.verifyAttempts = attempts;
    this.record(step, { outcome: 'failed', note: [...notes, lastFailure].filter(Boolean).join('; ') }, started);
    if (this.signal.aborted) return halt(this.deadlineHit ? 'DeadlineExceeded' : 'Interrupted', 'verification was stopped');
    return halt('VerifyFailed', `not verified within ${Math.round(step.withinMs / 1000)} s: ${lastFailure}`);
  }

  /** Waits on the injected clock; the runbook's abort ends the wait early. */
  private sleep(ms: number): Promise<void> {
    const signal = this.signal;
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        this.clock.clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = this.clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  // ---- console and power

  private consoleChannel(step: RenderedStep): Flow<ConsoleChannel> {
    if (this.channel) return go(this.channel);
    const c = this.server.spec.console;
    if (!c) {
      this.record(step, { outcome: 'skipped', note: 'the server has no spec.console' });
      return halt('ConsoleUnavailable', `${this.server.metadata.name} has no console/power profile (spec.console); the console cannot be used`);
    }
    try {
      this.channel = serverConsoleChannel(this.server, c, this.secrets, this.options);
    } catch (err) {
      // An unknown profile (the operator's configuration): the driver registry says so by throwing.
      this.record(step, { outcome: 'failed', note: (err as Error).message });
      return halt('ConsoleUnavailable', (err as Error).message);
    }
    return go(this.channel);
  }

  private manual(step: RenderedStep, channel: ConsoleChannel, what: string): Halted {
    this.record(step, { outcome: 'skipped', note: `console check requested from the operations desk${channel.desk ? ` (${channel.desk})` : ''}` });
    this.evidence.consoleCheckRequested = true;
    return halt('Escalated', `console check requested: the operations desk must ${what} ${this.server.metadata.name} on site`);
  }

  private async consoleStep(step: Extract<RenderedStep, { kind: 'console' }>): Promise<Flow> {
    const ch = this.consoleChannel(step);
    if (!ch.ok) return ch;
    const channel = ch.value;
    if (channel.driver === 'manual') return this.manual(step, channel, step.action === 'check' ? 'look at the console of' : `run "${step.command ?? ''}" on the console of`);
    const started = this.at();
    if (step.action === 'check') {
      if (!channel.console) {
        this.consoleAlive = undefined;
        this.record(step, { outcome: 'skipped', note: `profile ${channel.profile} has no console command: the console cannot be looked at` }, started);
        return GO;
      }
      const look = await channel.console.check({ deadlineMs: Math.min(step.deadlineMs, this.remainingMs()), signal: this.signal });
      this.evidence.consoleAlive = look.alive;
      this.consoleAlive = look.known ? look.alive : undefined;
      this.record(step, { outcome: look.alive ? 'ok' : 'failed', output: look.detail }, started);
      if (look.alive) {
        // Alive on the console: is the network the problem? Then no power action, ever.
        const ping = await this.request.probe('ping');
        this.evidence.ping = ping.up;
        if (!ping.up) {
          return halt('HostUnreachable', `${this.server.metadata.name} is alive on its console but does not answer ping: the network path is broken; no power action was taken`);
        }
      }
      return GO;
    }
    if (!channel.console) {
      this.record(step, { outcome: 'skipped', note: `profile ${channel.profile} has no console command` }, started);
      return halt('ConsoleUnavailable', `the console of ${this.server.metadata.name} cannot run commands (profile ${channel.profile})`);
    }
    const command = step.command ?? '';
    if (this.request.runbook.origin === 'standard' && !this.osConfirmed) {
      this.osConfirmed = true;
      const osStarted = this.at();
      const look = await channel.console.run(OS_LOOK_SCRIPT, { deadlineMs: 20_000, signal: this.signal });
      const os = this.judgeOs(look.exitCode === 0 ? look.output : '', osStarted, look.output);
      if (!os.ok) return os;
    }
    const fenced = this.fence(step, 'not sent to the console', started);
    if (fenced) return fenced;
    this.acted = true;
    const r = await channel.console.run(command, { deadlineMs: Math.min(step.deadlineMs, this.remainingMs()), signal: this.signal });
    const ok = r.exitCode === 0 && !r.timedOut;
    this.record(step, { outcome: r.timedOut ? 'timeout' : ok ? 'ok' : 'failed', command, exitCode: r.exitCode, output: r.output, ...(r.spawnError ? { note: r.spawnError } : {}) }, started);
    if (r.timedOut) return halt(this.signal.aborted && !this.deadlineHit ? 'Interrupted' : 'DeadlineExceeded', `${step.id} on the console ran past its deadline and was killed`);
    if (!ok) return halt('StepFailed', `${step.id} on the console exited ${String(r.exitCode)}${r.spawnError ? ` (${r.spawnError})` : ''}`);
    return GO;
  }

  private async powerStep(step: Extract<RenderedStep, { kind: 'power' }>): Promise<Flow> {
    const ch = this.consoleChannel(step);
    if (!ch.ok) return ch;
    const channel = ch.value;
    if (channel.driver === 'manual') return this.manual(step, channel, 'check the power of');
    const power = channel.power;
    if (!power) {
      this.record(step, { outcome: 'skipped', note: `profile ${channel.profile} has no power control` });
      return halt('ConsoleUnavailable', `${this.server.metadata.name}'s profile ${channel.profile} has no power control`);
    }
    const started = this.at();
    const notes: string[] = [];
    let flow: Flow;
    try {
      flow = await this.powerActs(step, power, started, notes);
    } catch (err) {
      // The BMC or the power command failed (unreachable, refused, timed out): the driver throws.
      this.record(step, { outcome: 'failed', note: [...notes, (err as Error).message].join('; ') }, started);
      return halt('ConsoleUnavailable', (err as Error).message);
    }
    if (!flow.ok && flow.end.verdict === 'StepFailed') this.record(step, { outcome: 'failed', note: notes.join('; ') }, started);
    return flow;
  }

  /** The power step's decisions and actions; `notes` gathers what was seen and sent, for the record. */
  private async powerActs(step: Extract<RenderedStep, { kind: 'power' }>, power: PowerDriver, started: Date, notes: string[]): Promise<Flow> {
    const deadlineMs = Math.min(step.deadlineMs, this.remainingMs());
    const opts = { deadlineMs: Math.min(deadlineMs, 30_000), signal: this.signal };
    const before = await power.status(opts);
    this.evidence.powerBefore = before;
    notes.push(`power was ${before}`);
    let action: 'on' | 'off' | 'cycle' | undefined;
    if (step.action === 'status') {
      action = undefined;
    } else if (step.action === 'recover') {
      if (before === 'off') action = 'on';
      else if (this.consoleAlive === false) action = 'cycle';
      else if (this.consoleAlive === true) {
        // Alive on the console and answering ping (else consoleStep escalated HostUnreachable):
        // nothing to power; the verify that follows decides.
        this.record(step, { outcome: 'skipped', note: `${notes.join('; ')}; the host is alive on its console and answers ping: no power action` }, started);
        return GO;
      } else {
        this.record(step, { outcome: 'skipped', note: `${notes.join('; ')}; the console could not be looked at, so the host is not power-cycled` }, started);
        this.evidence.consoleCheckRequested = true;
        return halt('Escalated', `console check requested: ${this.server.metadata.name} is powered on and its console cannot be looked at; a person must decide on a power-cycle`);
      }
    } else {
      action = step.action;
    }
    if (action !== undefined && this.request.confirmPower && !(await this.request.confirmPower(action, this.server.metadata.name))) {
      this.record(step, { outcome: 'skipped', note: `${notes.join('; ')}; power ${action} declined by the operator: nothing sent` }, started);
      return halt('Interrupted', `the operator declined power ${action} of ${this.server.metadata.name}; nothing was sent`);
    }
    if (action !== undefined) {
      // Asked again right before the command: the BMC's status (and an operator's answer) came
      // between the check before this step and here, and a replica paused in that wait — SIGSTOP,
      // a stall — must not send its command once resumed past its lease: the BMC checks no token,
      // and a new owner may have judged the step and issued it itself (CI, seed 574646: "on" twice).
      const fenced = this.fence(step, [...notes, `power ${action} not sent`].join('; '), started);
      if (fenced) return fenced;
      this.acted = true;
      this.powerActions.push(action);
      this.log.warn({ step: step.id, action }, 'power action');
      await power.set(action, { deadlineMs, signal: this.signal });
      notes.push(`power ${action} sent`);
      const want = action === 'off' ? 'off' : 'on';
      const until = this.clock.now() + Math.min(deadlineMs, 60_000);
      let now = await power.status(opts);
      while (now !== want && this.clock.now() < until && !this.signal.aborted) {
        await this.sleep(500);
        now = await power.status(opts);
      }
      this.evidence.powerAfter = now;
      notes.push(`power is ${now}`);
      if (now !== want) return halt('StepFailed', `after power ${action} the BMC still says ${now}`);
    }
    this.record(step, { outcome: 'ok', note: notes.join('; ') }, started);
    return GO;
  }
}

/** The last belt: every string of the transcript passes the scrubber once more. */
export function scrubTranscript(t: Transcript, secrets: readonly string[]): Transcript {
  const s = (v: string): string => scrubText(v, secrets);
  const evidence: Transcript['evidence'] = {};
  for (const [k, v] of Object.entries(t.evidence)) evidence[k] = typeof v === 'string' ? s(v) : v;
  return {
    ...t,
    message: s(t.message),
    evidence,
    steps: t.steps.map((step) => {
      const copy: StepRecord = { ...step };
      if (copy.command !== undefined) copy.command = s(copy.command);
      if (copy.output !== undefined) copy.output = s(copy.output);
      if (copy.note !== undefined) copy.note = s(copy.note);
      return copy;
    }),
  };
}
