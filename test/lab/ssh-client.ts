import { spawn } from 'node:child_process';
import type { Lab, LabHost } from './types.ts';
import { run, type RunResult } from './run.ts';

/** The OpenSSH client options an OpenSSH 4.x server needs (and the modern client refuses by default). */
export const LEGACY_SSH_OPTIONS = [
  '-o', 'KexAlgorithms=+diffie-hellman-group1-sha1,diffie-hellman-group14-sha1',
  '-o', 'HostKeyAlgorithms=+ssh-rsa',
  '-o', 'Ciphers=+aes128-cbc,3des-cbc',
  '-o', 'MACs=+hmac-sha1',
  '-o', 'PubkeyAcceptedAlgorithms=+ssh-rsa',
];

export interface SshOptions {
  knownHosts: string;
  /** Use the RSA key and the legacy algorithms (for a legacy-ssh host). */
  legacy?: boolean;
  /** Force a remote PTY (ssh -tt). */
  tty?: boolean;
}

/** Arguments for the real `ssh` client: the management key, strict host key checking. */
export function sshArgs(lab: Lab, host: LabHost, opts: SshOptions, command: string): string[] {
  return [
    '-i', opts.legacy ? lab.legacyKeyPath : lab.managementKeyPath,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${opts.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    ...(opts.legacy ? LEGACY_SSH_OPTIONS : []),
    ...(opts.tty ? ['-tt'] : []),
    `${lab.managementUser}@${host.address}`,
    command,
  ];
}

export function ssh(lab: Lab, host: LabHost, opts: SshOptions, command: string, timeoutMs = 30_000): Promise<RunResult> {
  return run('ssh', sshArgs(lab, host, opts, command), { timeoutMs });
}

/**
 * Runs a command over `ssh -tt` and answers a prompt the way a person at a terminal does: only
 * once the prompt has appeared (input typed earlier is flushed by the asking program).
 */
export function sshAnswering(
  lab: Lab,
  host: LabHost,
  opts: SshOptions,
  command: string,
  prompt: string,
  answer: string,
  timeoutMs = 30_000,
): Promise<RunResult & { prompted: boolean }> {
  return new Promise((resolve) => {
    const child = spawn('ssh', sshArgs(lab, host, { ...opts, tty: true }, command), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let prompted = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!prompted && stdout.includes(prompt)) {
        prompted = true;
        child.stdin.write(`${answer}\n`);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 124, stdout, stderr, prompted });
    });
  });
}

/**
 * Runs a command over `ssh -tt` and answers each appearance of a prompt with the next answer,
 * as a person does once the prompt shows; a prompt after the last answer gets ^C (the person
 * gives up). For dialogs that ask again after a wrong answer (mod_ssl's built-in one).
 */
export function sshDialog(
  lab: Lab,
  host: LabHost,
  opts: SshOptions,
  command: string,
  prompt: string,
  answers: readonly string[],
  timeoutMs = 30_000,
): Promise<RunResult & { prompts: number }> {
  return new Promise((resolve) => {
    const child = spawn('ssh', sshArgs(lab, host, { ...opts, tty: true }, command), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let prompts = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const seen = stdout.split(prompt).length - 1;
      while (prompts < seen) {
        const answer = answers[prompts];
        prompts += 1;
        child.stdin.write(answer === undefined ? '\x03' : `${answer}\n`);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 124, stdout, stderr, prompts });
    });
  });
}
