/**
 * One SSH connection to a customer server (ssh2), and commands run over it with a
 * deadline, bounded and scrubbed output, and prompts answered from secrets.
 *
 * The host key is pinned: the connection is refused before authentication unless the
 * server's key has the manifest's SHA256 fingerprint, so nothing can run on the wrong
 * machine. OpenSSH 4.x's algorithms are only ever appended when the manifest asks.
 */
import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { MamoriError } from '../errors.ts';
import { assertTarget, type TargetCheck } from '../manifest/target-networks.ts';
import { BoundedOutput, createStreamScrubber, scrubText } from './scrub.ts';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** `SHA256:<base64>` as `ssh-keygen -lf` prints it. */
  hostKey: string;
  /** A private key (PEM/OpenSSH) or the user's password. */
  auth: { privateKey: string } | { password: string };
  legacyAlgorithms: boolean;
  readyTimeoutMs?: number;
  localAddress?: string;
  /** The operator's target networks: `host` is checked here, before any socket is opened. */
  targets: TargetCheck;
}

/** Why a connection could not be used; the executor maps each to a verdict. */
export type SshConnectFailure = 'HostKeyMismatch' | 'AuthenticationFailed' | 'Unreachable' | 'NoCommonAlgorithm' | 'Timeout' | 'Error';

/** The algorithms OpenSSH 4.x (CentOS 5, FreeBSD 6) offers, appended to ssh2's defaults only on request. */
export const LEGACY_ALGORITHMS = {
  kex: { append: ['diffie-hellman-group14-sha1', 'diffie-hellman-group1-sha1', 'diffie-hellman-group-exchange-sha1'] },
  serverHostKey: { append: ['ssh-rsa', 'ssh-dss'] },
  cipher: { append: ['aes128-cbc', 'aes256-cbc', '3des-cbc'] },
  hmac: { append: ['hmac-sha1'] },
} as const;

/** ssh2's trace names → the words of a NoCommonAlgorithm error. */
const OFFER_NAMES: Record<string, string> = {
  'KEX method': 'key exchange',
  'Host key format': 'host key',
  'C->S cipher': 'ciphers',
  'C->S MAC': 'MACs',
};

export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function sameFingerprint(a: string, b: string): boolean {
  return a.replace(/=+$/, '') === b.replace(/=+$/, '');
}

export function sshFailureOf(err: unknown): SshConnectFailure {
  if (err instanceof MamoriError) {
    const kind = err.details.failure;
    if (typeof kind === 'string') return kind as SshConnectFailure;
  }
  return 'Error';
}

export interface PromptAnswer {
  /** Literal text the command prints when it asks. */
  prompt: string;
  value: string;
}

export interface ExecOptions {
  pty: boolean;
  deadlineMs: number;
  /** Prompts answered once each, only after they appear (typed-ahead input is discarded by getpass()). */
  answers?: PromptAnswer[];
  /** Text that, at the end of the output with nothing after it, is a prompt nobody will answer. */
  unanswerable?: RegExp[];
  /** Every secret that must not appear in the kept output. */
  secrets: readonly string[];
  outputLimitBytes?: number;
  /** The command prints `MAMORI_PID=<pid>` first (see remote-command.ts): parse and hide it. */
  pidMarker?: boolean;
  /** Kills the remote process tree rooted at pid (over another channel). */
  kill?: (pid: number) => Promise<string>;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number | null;
  exitSignal?: string;
  /** Scrubbed, bounded; PTY line ends normalised. */
  output: string;
  outputBytes: number;
  droppedBytes: number;
  /** exited: ran to the end. timeout: killed at its deadline. prompt: asked something nobody answers. */
  outcome: 'exited' | 'timeout' | 'prompt' | 'aborted' | 'closed';
  /** The unanswered prompt, scrubbed. */
  prompt?: string;
  remotePid?: number;
  /** What was done to stop it, when it was stopped. */
  killNote?: string;
  durationMs: number;
}

/** Output quiet this long after a prompt-looking line means the command waits for an answer. */
const PROMPT_SETTLE_MS = 400;
const MARKER = /^MAMORI_PID=(\d+)\r?\n/;

