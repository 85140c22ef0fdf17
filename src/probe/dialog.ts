import { isIP, Socket, type SocketConstructorOpts } from 'node:net';
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls';
import { failureFromError, formatTarget, makeResult } from './result.ts';
import { observeCertificate } from './tls-observe.ts';
import type { ProbeFailure, ProbePhase, ProbeResult, ProbeTarget, TcpServiceName, TlsObservation } from './types.ts';
import { DEFAULT_PORTS } from './types.ts';
import { createTelnetFilter, type TelnetFilter } from './telnet.ts';
import { subscribeAbort, unsubscribeAbort, type AbortWaiter } from './abort-fanout.ts';

/**
 * One step of a conversation, as data (blackbox_exporter's query_response): send, then wait for a
 * line matching `expect`. Lines matching `continuation` open a multi-line reply (SMTP `250-`, FTP
 * `220-`) whose lines are taken until `expect` matches; lines matching `skip` are ignored (SSH lets
 * a server print text before its identification). Any other line is a protocol failure.
 */
export interface DialogStep {
  phase: ProbePhase;
  send?: string;
  expect?: RegExp;
  continuation?: RegExp;
  skip?: RegExp;
  /** Keep this reply as what the peer said. */
  peer?: boolean;
  /**
   * Complete on any byte of data or telnet negotiation, or after `quietMs` of silence with the
   * connection still open (for peers that speak only when spoken to).
   */
  anyData?: boolean;
  quietMs?: number;
  /**
   * STARTTLS: once `expect` matches, wrap the connection in TLS (phase `tls`) and go on with the
   * next step inside it. A reply that does not match is the server refusing: `refusal` says so.
   */
  upgrade?: boolean;
  /** The failure message when this step's reply is not the expected one. */
  refusal?: string;
}

export interface Dialog {
  service: TcpServiceName;
  steps: readonly DialogStep[];
  /** Sent once the verdict is in, before our FIN: QUIT, LOGOUT, or SSH's identification line. */
  quit?: string;
  /** Wrap the connection in TLS before the first step; the certificate is observed, not enforced. */
  tls?: boolean;
  /** Strip telnet IAC commands from what the peer sends and refuse every option it offers. */
  telnet?: boolean;
  /** Adjusts the result before it is handed back (HTTP: the status's warning, expectStatus's message). */
  finish?: (result: ProbeResult, target: ProbeTarget) => void;
}

/**
 * How TLS connections are made: the roots a certificate is checked against (system roots plus
 * any CA the operator names). Made once per registry: a secure context with a root store is costly.
 */
export interface DialogTls {
  secureContext?: SecureContext;
}

/**
 * What we accept to reach a verdict: the probe asks "does it answer", so a server that only
 * speaks TLS 1.0 with old ciphers (CentOS 5's OpenSSL) is up; its weakness is a fact, not an outage.
 */
export const PROBE_TLS_MIN_VERSION = 'TLSv1';
export const PROBE_TLS_CIPHERS = 'DEFAULT:@SECLEVEL=0';

/** In a step's `send`, replaced by our address as an address literal (for EHLO without a domain name). */
export const LOCAL_LITERAL = '{local-literal}';

/** A line longer than this is not a banner; nor is a peer that sends more than MAX_BYTES in all. */
export const MAX_LINE_BYTES = 4096;
export const MAX_BYTES = 65_536;
/** After the verdict, how long we wait for the peer's FIN before destroying the socket. */
export const CLOSE_WAIT_MS = 2000;
export const DEFAULT_QUIET_MS = 1000;

const enum Stage { Connecting, Talking, Closing, Done }

/** A step as the engine reads it: every field present, in one order, and what it sends encoded once. */
class CompiledStep implements DialogStep {
  readonly phase: ProbePhase;
  readonly send: string | undefined;
  /**
   * `send` as bytes: a write of a Buffer skips encoding the string at every probe (writeUtf8String
   * was 4 % of the daemon's main thread at 1,667 TCP probes a second). Undefined when the line
   * names our address, which only the connection knows.
   */
  readonly sendBytes: Buffer | undefined;
  readonly expect: RegExp | undefined;
  readonly continuation: RegExp | undefined;
  readonly skip: RegExp | undefined;
  readonly peer: boolean;
  readonly anyData: boolean;
  readonly quietMs: number;
  readonly upgrade: boolean;
  readonly refusal: string | undefined;

