/**
 * A real SMTP server for the notifier's tests (the smtp-server package, on 127.0.0.1), which keeps
 * every message it accepts, raw and parsed by mailparser.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpSinkOptions {
  port?: number;
  /** Offer STARTTLS with this certificate. */
  tls?: { key: string; cert: string };
  /** Require AUTH PLAIN/LOGIN with these credentials. */
  auth?: { user: string; pass: string };
  /** Refuse these recipients with 550 (a permanent failure). */
  rejectRcpt?: string[];
  /** Answer every connection with 421 and close it (a relay that is up but not taking mail). */
  refuseConnections?: boolean;
}

export interface SmtpSink {
  port: number;
  raw: string[];
  messages: ParsedMail[];
  /** Envelope recipients per message. */
  rcpt: string[][];
  /** Whether each session had TLS and an authenticated user. */
  sessions: Array<{ secure: boolean; user: string | undefined }>;
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const raw: string[] = [];
  const messages: ParsedMail[] = [];
  const rcpt: string[][] = [];
  const sessions: SmtpSink['sessions'] = [];
  const server = new SMTPServer({
    logger: false,
    // A reverse DNS lookup per connection would make every test wait on the resolver.
    disableReverseLookup: true,
    secure: false,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : { disabledCommands: ['STARTTLS'] }),
    authOptional: options.auth === undefined,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        callback(null, { user: auth.username });
      } else {
        callback(new Error('Invalid username or password'));
      }
    },
    onConnect(_session, callback) {
      if (options.refuseConnections) callback(Object.assign(new Error('Service not available, closing channel'), { responseCode: 421 }));
      else callback();
    },
    onRcptTo(address, _session, callback) {
      if (options.rejectRcpt?.includes(address.address)) {
        callback(Object.assign(new Error('5.1.1 No such user'), { responseCode: 550 }));
      } else {
        callback();
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        raw.push(text);
        rcpt.push(session.envelope.rcptTo.map((r) => r.address));
        sessions.push({ secure: session.secure, user: typeof session.user === 'string' ? session.user : undefined });
        simpleParser(text).then(
          (parsed) => {
            messages.push(parsed);
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address() as AddressInfo;
  return {
    port: address.port,
    raw,
    messages,
    rcpt,
    sessions,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages, got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
