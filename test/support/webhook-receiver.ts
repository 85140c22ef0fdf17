/**
 * A real webhook receiver for tests: a node:http server that checks each delivery's signature the
 * way the README tells receivers to (the recipe is written out here, independently of mamori's
 * own signing code) and records what arrived. It can answer an error for the next deliveries and
 * can stop and start again on the same port (a receiver that is down, then back).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  id: string;
  timestamp: number;
  signature: string;
  /** The README's recipe said yes. */
  verified: boolean;
  idempotencyKey: string | undefined;
  eventHeader: string | undefined;
  body: string;
  event: { id: string; type: string; [k: string]: unknown };
  status: number;
}

/** The README's recipe: HMAC-SHA256 over `${id}.${timestamp}.${body}`, base64, `v1,` prefix; timestamps within 5 minutes. */
export function verifyAsReceiver(secret: string, headers: IncomingMessage['headers'], body: string, nowMs = Date.now()): boolean {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof ts !== 'string' || typeof sig !== 'string') return false;
  if (Math.abs(nowMs / 1000 - Number(ts)) > 300) return false;
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  const expected = Buffer.from(`v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`);
  return sig.split(' ').some((s) => s.length === expected.length && timingSafeEqual(Buffer.from(s), expected));
}

export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  /** Statuses to answer for the next deliveries (then 200). */
  readonly answers: number[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/mamori`;
  }

  async start(port = this.port): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = this.answers.shift() ?? 200;
        let event: Delivery['event'];
        try {
          event = JSON.parse(body) as Delivery['event'];
        } catch {
          event = { id: '', type: '(not JSON)' };
        }
        const header = (name: string): string | undefined => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
        this.deliveries.push({
          id: header('webhook-id') ?? '',
          timestamp: Number(header('webhook-timestamp')),
          signature: header('webhook-signature') ?? '',
          verified: req.method === 'POST' && verifyAsReceiver(this.secret, req.headers, body, this.now()),
          idempotencyKey: header('idempotency-key'),
          eventHeader: header('mamori-event'),
          body,
          event,
          status,
        });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  of(type: string): Delivery[] {
    return this.deliveries.filter((d) => d.event.type === type);
  }
}