  constructor(step: DialogStep) {
    this.phase = step.phase;
    this.send = step.send;
    this.sendBytes = step.send !== undefined && !step.send.includes(LOCAL_LITERAL) ? Buffer.from(step.send) : undefined;
    this.expect = step.expect;
    this.continuation = step.continuation;
    this.skip = step.skip;
    this.peer = step.peer === true;
    this.anyData = step.anyData === true;
    this.quietMs = step.quietMs ?? DEFAULT_QUIET_MS;
    this.upgrade = step.upgrade === true;
    this.refusal = step.refusal;
  }
}

/**
 * A dialog in the one shape the engine reads at every probe, made once per dialog (a prober's, or
 * an HTTP target's: `compileDialog`). The dialogs are written as literals of many shapes (a step
 * with `skip`, one with `anyData`, a dialog with `tls` or `finish`…); V8 reads a property of
 * objects of more than four shapes through its megamorphic cache, which the step reads of
 * 2,000 probes a second kept busy.
 */
export class CompiledDialog implements Dialog {
  readonly service: TcpServiceName;
  readonly steps: readonly CompiledStep[];
  /** The quit line, encoded once. */
  readonly quitBytes: Buffer | undefined;
  readonly tls: boolean;
  readonly telnet: boolean;
  readonly finish: ((result: ProbeResult, target: ProbeTarget) => void) | undefined;
  /** Plain from the first byte to the last: no implicit TLS, no STARTTLS step (takeSocket). */
  readonly plain: boolean;

  constructor(dialog: Dialog) {
    this.service = dialog.service;
    this.steps = dialog.steps.map((step) => new CompiledStep(step));
    this.quitBytes = dialog.quit !== undefined ? Buffer.from(dialog.quit) : undefined;
    this.tls = dialog.tls === true;
    this.telnet = dialog.telnet === true;
    this.finish = dialog.finish;
    this.plain = !this.tls && !this.steps.some((step) => step.upgrade);
  }
}

/** The dialog as the engine reads it; a prober compiles its dialogs once and hands them to runDialog. */
export function compileDialog(dialog: Dialog): CompiledDialog {
  return dialog instanceof CompiledDialog ? dialog : new CompiledDialog(dialog);
}

/**
 * The socket's listeners are shared functions that find their probe on the socket, not five
 * closures made for every probe (the daemon makes 1,667 probes a second; each closure is garbage).
 */
const RUN = Symbol('mamori.dialogRun');
/** A plain socket that may connect again once closed (false once TLS has taken it over). */
const REUSABLE = Symbol('mamori.reusable');
type RunSocket = (Socket | TLSSocket) & { [RUN]?: DialogRun; [REUSABLE]?: boolean };
function onSocketError(this: RunSocket, err: Error): void {
  this[RUN]?.onError(err);
}
function onSocketClose(this: RunSocket): void {
  this[RUN]?.onClose();
  if (this[REUSABLE] === true) releaseSocket(this as Socket);
}
function onSocketConnect(this: RunSocket): void {
  this[RUN]?.onConnect();
}
function onSocketData(this: RunSocket, chunk: Buffer): void {
  this[RUN]?.onData(chunk.toString('latin1'));
}
/** A plain probe socket's read (its `onread`): the bytes are in the shared buffer until this returns. */
function onSocketRead(this: RunSocket, nread: number, buffer: Buffer): void {
  this[RUN]?.onData(buffer.toString('latin1', 0, nread));
}
function onSocketEnd(this: RunSocket): void {
  this[RUN]?.onEnd();
}
function onSecureConnect(this: RunSocket): void {
  this[RUN]?.onSecureConnect(this as TLSSocket);
}

/**
 * What every plain probe socket reads into (Node's `onread`): a read is decoded to a string at once,
 * on the one thread, so one buffer serves them all. Without it each read allocated a 64 KiB buffer,
 * shrank it to the bytes read and made a Buffer of it, then pushed it through the socket's readable
 * stream (libc's malloc family was ~10 % of the daemon's perf samples at 10,000 servers).
 */
