import { hostname } from 'node:os';
import { LOCAL_LITERAL, type Dialog } from './dialog.ts';
import type { TcpServiceName } from './types.ts';

/**
 * What we greet SMTP servers with: this machine's name when it is a domain name (RFC 5321 wants
 * one), else our address as a literal, filled in per connection.
 */
function ehloName(): string {
  const name = hostname().replace(/[^A-Za-z0-9.-]/g, '');
  return /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(name) ? name : LOCAL_LITERAL;
}

/** Our SSH identification (RFC 4253 §4.2): sent before we close, so sshd logs a clean disconnect. */
export const SSH_IDENTIFICATION = 'SSH-2.0-mamori_probe\r\n';

/**
 * The banner protocols as data, one engine runs them all (dialog.ts). Each says what the seed's
 * check needs to see, and how to leave politely.
 */
export const BANNER_DIALOGS: Readonly<Record<Exclude<TcpServiceName, 'http' | 'https'>, Dialog>> = {
  ftp: {
    service: 'ftp',
    steps: [{ phase: 'banner', expect: /^220 /, continuation: /^220-/, peer: true }],
    quit: 'QUIT\r\n',
  },
  ssh: {
    service: 'ssh',
    // RFC 4253 lets the server print other lines first, none starting with "SSH-".
    steps: [{ phase: 'banner', expect: /^SSH-/, skip: /^(?!SSH-)/, peer: true }],
    quit: SSH_IDENTIFICATION,
  },
  telnet: {
    service: 'telnet',
    // Up once option negotiation or any data arrives, or the line stays open and quiet for a
    // second (a telnetd may wait for the client to speak first); down if it closes or never connects.
    steps: [{ phase: 'banner', anyData: true, quietMs: 1000 }],
    telnet: true,
  },
  smtp: {
    service: 'smtp',
    steps: [
      { phase: 'banner', expect: /^220 /, continuation: /^220-/, peer: true },
      { phase: 'dialog', send: `EHLO ${ehloName()}\r\n`, expect: /^250 /, continuation: /^250-/ },
    ],
    quit: 'QUIT\r\n',
  },
  pop3: {
    service: 'pop3',
    steps: [{ phase: 'banner', expect: /^\+OK/, peer: true }],
    quit: 'QUIT\r\n',
  },
  imap: {
    service: 'imap',
    steps: [{ phase: 'banner', expect: /^\* (?:OK|PREAUTH)/i, peer: true }],
    quit: 'a1 LOGOUT\r\n',
  },
};
