import { hostname } from 'node:os';
import { LOCAL_LITERAL, type Dialog, type DialogStep } from './dialog.ts';
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

const SMTP_BANNER = { phase: 'banner', expect: /^220 /, continuation: /^220-/, peer: true } as const;
const smtpEhlo = (): DialogStep => ({ phase: 'dialog', send: `EHLO ${ehloName()}\r\n`, expect: /^250 /, continuation: /^250-/ });
const POP3_BANNER = { phase: 'banner', expect: /^\+OK/, peer: true } as const;
/** CAPA is allowed before login and multi-line: `+OK`, capability lines, then a lone dot. */
const POP3_CAPA: DialogStep = { phase: 'dialog', send: 'CAPA\r\n', expect: /^\.$/, continuation: /^\+OK/ };
const IMAP_BANNER = { phase: 'banner', expect: /^\* (?:OK|PREAUTH)/i, peer: true } as const;
const IMAP_NOOP: DialogStep = { phase: 'dialog', send: 'a2 NOOP\r\n', expect: /^a2 OK/i, skip: /^\* / };
const FTP_BANNER = { phase: 'banner', expect: /^220 /, continuation: /^220-/, peer: true } as const;

/**
 * The banner protocols as data, one engine runs them all (dialog.ts). Each says what the seed's
 * check needs to see, and how to leave politely. The implicit-TLS services (smtps, pop3s, imaps)
 * are the same dialogs inside TLS from the first byte.
 */
export const BANNER_DIALOGS: Readonly<Record<Exclude<TcpServiceName, 'http' | 'https'>, Dialog>> = {
  ftp: {
    service: 'ftp',
    steps: [FTP_BANNER],
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
    steps: [SMTP_BANNER, smtpEhlo()],
    quit: 'QUIT\r\n',
  },
  pop3: {
    service: 'pop3',
    steps: [POP3_BANNER],
    quit: 'QUIT\r\n',
  },
  imap: {
    service: 'imap',
    steps: [IMAP_BANNER],
    quit: 'a1 LOGOUT\r\n',
  },
  smtps: {
    service: 'smtps',
    tls: true,
    steps: [SMTP_BANNER, smtpEhlo()],
    quit: 'QUIT\r\n',
  },
  pop3s: {
    service: 'pop3s',
    tls: true,
    steps: [POP3_BANNER, POP3_CAPA],
    quit: 'QUIT\r\n',
  },
  imaps: {
    service: 'imaps',
    tls: true,
    steps: [IMAP_BANNER, IMAP_NOOP],
    quit: 'a1 LOGOUT\r\n',
  },
};

/**
 * The same services with STARTTLS (a manifest's `starttls: true`): the plain greeting, the upgrade
 * command (RFC 3207, 2595, 4217), TLS, then one command inside TLS to show the server speaks there.
 * A refused upgrade fails in phase `starttls`, a failed handshake in phase `tls`.
 */
export const STARTTLS_DIALOGS: Readonly<Record<'smtp' | 'pop3' | 'imap' | 'ftp', Dialog>> = {
  smtp: {
    service: 'smtp',
    steps: [
      SMTP_BANNER,
      smtpEhlo(),
      { phase: 'starttls', send: 'STARTTLS\r\n', expect: /^220 /, upgrade: true, refusal: 'STARTTLS refused' },
      // RFC 3207 §4.2: the client forgets what it knew and greets again.
      smtpEhlo(),
    ],
    quit: 'QUIT\r\n',
  },
  pop3: {
    service: 'pop3',
    steps: [POP3_BANNER, { phase: 'starttls', send: 'STLS\r\n', expect: /^\+OK/, upgrade: true, refusal: 'STLS refused' }, POP3_CAPA],
    quit: 'QUIT\r\n',
  },
  imap: {
    service: 'imap',
    steps: [
      IMAP_BANNER,
      { phase: 'starttls', send: 'a1 STARTTLS\r\n', expect: /^a1 OK/i, skip: /^\* /, upgrade: true, refusal: 'STARTTLS refused' },
      IMAP_NOOP,
    ],
    quit: 'a3 LOGOUT\r\n',
  },
  ftp: {
    service: 'ftp',
    steps: [
      FTP_BANNER,
      { phase: 'starttls', send: 'AUTH TLS\r\n', expect: /^234 /, continuation: /^234-/, upgrade: true, refusal: 'AUTH TLS refused' },
      { phase: 'dialog', send: 'NOOP\r\n', expect: /^2\d\d /, continuation: /^2\d\d-/ },
    ],
    quit: 'QUIT\r\n',
  },
};

export function hasStarttls(service: string): service is keyof typeof STARTTLS_DIALOGS {
  return service === 'smtp' || service === 'pop3' || service === 'imap' || service === 'ftp';
}