const readBuffer = Buffer.allocUnsafe(65_536);
/** `net.connect()` hands its options, `onread` among them, to `new Socket()`; @types/node 20 lists it for connect only. */
const READ_INTO_BUFFER = { onread: { buffer: readBuffer, callback: onSocketRead } } as SocketConstructorOpts;

/**
 * Closed plain sockets, kept to connect again: Node documents `socket.connect()` after 'close' for
 * reconnecting. A probe lives a few milliseconds, yet its socket and stream state (about 2 KB of
 * objects) outlived scavenges and died in the old generation, which grew ~4.5 MB a second at
 * 10,000 servers and cost the daemon a growing share of a core until each full GC (why they were
 * promoted: abort-fanout.ts). Made once, they are neither allocated nor collected: at 10,000
 * servers the daemon took ~11 % less CPU, and scavenges ~9.5 ms of each second instead of ~14.
 * A socket taken from here is connected afresh (a new TCP handle: nothing of the last connection
 * is left but the listeners, which find their probe on the socket); TLS sockets and the raw socket
 * under them are never kept.
 */
const idleSockets: Socket[] = [];
/** More than the probes a 10,000-server fleet has in flight at once (about 15). */
export const MAX_IDLE_SOCKETS = 256;
let socketsMade = 0;

/**
 * A socket for a dialog: a kept one for a plain dialog, else a new one. A dialog that may turn to
 * TLS (implicit, or STARTTLS) gets a socket of its own that reads through its stream, as TLS needs
 * of the socket under it, and is never kept.
 */
function takeSocket(plain: boolean): RunSocket {
  const kept = plain ? idleSockets.pop() : undefined;
  if (kept !== undefined) return kept as RunSocket;
  socketsMade += 1;
  const socket = (plain ? new Socket(READ_INTO_BUFFER) : new Socket()) as RunSocket;
  // Before a handle exists this only records the wish; each connection applies it once connected.
  socket.setNoDelay(true);
  socket[REUSABLE] = plain;
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
  socket.on('connect', onSocketConnect);
  // Chunks are decoded as latin1 (no StringDecoder a socket: one byte, one char).
  if (!plain) socket.on('data', onSocketData);
  socket.on('end', onSocketEnd);
  return socket;
}


function releaseSocket(socket: Socket): void {
  if (idleSockets.length < MAX_IDLE_SOCKETS) idleSockets.push(socket);
}

/** Sockets made so far, and the closed ones waiting to connect again (for tests). */
export function dialogSocketCounts(): { made: number; idle: number } {
  return { made: socketsMade, idle: idleSockets.length };
}

/**
 * Run a dialog against a target. Never throws, never leaves a socket open: the promise resolves
 * only after the socket has closed. On success we close politely (quit line, FIN, then read until
 * the peer's FIN so that unread bytes never turn our close into a RST).
 */
export function runDialog(dialog: Dialog, target: ProbeTarget, signal?: AbortSignal, tls?: DialogTls): Promise<ProbeResult> {
  const compiled = compileDialog(dialog);
  return new Promise((resolve) => {
    new DialogRun(compiled, target, signal, resolve, tls).start();
  });
}

/** SNI must be a name, never an address literal. */
function serverName(host: string | undefined): string | undefined {
  return host !== undefined && !/^[\d.]+$|:/.test(host) ? host : undefined;
}

class DialogRun implements AbortWaiter {
  private readonly started = Date.now();
  private readonly t0 = performance.now();
  private readonly deadline: number;
  private readonly port: number;
  private raw: Socket | undefined;
  private io: Socket | TLSSocket | undefined;
  private stage = Stage.Connecting;
  private phase: ProbePhase = 'connect';
  private stepIndex = 0;
  private inContinuation = false;
  private buffer = '';
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private latencyMs = 0;
  private failure: ProbeFailure | undefined;
  private peer: string | undefined;
  private lastLine: string | undefined;
  private warnings: string[] | undefined;
  private tls: TlsObservation | undefined;
  private telnet: TelnetFilter | undefined;
  /** What to do once TLS is up (go on with the dialog at connect, or after STARTTLS). */
  private afterTls: (() => void) | undefined;
  /** The abort fan-out's links (AbortWaiter). */
  abortPrev: AbortWaiter | undefined = undefined;
  abortNext: AbortWaiter | undefined = undefined;

