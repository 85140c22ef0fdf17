import { compileDialog, runDialog, type Dialog, type DialogTls } from './dialog.ts';
import type { Prober, ProbeResult, ProbeTarget } from './types.ts';

const STATUS_LINE = /^HTTP\/\d(?:\.\d)? ([1-9]\d\d)(?: |$)/;

/** Header values come from manifests; never let one smuggle a second header or request. */
function headerSafe(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (code > 0x20 && code !== 0x7f) out += ch;
  }
  return out;
}

function pathSafe(path: string | undefined): string {
  if (path === undefined || path === '') return '/';
  const clean = headerSafe(path);
  return clean.startsWith('/') ? clean : `/${clean}`;
}

function hostHeader(target: ProbeTarget, port: number, defaultPort: number): string {
  const name = target.host !== undefined ? headerSafe(target.host) : target.address.includes(':') ? `[${target.address}]` : target.address;
  return port === defaultPort ? name : `${name}:${port}`;
}

/** Up by the seed's rule, but an operator wants to see a server error; expectStatus's refusal says what was wanted. */
function finishHttp(result: ProbeResult, target: ProbeTarget): void {
  if (result.failure?.kind === 'protocol' && target.expectStatus !== undefined && result.peer !== undefined && STATUS_LINE.test(result.peer)) {
    result.failure.message = `status not in [${target.expectStatus.join(', ')}]`;
  }
  const status = result.up && result.peer !== undefined ? STATUS_LINE.exec(result.peer)?.[1] : undefined;
  if (status !== undefined && status.startsWith('5')) {
    result.warnings = [...(result.warnings ?? []), `HTTP status ${status}`];
  }
}

/**
 * HEAD over a raw socket, one request per connection (`Connection: close`): the same engine, deadlines
 * and byte caps as the banner protocols, no agent to pool or leak sockets. Any HTTP status line is up
 * (the seed's check is "HEAD could be fetched"); `expectStatus` narrows that on request.
 */
export function httpDialog(target: ProbeTarget, secure: boolean): Dialog {
  const defaultPort = secure ? 443 : 80;
  const port = target.port ?? defaultPort;
  const request =
    `HEAD ${pathSafe(target.path)} HTTP/1.1\r\n` +
    `Host: ${hostHeader(target, port, defaultPort)}\r\n` +
    'User-Agent: mamori-probe\r\n' +
    'Accept: */*\r\n' +
    'Connection: close\r\n\r\n';
  const expect =
    target.expectStatus !== undefined && target.expectStatus.length > 0
      ? new RegExp(`^HTTP/\\d(?:\\.\\d)? (?:${target.expectStatus.map((s) => String(Math.trunc(s))).join('|')})(?: |$)`)
      : STATUS_LINE;
  return {
    service: secure ? 'https' : 'http',
    tls: secure,
    steps: [{ phase: 'response', send: request, expect, peer: true }],
    finish: finishHttp,
  };
}

interface Cached {
  dialog: Dialog;
  address: string;
  port: number | undefined;
  host: string | undefined;
  path: string | undefined;
  expectStatus: number[] | undefined;
}

export function createHttpProber(secure: boolean, tls?: DialogTls): Prober {
  // The daemon hands the same target object for a service at every probe (made once per manifest):
  // its request, regex and encoded bytes (compileDialog) are made once, not at 800 HTTP probes a second. A target
  // changed in place since is noticed, and its dialog made again.
  const dialogs = new WeakMap<ProbeTarget, Cached>();
  const dialogOf = (target: ProbeTarget): Dialog => {
    const c = dialogs.get(target);
    if (c !== undefined && c.address === target.address && c.port === target.port && c.host === target.host && c.path === target.path && c.expectStatus === target.expectStatus) return c.dialog;
    const dialog = compileDialog(httpDialog(target, secure));
    dialogs.set(target, { dialog, address: target.address, port: target.port, host: target.host, path: target.path, expectStatus: target.expectStatus });
    return dialog;
  };
  return {
    service: secure ? 'https' : 'http',
    probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
      return runDialog(dialogOf(target), target, signal, tls);
    },
  };
}