/** A prompt ends its line without a newline: a log line that merely mentions a password does not. */
export const DEFAULT_UNANSWERABLE: RegExp[] = [
  /pass ?phrase[^\n]{0,80}:[ \t]*$/i,
  /password[^\n]{0,80}:[ \t]*$/i,
  /\(yes\/no(\/\[fingerprint\])?\)\?[ \t]*$/,
];

export class SshSession {
  private dead = false;

  private constructor(
    private readonly client: Client,
    readonly observedHostKey: string,
  ) {
    client.on('error', () => {
      this.dead = true;
    });
    client.on('close', () => {
      this.dead = true;
    });
  }

  get closed(): boolean {
    return this.dead;
  }

  /** Rejects with MAMORI_TARGET_REFUSED, before any socket, when `host` is outside the target networks. */
  static connect(target: SshTarget, signal?: AbortSignal): Promise<SshSession> {
    return new Promise((resolve, reject) => {
      try {
        assertTarget(target.targets, target.host, 'SSH');
      } catch (err) {
        reject(err);
        return;
      }
      const client = new Client();
      let observed = '';
      let mismatch = false;
      let settled = false;
      const fail = (failure: SshConnectFailure, message: string, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        client.removeAllListeners('ready');
        client.on('error', () => undefined);
        client.end();
        const code = failure === 'HostKeyMismatch' ? 'MAMORI_RUNBOOK_HOST_KEY_MISMATCH' : failure === 'AuthenticationFailed' ? 'MAMORI_RUNBOOK_LOGIN_REFUSED' : 'MAMORI_RUNBOOK_SSH_UNAVAILABLE';
        reject(new MamoriError(code, message, { cause, details: { failure, host: target.host, port: target.port, observedHostKey: observed || undefined } }));
      };
      const onAbort = (): void => fail('Error', 'the connection was abandoned (shutting down)');
      signal?.addEventListener('abort', onAbort, { once: true });
      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: target.username,
        readyTimeout: target.readyTimeoutMs ?? 15_000,
        keepaliveInterval: 5_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer): boolean => {
          observed = fingerprintOf(key);
          mismatch = !sameFingerprint(observed, target.hostKey);
          return !mismatch;
        },
      };
      if (target.localAddress) config.localAddress = target.localAddress;
      if ('privateKey' in target.auth) {
        config.privateKey = target.auth.privateKey;
      } else {
        const password = target.auth.password;
        config.password = password;
        config.tryKeyboard = true;
        client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)));
      }
      // What the server offers, from ssh2's handshake trace: named in a NoCommonAlgorithm error,
      // so the operator sees whether legacyAlgorithms would help. Server text: bounded.
      const offered = new Map<string, string>();
      config.debug = (line: string): void => {
        const m = /Handshake: \(remote\) (KEX method|Host key format|C->S cipher|C->S MAC): (.{0,400})/.exec(line);
        if (m?.[1] && m[2] !== undefined && offered.size < 8) offered.set(m[1], m[2].replace(/[^\w@.,+-]/g, ''));
      };
      const offeredText = (): string =>
        offered.size === 0 ? '' : `; the server offers ${[...offered].map(([k, v]) => `${OFFER_NAMES[k] ?? k} ${v}`).join('; ')}`;
      if (target.legacyAlgorithms) {
        config.algorithms = {
          kex: { ...LEGACY_ALGORITHMS.kex, append: [...LEGACY_ALGORITHMS.kex.append] },
          serverHostKey: { append: [...LEGACY_ALGORITHMS.serverHostKey.append] },
          cipher: { append: [...LEGACY_ALGORITHMS.cipher.append] },
          hmac: { append: [...LEGACY_ALGORITHMS.hmac.append] },
        } as ConnectConfig['algorithms'];
      }
      client.once('ready', () => {
        signal?.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        resolve(new SshSession(client, observed));
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        signal?.removeEventListener('abort', onAbort);
        if (mismatch) {
          fail('HostKeyMismatch', `the host key of ${target.host} is ${observed}, not the pinned ${target.hostKey}: possible man-in-the-middle, nothing was run`, err);
        } else if (err.level === 'client-authentication') {
          fail('AuthenticationFailed', `the server refused the login of ${target.username}`, err);
        } else if (err.level === 'client-timeout') {
          fail('Timeout', `no SSH handshake with ${target.host}:${target.port} in time`, err);
        } else if (/no matching/i.test(err.message)) {
          fail('NoCommonAlgorithm', `no common SSH algorithm with ${target.host}: ${err.message}${offeredText()}${target.legacyAlgorithms ? '' : ' (an OpenSSH 4.x-era server needs spec.access.legacyAlgorithms: true)'}`, err);
        } else if (err.level === 'client-socket' || err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ETIMEDOUT') {
          fail('Unreachable', `cannot connect to ${target.host}:${target.port}: ${err.message}`, err);
        } else {
          fail('Error', `SSH to ${target.host}:${target.port} failed: ${err.message}`, err);
        }
      });
      client.on('close', () => fail(mismatch ? 'HostKeyMismatch' : 'Error', mismatch ? `the host key of ${target.host} is ${observed}, not the pinned ${target.hostKey}: possible man-in-the-middle, nothing was run` : `the SSH connection to ${target.host} closed before login`));
      try {
        client.connect(config);
      } catch (err) {
        fail('Error', `SSH to ${target.host}:${target.port} could not start: ${(err as Error).message}`, err);
      }
    });
  }

  close(): void {
    this.dead = true;
    this.client.end();
  }

  /** Runs one command; never throws for what the command does (a failure is in the result). */
  exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    const started = Date.now();
    const limit = opts.outputLimitBytes ?? 64 * 1024;
    return new Promise((resolve) => {
      if (this.dead) {
        resolve({ exitCode: null, output: '', outputBytes: 0, droppedBytes: 0, outcome: 'closed', durationMs: 0 });
        return;
      }
      const execOpts = opts.pty ? { pty: { term: 'dumb', cols: 200, rows: 50 } } : {};
      this.client.exec(command, execOpts, (err, channel) => {
        if (err) {
          resolve({ exitCode: null, output: `cannot open a channel: ${err.message}`, outputBytes: 0, droppedBytes: 0, outcome: 'closed', durationMs: Date.now() - started });
          return;
        }
        runChannel(channel, opts, limit, started, resolve);
      });
    });
  }
}

