/**
 * A light banner responder for soak tests and the bench: an FTP-shaped greeting on many loopback
 * addresses (one address:port pair runs out of ephemeral ports in TIME_WAIT at these rates).
 * Run as its own process: `node --import tsx test/probe/light-responder.ts FIRST_OCTET3 COUNT PORT`;
 * prints `ready` when every address listens, stops on SIGTERM or when stdin closes.
 */
import { createServer, type Server } from 'node:net';

const GREETING = Buffer.from('220 light responder ready\r\n');
const BYE = Buffer.from('221 bye\r\n');

/** 127.0.N.1 … 127.0.N.count (N = third octet), wrapping into N+1, N+2 … past 250 hosts. */
export function responderAddresses(thirdOctet: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.${thirdOctet + Math.floor(i / 250)}.${(i % 250) + 1}`);
}

export async function startResponder(addresses: string[], port: number): Promise<Server[]> {
  const servers: Server[] = [];
  for (const address of addresses) {
    const server = createServer((s) => {
      s.on('error', () => undefined);
      s.write(GREETING);
      s.on('data', (d: Buffer) => {
        // Any line (QUIT) ends the session from our side: the probe's clean close path.
        if (d.includes(10)) s.end(BYE);
      });
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
  const [octet, count, port] = process.argv.slice(2).map(Number);
  const servers = await startResponder(responderAddresses(octet ?? 200, count ?? 64), port ?? 2121);
  const stop = (): void => {
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write('ready\n');
}
