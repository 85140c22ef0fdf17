import { afterEach } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';

/**
 * In-process peers for what a real daemon cannot be made to do (garbage, stalls, resets, floods,
 * broken TLS). Every accepted socket is tracked so that a test can prove the probe left none open.
 */
export interface FakePeer {
  address: string;
  port: number;
  /** Sockets the peer accepted that are still open. */
  open(): number;
  /** Resolves when every accepted socket has closed (or rejects after `ms`). */
  drained(ms?: number): Promise<void>;
  close(): Promise<void>;
}

function track(server: Server, address: string): Promise<FakePeer> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('no port');
      resolve({
        address,
        port: addr.port,
        open: () => sockets.size,
        drained: async (ms = 3000) => {
          const until = Date.now() + ms;
          while (sockets.size > 0) {
            if (Date.now() > until) throw new Error(`${sockets.size} peer socket(s) still open`);
            await new Promise((r) => setTimeout(r, 10));
          }
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

export function fakePeer(onSocket: (socket: Socket) => void, address = '127.0.0.1'): Promise<FakePeer> {
  return track(
    createServer((s) => {
      onSocket(s);
      // A peer that ignores what it is sent still has to notice the probe's FIN.
      if (s.listenerCount('data') === 0) s.resume();
    }),
    address,
  );
}

export function fakeTlsPeer(options: TlsOptions, onSocket: (socket: Socket) => void, address = '127.0.0.1'): Promise<FakePeer> {
  const server = createTlsServer(options, onSocket);
  server.on('tlsClientError', () => undefined);
  return track(server, address);
}

/** A well-behaved line peer: greets, answers each line from a table, closes after a quit line. */
export function scriptedPeer(greeting: string, answers: Record<string, string>, quit: RegExp, address = '127.0.0.1'): Promise<FakePeer> {
  return fakePeer((s) => {
    s.setEncoding('latin1');
    if (greeting !== '') s.write(greeting);
    let buffer = '';
    s.on('data', (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (quit.test(line)) {
          s.end(answers[line.split(' ')[0] ?? ''] ?? '');
          return;
        }
        const verb = line.split(' ')[0] ?? '';
        s.write(answers[verb] ?? '500 what?\r\n');
        nl = buffer.indexOf('\n');
      }
    });
  }, address);
}

/**
 * `keep(peer)` for a test file: every peer kept is closed after each test. Call once, at the top
 * level of the file (it registers the afterEach).
 */
export function keepPeersPerTest(): (peer: Promise<FakePeer>) => Promise<FakePeer> {
  let peers: FakePeer[] = [];
  afterEach(async () => {
    await Promise.all(peers.map((p) => p.close()));
    peers = [];
  });
  return async (peer) => {
    const p = await peer;
    peers.push(p);
    return p;
  };
}