function runChannel(channel: ClientChannel, opts: ExecOptions, limit: number, started: number, resolve: (r: ExecResult) => void): void {
  const scrubber = createStreamScrubber(opts.secrets);
  const kept = new BoundedOutput(limit);
  const outDecoder = new StringDecoder('utf8');
  const errDecoder = new StringDecoder('utf8');
  const answers = (opts.answers ?? []).map((a) => ({ ...a, answered: false }));
  const unanswerable = opts.unanswerable ?? DEFAULT_UNANSWERABLE;
  let markerPending = opts.pidMarker === true;
  let markerBuffer = '';
  let remotePid: number | undefined;
  // Raw (unscrubbed) recent output, for prompt matching only; never kept.
  let window = '';
  let exitCode: number | null = null;
  let exitSignal: string | undefined;
  let outcome: ExecResult['outcome'] | undefined;
  let prompt: string | undefined;
  let killNote: string | undefined;
  let settleTimer: NodeJS.Timeout | undefined;
  let finished = false;
  let stopping: Promise<void> | undefined;

  const stopWith = (why: 'timeout' | 'prompt' | 'aborted'): void => {
    if (outcome !== undefined || finished) return;
    outcome = why;
    stopping = stopRemote();
  };
  const deadline = setTimeout(() => stopWith('timeout'), Math.max(1, opts.deadlineMs));
  const onAbort = (): void => stopWith('aborted');
  if (opts.signal?.aborted) queueMicrotask(onAbort);
  else opts.signal?.addEventListener('abort', onAbort, { once: true });

  async function stopRemote(): Promise<void> {
    const notes: string[] = [];
    if (opts.pty) {
      // ^C to the terminal's foreground group, as a person would.
      try {
        channel.write('\x03');
      } catch {
        // channel already gone
      }
    }
    try {
      channel.signal('KILL');
    } catch {
      // not every server honours signal requests; the kill below does not rely on it
    }
    if (remotePid !== undefined && opts.kill) {
      try {
        notes.push(await opts.kill(remotePid));
      } catch (err) {
        notes.push(`kill failed: ${(err as Error).message}`);
      }
    } else if (remotePid === undefined) {
      notes.push('the remote process id was not known');
    }
    killNote = notes.join('; ');
    channel.close();
    // If the server never confirms the close, finish anyway.
    setTimeout(finish, 3_000).unref();
  }

  const take = (text: string): void => {
    if (text.length === 0) return;
    if (finished) {
      kept.append(scrubber.write(text));
      return;
    }
    window = (window + text).slice(-4096);
    kept.append(scrubber.write(text));
    for (const a of answers) {
      if (!a.answered && window.includes(a.prompt)) {
        a.answered = true;
        window = '';
        try {
          channel.write(`${a.value}\n`);
        } catch {
          // the command ended meanwhile
        }
        if (!opts.pty && answers.every((x) => x.answered)) channel.end();
        return;
      }
    }
    if (settleTimer) {
      clearTimeout(settleTimer);
      settleTimer = undefined;
    }
    const tail = window.slice(-300);
    const asked = unanswerable.find((re) => re.test(tail));
    const again = answers.find((a) => a.answered && tail.trimEnd().endsWith(a.prompt.trimEnd()));
    if (asked || again) {
      settleTimer = setTimeout(() => {
        // The prompt's own line: a newline the terminal added after it (the tty echo) is not the prompt.
        const line = tail.trimEnd().split('\n').pop() ?? tail;
        prompt = scrubText(line, opts.secrets).trim();
        stopWith('prompt');
      }, PROMPT_SETTLE_MS);
    }
  };

  const onStdout = (data: Buffer): void => {
    let text = outDecoder.write(data);
    if (markerPending) {
      markerBuffer += text;
      const m = MARKER.exec(markerBuffer);
      if (m) {
        remotePid = Number(m[1]);
        markerPending = false;
        text = markerBuffer.slice(m[0].length);
      } else if (markerBuffer.length > 200 || (markerBuffer.includes('\n') && !markerBuffer.startsWith('MAMORI_PID='))) {
        markerPending = false;
        text = markerBuffer;
      } else {
        return;
      }
    }
    take(text);
  };
  channel.on('data', onStdout);
  channel.stderr.on('data', (data: Buffer) => take(errDecoder.write(data)));
  channel.on('exit', (code: number | null, signal?: string) => {
    exitCode = code ?? null;
    if (signal) exitSignal = signal;
  });
  channel.on('close', () => {
    // A kill in flight reports what it did: wait for it before finishing.
    if (stopping) void stopping.then(finish);
    else finish();
  });
  channel.on('error', () => undefined);
  if (!opts.pty && answers.length === 0) channel.end();

  function finish(): void {
    if (finished) return;
    finished = true;
    clearTimeout(deadline);
    if (settleTimer) clearTimeout(settleTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    if (markerPending && markerBuffer) take(markerBuffer);
    take(outDecoder.end());
    take(errDecoder.end());
    kept.append(scrubber.end());
    const result: ExecResult = {
      exitCode,
      output: kept.toString().replace(/\r\n/g, '\n'),
      outputBytes: kept.totalBytes,
      droppedBytes: kept.droppedBytes,
      outcome: outcome ?? (exitCode === null && exitSignal === undefined ? 'closed' : 'exited'),
      durationMs: Date.now() - started,
    };
    if (exitSignal) result.exitSignal = exitSignal;
    if (prompt !== undefined) result.prompt = prompt;
    if (remotePid !== undefined) result.remotePid = remotePid;
    if (killNote !== undefined) result.killNote = killNote;
    resolve(result);
  }
}
