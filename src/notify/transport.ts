/**
 * Where a rendered message goes: an SMTP relay (nodemailer), or — with no relay configured — an
 * `.eml` file per message in `<outbox>/sent/` (nodemailer's stream transport makes the RFC 822
 * bytes, so the file is exactly what SMTP would have carried).
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import writeFileAtomic from 'write-file-atomic';
import type { ResolvedNotifyOptions } from './options.ts';
import type { RenderedEmail } from './types.ts';

export interface OutgoingMail {
  /** The outbox's file name for this message (no extension). */
  fileId: string;
  rendered: RenderedEmail;
  to: string;
  cc?: string[];
  /** Fixed to the enqueue time so that a re-sent message is the same message. */
  date: Date;
}

export interface SendResult {
  transport: 'smtp' | 'file';
  /** The relay's last reply (`250 OK: queued as …`) or the file written. */
  response: string;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'file';
  send(mail: OutgoingMail): Promise<SendResult>;
  close(): void;
}

/** The nodemailer message: threading headers go through its own fields so they are not doubled. */
function message(mail: OutgoingMail, options: ResolvedNotifyOptions): nodemailer.SendMailOptions {
  const { 'Message-ID': messageId, 'In-Reply-To': inReplyTo, References: references, ...rest } = mail.rendered.headers;
  const msg: nodemailer.SendMailOptions = {
    from: { name: options.fromName, address: options.from },
    to: mail.to,
    subject: mail.rendered.subject,
    text: mail.rendered.text,
    html: mail.rendered.html,
    date: mail.date,
    messageId,
    headers: rest,
    // Nothing in a message may make nodemailer read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  if (mail.cc && mail.cc.length > 0) msg.cc = mail.cc;
  if (options.replyTo) msg.replyTo = options.replyTo;
  if (inReplyTo) msg.inReplyTo = inReplyTo;
  if (references) msg.references = references;
  return msg;
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function createMailTransport(options: ResolvedNotifyOptions): MailTransport {
  const smtp = options.smtp;
  if (smtp === undefined) {
    const stream = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
    const sentDir = path.join(options.dir, 'sent');
    return {
      kind: 'file',
      async send(mail) {
        const info = await stream.sendMail(message(mail, options));
        const file = path.join(sentDir, `${mail.fileId}.eml`);
        await writeFileAtomic(file, info.message as Buffer, { mode: 0o640 });
        await fsyncDir(sentDir);
        return { transport: 'file', response: path.basename(file) };
      },
      close() {
        stream.close();
      },
    };
  }
  const config: SMTPPool.Options = {
    // One kept-open connection: a burst (a mass failure's could-not-recover messages) does not pay
    // a TCP and TLS handshake per message; nodemailer reconnects when the relay drops it.
    pool: true,
    maxConnections: 1,
    maxMessages: 100,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
    tls: { rejectUnauthorized: smtp.rejectUnauthorized, ...(smtp.ca === undefined ? {} : { ca: smtp.ca }) },
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  if (smtp.auth) config.auth = { user: smtp.auth.user, pass: smtp.auth.pass };
  const transport = nodemailer.createTransport(config);
  return {
    kind: 'smtp',
    async send(mail) {
      const info = await transport.sendMail(message(mail, options));
      return { transport: 'smtp', response: info.response };
    },
    close() {
      transport.close();
    },
  };
}

/** Errors about this message (the relay refused the recipient or the content): retrying will not help. */
export function isPermanentSendError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; responseCode?: unknown };
  return (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600;
}

/** Errors about the relay (down, unreachable, TLS, auth): hold every message back, not only this one. */
export function isRelayError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && ['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EAUTH', 'ECONNREFUSED', 'EGREETING'].includes(code);
}