  constructor(
    private readonly dialog: CompiledDialog,
    private readonly target: ProbeTarget,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (result: ProbeResult) => void,
    private readonly tlsOptions: DialogTls | undefined,
  ) {
    this.deadline = this.t0 + Math.max(1, target.timeoutMs);
    this.port = target.port ?? DEFAULT_PORTS[dialog.service];
  }

  /** The controller stopped (AbortWaiter: one listener on its signal for all the probes in flight). */
  onAbort(): void {
    this.fail({ kind: 'error', phase: this.phase, message: 'probe aborted' });
  }

  start(): void {
    if (this.signal?.aborted === true) {
      this.stage = Stage.Done;
      this.resolve(this.result({ kind: 'error', phase: 'connect', message: 'probe aborted' }));
      return;
    }
    if (isIP(this.target.address) === 0) {
      // Addresses are IP literals by schema; a name here would mean a DNS lookup per probe.
      this.stage = Stage.Done;
      this.resolve(this.result({ kind: 'error', phase: 'connect', message: 'not an IP address (names are not resolved)' }));
      return;
    }
    if (this.signal !== undefined) subscribeAbort(this.signal, this);
    const socket = takeSocket(this.dialog.plain);
    try {
      socket.connect({ host: this.target.address, port: this.port, localAddress: this.target.sourceAddress });
    } catch (err) {
      // Invalid options (a bad port, a bad source address) throw synchronously, the socket half set up.
      socket[REUSABLE] = false;
      socket.destroy();
      this.stage = Stage.Done;
      if (this.signal !== undefined) unsubscribeAbort(this.signal, this);
      this.resolve(this.result(failureFromError(err, 'connect')));
      return;
    }
    this.raw = socket;
    socket[RUN] = this;
    this.arm(this.deadline);
  }

