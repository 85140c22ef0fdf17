/**
 * A light banner responder for soak tests and the bench: an FTP-shaped greeting on many loopback
 * addresses (one address:port pair runs out of ephemeral ports in TIME_WAIT at these rates).
 * Run as its own process: `node --import tsx test/probe/light-responder.ts FIRST_OCTET3 COUNT PORT [HTTP_PORT]`;
 * prints `ready` when every address listens, stops on SIGTERM or when stdin closes. With HTTP_PORT,
 * the same addresses also answer HTTP HEAD there (`200`, then the server closes, as nginx does with
 * `Connection: close`).
 */
import { createServer, type Server } from 'node:net';

const GREETING = Buffer.from('220 light responder ready\r\n');
const BYE = Buffer.from('221 bye\r\n');
const HTTP_OK = Buffer.from('HTTP/1.1 200 OK\r\nServer: light\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');

/** 127.0.N.1 … 127.0.N.count (N = third octet), wrapping into N+1, N+2 … past 250 hosts. */
export function responderAddresses(thirdOctet: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.${thirdOctet + Math.floor(i / 250)}.${(i % 250) + 1}`);
}

export async function startResponder(addresses: string[], port: number, protocol: 'ftp' | 'http' = 'ftp'): Promise<Server[]> {
  const servers: Server[] = [];
  for (const address of addresses) {
    const server = createServer((s) => {
      s.on('error', () => undefined);
      if (protocol === 'http') {
        let head = '';
        s.on('data', (d: Buffer) => {
          head += d.toString('latin1');
          // The request's blank line: answer and close.
          if (head.includes('\r\n\r\n')) s.end(HTTP_OK);
        });
      } else {
        s.write(GREETING);
        s.on('data', (d: Buffer) => {
          // Any line (QUIT) ends the session from our side: the probe's clean close path.
          if (d.includes(10)) s.end(BYE);
        });
      }
      s.on('end', () => s.end());
    });
    server.maxConnections = 20_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port, backlog: 4096 }, () => resolve());
    });
    servers.push(server);
  }
  return servers;
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '');
if (isMain) {
  const [octet, count, port, httpPort] = process.argv.slice(2).map(Number);
  const addresses = responderAddresses(octet ?? 200, count ?? 64);
  const servers = await startResponder(addresses, port ?? 2121);
  if (httpPort !== undefined && httpPort > 0) servers.push(...(await startResponder(addresses, httpPort, 'http')));
  const stop = (): void => {
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write('ready\n');
}
