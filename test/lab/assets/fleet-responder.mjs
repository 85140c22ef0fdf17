// The fleet lab's responder (test/lab/fleet.ts): one event-driven process in the fleet namespace
// that answers every address of the fleet's /16 on each protocol's port with that protocol's
// greeting — SSH banner, FTP 220, SMTP 220 (+ EHLO 250), POP3 +OK, IMAP * OK, TELNET option
// negotiation, HTTP HEAD and HTTPS. Plain JavaScript: it starts in ~50 ms with no loader.
//
//   node fleet-responder.mjs DIR [TAG [ADDRESS]]
//
// DIR holds cert.pem/key.pem (HTTPS), faults.json (per address: { slowMs, ports? }) re-read on
// SIGHUP, and ready-<TAG> (written once every port listens). TAG 0 (the default) is the main
// responder on 0.0.0.0; a sample server's own responder gets its index + 1 and binds ADDRESS only.
// Counts connections by port and writes them to counts-<TAG>.json on SIGUSR2.
import { Buffer } from 'node:buffer';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';

const dir = process.argv[2];
const offset = Number(process.argv[3] ?? 0);
const bind = process.argv[4] ?? '0.0.0.0';
if (!dir) {
  console.error('usage: fleet-responder.mjs DIR [TAG [ADDRESS]]');
  process.exit(2);
}

const PORTS = [21, 22, 23, 25, 80, 110, 143, 443];
const IDLE_MS = 10_000;

let faults = {};
function loadFaults() {
  try {
    faults = JSON.parse(readFileSync(join(dir, 'faults.json'), 'utf8'));
  } catch {
    faults = {};
  }
}
loadFaults();
process.on('SIGHUP', loadFaults);

const counts = Object.fromEntries(PORTS.map((p) => [p, 0]));
// Written aside and renamed: the lab waits for the file to exist, and must never read half of it.
process.on('SIGUSR2', () => {
  const file = join(dir, `counts-${offset}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(counts));
  renameSync(`${file}.tmp`, file);
});
process.on('SIGTERM', () => process.exit(0));

/** The fault of the address the client asked for (the socket's local address). */
function delayOf(socket, port) {
  const f = faults[socket.localAddress?.replace(/^::ffff:/, '')];
  if (!f || !f.slowMs) return 0;
  if (Array.isArray(f.ports) && !f.ports.includes(port)) return 0;
  return f.slowMs;
}

function later(socket, ms, fn) {
  if (ms <= 0) return fn();
  const t = setTimeout(fn, ms);
  socket.once('close', () => clearTimeout(t));
}

/** Line protocols: a greeting, then one answer per command line, QUIT/LOGOUT closes. */
function lineProtocol(socket, greeting, answer) {
  socket.setEncoding('latin1');
  let buf = '';
  socket.write(greeting);
  socket.on('data', (d) => {
    buf += d;
    if (buf.length > 4096) return socket.destroy();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      const reply = answer(line);
      if (reply === null) {
        socket.end();
        return;
      }
      socket.write(reply);
    }
  });
}

function http(socket) {
  socket.setEncoding('latin1');
  let buf = '';
  socket.on('data', (d) => {
    buf += d;
    if (buf.length > 8192) return socket.destroy();
    if (!buf.includes('\r\n\r\n') && !buf.includes('\n\n')) return;
    const head = buf.startsWith('HEAD ');
    const body = 'fleet ok\n';
    socket.end(`HTTP/1.1 200 OK\r\nServer: fleet\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${head ? '' : body}`);
  });
}

const SERVE = {
  21: (s) => lineProtocol(s, '220 fleet FTP ready\r\n', (l) => (/^QUIT/i.test(l) ? null : /^NOOP/i.test(l) ? '200 ok\r\n' : '530 Please login\r\n')),
  // The banner, then the connection closed at the client's first bytes (its identification and
  // KEXINIT): no key exchange is spoken here, so a login fails at once ("closed before login", as
  // an sshd that drops the connection) instead of hanging until IDLE_MS — a burst of runbooks
  // against the fleet would otherwise wait 10 s a login under the daemon's 4 runbook permits.
  22: (s) => {
    s.write('SSH-2.0-OpenSSH_4.3\r\n');
    s.once('data', () => s.end());
  },
  23: (s) => {
    // IAC DO TERMINAL-TYPE, IAC WILL ECHO, then a login prompt.
    s.write(Buffer.from([255, 253, 24, 255, 251, 1]));
    s.write('fleet login: ');
    s.on('data', () => undefined);
  },
  25: (s) =>
    lineProtocol(s, '220 fleet ESMTP ready\r\n', (l) =>
      /^QUIT/i.test(l) ? null : /^(EHLO|HELO)/i.test(l) ? '250-fleet\r\n250 8BITMIME\r\n' : '250 ok\r\n',
    ),
  80: http,
  110: (s) => lineProtocol(s, '+OK fleet POP3 ready\r\n', (l) => (/^QUIT/i.test(l) ? null : /^CAPA/i.test(l) ? '+OK\r\nUSER\r\n.\r\n' : '-ERR\r\n')),
  143: (s) =>
    lineProtocol(s, '* OK fleet IMAP4rev1 ready\r\n', (l) => {
      const [tag = '*', cmd = ''] = l.split(' ');
      if (/^LOGOUT$/i.test(cmd)) return null;
      return `${tag} OK ${cmd} done\r\n`;
    }),
  443: http,
};

const tlsOptions = {
  cert: readFileSync(join(dir, 'cert.pem')),
  key: readFileSync(join(dir, 'key.pem')),
};

let listening = 0;
PORTS.forEach((port) => {
  const onSocket = (socket) => {
    counts[port] += 1;
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    later(socket, delayOf(socket, port), () => {
      if (!socket.destroyed) SERVE[port](socket);
    });
  };
  const server = port === 443 ? createTlsServer(tlsOptions, onSocket) : createServer(onSocket);
  server.on('tlsClientError', () => undefined);
  server.maxConnections = 20_000;
  server.listen({ port, host: bind, backlog: 4096 }, () => {
    listening += 1;
    if (listening === PORTS.length) writeFileSync(join(dir, `ready-${offset}`), String(process.pid));
  });
  server.on('error', (err) => {
    console.error(`fleet responder: port ${port}: ${err.message}`);
    process.exit(1);
  });
});