  /**
   * The one timer of the probe, due at `at`. Whole milliseconds: Node keeps one list of timers per
   * distinct duration, and a fractional one made a list (and a priority-queue entry) per probe.
   */
  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(onRunTimer, Math.max(1, Math.ceil(at - performance.now())), this);
  }

  onConnect(): void {
    if (this.stage !== Stage.Connecting) return;
    const raw = this.raw as Socket;
    if (this.dialog.tls) {
      this.startTls(() => this.beginTalking());
    } else {
      this.io = raw;
      this.beginTalking();
    }
  }

  /**
   * Wrap the raw connection in TLS (implicit TLS at connect, or after a STARTTLS reply), observe
   * the certificate, then go on. Verification is never enforced here: see observeCertificate.
   */
  private startTls(then: () => void): void {
    const raw = this.raw as RunSocket;
    this.phase = 'tls';
    const host = this.target.host;
    let tlsSocket: TLSSocket;
    try {
      tlsSocket = tlsConnect({
        socket: raw,
        servername: serverName(host),
        host: host ?? this.target.address,
        rejectUnauthorized: false,
        // The name is checked by observeCertificate, apart from the chain, so both are reported.
        checkServerIdentity: () => undefined,
        minVersion: PROBE_TLS_MIN_VERSION,
        ciphers: PROBE_TLS_CIPHERS,
        ...(this.tlsOptions?.secureContext !== undefined ? { secureContext: this.tlsOptions.secureContext } : {}),
      });
    } catch (err) {
      this.fail(failureFromError(err, 'tls'));
      return;
    }
    this.io = tlsSocket;
    this.afterTls = then;
    (tlsSocket as RunSocket)[RUN] = this;
    tlsSocket.on('error', onSocketError);
    tlsSocket.on('close', onSocketClose);
    tlsSocket.once('secureConnect', onSecureConnect);
  }

  onSecureConnect(tlsSocket: TLSSocket): void {
    if (this.stage === Stage.Done || this.stage === Stage.Closing) return;
    const report = observeCertificate(tlsSocket, Date.now(), serverName(this.target.host));
    this.tls = report.tls;
    if (report.warnings.length > 0) this.warnings = report.warnings;
    const then = this.afterTls;
    this.afterTls = undefined;
    then?.();
  }

  private beginTalking(): void {
    const io = this.io as Socket;
    this.stage = Stage.Talking;
    if (this.dialog.telnet) this.telnet = createTelnetFilter((reply) => io.write(reply));
    // The plain socket listens from its making (takeSocket); a TLS socket from here.
    if (io !== this.raw) this.listen(io);
    this.enterStep();
  }

  private listen(io: Socket): void {
    io.on('data', onSocketData);
    io.on('end', onSocketEnd);
  }

  /** The server said yes to STARTTLS: nothing may follow its reply in clear (RFC 3207 §5), then TLS. */
  private upgrade(): void {
    const raw = this.raw as Socket;
    if (this.buffer !== '') {
      this.lastLine = this.buffer.slice(0, 200);
      this.fail({ kind: 'protocol', phase: 'starttls', message: 'data after the STARTTLS reply, before TLS' });
      return;
    }
    raw.removeListener('data', onSocketData);
    raw.removeListener('end', onSocketEnd);
    this.startTls(() => {
      if (this.stage !== Stage.Talking) return;
      this.listen(this.io as Socket);
      this.enterStep();
    });
  }

  /** Start the current step: send its line, set its phase; or reach the verdict when none is left. */
  private enterStep(): void {
    const step = this.dialog.steps[this.stepIndex];
    if (step === undefined) {
      this.succeed();
      return;
    }
    this.phase = step.phase;
    this.inContinuation = false;
    if (step.sendBytes !== undefined) (this.io as Socket).write(step.sendBytes);
    else if (step.send !== undefined) (this.io as Socket).write(step.send.replace(LOCAL_LITERAL, this.localLiteral()));
    if (step.expect === undefined && !step.anyData) {
      // A send-only step: nothing to wait for.
      this.stepIndex += 1;
      this.enterStep();
      return;
    }
    if (step.anyData) {
      const quietAt = performance.now() + step.quietMs;
      if (quietAt < this.deadline) this.arm(quietAt);
    }
  }

  /** Our end of the connection as an RFC 5321 address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`). */
  private localLiteral(): string {
    const local = this.raw?.localAddress ?? '127.0.0.1';
    return local.includes(':') ? `[IPv6:${local}]` : `[${local}]`;
  }

  onData(chunk: string): void {
    if (this.stage === Stage.Done) return;
    this.bytes += chunk.length;
    if (this.stage === Stage.Closing) {
      // Draining before the peer's FIN; a peer that never stops talking is cut off.
      if (this.bytes > MAX_BYTES) this.finish();
      return;
    }
    if (this.bytes > MAX_BYTES) {
      this.fail({ kind: 'protocol', phase: this.phase, message: `peer sent more than ${MAX_BYTES} bytes` });
      return;
    }
    let text = chunk;
    if (this.telnet !== undefined) {
      const before = this.telnet.commands;
      text = this.telnet.filter(chunk);
      const step = this.dialog.steps[this.stepIndex];
      if (step?.anyData === true && (text.length > 0 || this.telnet.commands > before)) {
        const shown = text.trim();
        if (shown !== '') this.peer = shown;
        else if (this.peer === undefined) this.peer = `telnet negotiation (${this.telnet.commands} option commands)`;
        this.stepIndex += 1;
        this.arm(this.deadline);
        this.enterStep();
        return;
      }
    } else {
      const step = this.dialog.steps[this.stepIndex];
      if (step?.anyData === true && text.length > 0) {
        this.peer = text.trim();
        this.stepIndex += 1;
        this.arm(this.deadline);
        this.enterStep();
        return;
      }
    }
    this.buffer += text;
    let newline = this.buffer.indexOf('\n');
    while (newline !== -1 && this.stage === Stage.Talking) {
      const end = newline > 0 && this.buffer.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(newline + 1);
      this.onLine(line);
      newline = this.buffer.indexOf('\n');
    }
    if (this.stage === Stage.Talking && this.buffer.length > MAX_LINE_BYTES) {
      this.lastLine = this.buffer.slice(0, 200);
      this.fail({ kind: 'protocol', phase: this.phase, message: `line longer than ${MAX_LINE_BYTES} bytes` });
    }
  }

  private onLine(line: string): void {
    const step = this.dialog.steps[this.stepIndex];
    if (step === undefined || step.expect === undefined) return;
    this.lastLine = line;
    if (step.expect.test(line)) {
      if (step.peer === true && !this.inContinuation) this.peer = line;
      this.stepIndex += 1;
      if (step.upgrade === true) this.upgrade();
      else this.enterStep();
    } else if (this.inContinuation || step.continuation?.test(line) === true) {
      if (step.peer === true && !this.inContinuation) this.peer = line;
      this.inContinuation = true;
    } else if (step.skip?.test(line) !== true) {
      this.fail({ kind: 'protocol', phase: step.phase, message: step.refusal ?? 'unexpected reply' });
    }
  }

  onEnd(): void {
    if (this.stage === Stage.Talking) {
      if (this.buffer !== '') this.lastLine = this.buffer.slice(0, 200);
      this.fail({ kind: 'protocol', phase: this.phase, message: 'connection closed by peer' });
    }
  }

  onError(err: Error): void {
    if (this.stage === Stage.Done) return;
    if (this.stage === Stage.Closing) {
      // The verdict is in; a reset while closing changes nothing but the socket's fate.
      this.finish();
      return;
    }
    this.fail(failureFromError(err, this.phase));
  }

  onClose(): void {
    if (this.stage === Stage.Done) return;
    if (this.stage === Stage.Closing) {
      this.finish();
      return;
    }
    this.fail({ kind: 'error', phase: this.phase, message: 'socket closed' });
  }

  onTimer(): void {
    this.timer = undefined;
    if (this.stage === Stage.Done) return;
    if (this.stage === Stage.Closing) {
      this.finish();
      return;
    }
    const step = this.dialog.steps[this.stepIndex];
    if (this.stage === Stage.Talking && step?.anyData === true && performance.now() < this.deadline) {
      // Quiet period passed with the connection open: the peer waits for us to speak.
      if (this.peer === undefined) this.peer = '(connected, no data)';
      this.stepIndex += 1;
      this.arm(this.deadline);
      this.enterStep();
      return;
    }
    if (this.buffer !== '') this.lastLine = this.buffer.slice(0, 200);
    this.fail({ kind: 'timeout', phase: this.phase, message: `no ${this.phase === 'connect' ? 'connection' : 'reply'} within ${this.target.timeoutMs} ms` });
  }

  private succeed(): void {
    this.latencyMs = performance.now() - this.t0;
    this.stage = Stage.Closing;
    this.phase = 'close';
    this.buffer = '';
    const io = this.io as Socket;
    if (this.dialog.quitBytes !== undefined) io.write(this.dialog.quitBytes);
    io.end();
    this.arm(performance.now() + Math.min(CLOSE_WAIT_MS, Math.max(250, this.deadline - performance.now())));
  }

  private fail(failure: ProbeFailure): void {
    if (this.stage === Stage.Done || this.stage === Stage.Closing) return;
    this.latencyMs = performance.now() - this.t0;
    this.failure = failure;
    // What the peer said wrongly is the evidence; otherwise keep its banner.
    if (this.lastLine !== undefined && (failure.kind === 'protocol' || failure.kind === 'timeout' || this.peer === undefined)) this.peer = this.lastLine;
    this.finish();
  }

  private finish(): void {
    if (this.stage === Stage.Done) return;
    this.stage = Stage.Done;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.signal !== undefined) unsubscribeAbort(this.signal, this);
    const { io, raw } = this;
    io?.destroy();
    raw?.destroy();
    // The probe and its sockets let go of each other: whichever of them a scavenge finds in the
    // old generation (dead, but not known to be until a full GC) then keeps nothing young alive.
    this.io = undefined;
    this.raw = undefined;
    if (io !== undefined) (io as RunSocket)[RUN] = undefined;
    if (raw !== undefined) (raw as RunSocket)[RUN] = undefined;
    this.resolve(this.result(this.failure));
  }

  private result(failure: ProbeFailure | undefined): ProbeResult {
    const result = makeResult({
      service: this.dialog.service,
      target: formatTarget(this.target.address, this.port),
      startedAt: this.started,
      latencyMs: this.latencyMs,
      failure,
      peer: this.peer,
      warnings: this.warnings,
    });
    if (this.tls !== undefined) result.tls = this.tls;
    this.dialog.finish?.(result, this.target);
    return result;
  }
}

/** Every probe's timer fires here (bench/timer-census.mjs tells a probe's timer by this name). */
function onRunTimer(run: DialogRun): void {
  run.onTimer();
}
