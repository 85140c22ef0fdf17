/**
 * The parser's worker thread: parses one command text per message and answers with the
 * commands it runs (or why it could not). The main thread ends this thread when a
 * document's commands take longer than the time budget, so nothing here needs a clock.
 */
import { setFlagsFromString } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { createShellParser } from './shell-parse.ts';

// WebAssembly runs on V8's baseline compiler only. Otherwise the optimising compiler
// takes the grammar's hot functions some seconds after the first parses (longer on a
// busy machine) and the thread stops answering meanwhile: a budget of a few seconds
// would then refuse a plain command. The baseline code is fast enough for commands.
setFlagsFromString('--liftoff-only');

/** Commands of every shape the walk knows, parsed once before the first request so that its time is not a customer's. */
const WARM_UP = [
  "sudo -u root env A=1 nohup timeout 5 sh -c 'cd /tmp && rm -f x*; echo \"$HOME\" > /dev/null' || true",
  'find /var/log -name "*.gz" -mtime +30 -exec rm -f {} \\; ; kill -HUP `cat /var/run/httpd.pid`',
  "f() { (x | y) & }; for i in 1 2; do [ -f /x ] && su -c 'halt'; done; case $x in a) eval $y;; esac",
  'cat <<EOF | sh\nrm -rf /\nEOF\npython3 -c "import os" <<< x; awk \'{print $1}\' f',
];

const port = parentPort;
if (port !== null) {
  const parser = await createShellParser();
  for (let i = 0; i < 20; i++) for (const text of WARM_UP) parser.parse(text);
  port.on('message', (message: { id: number; text: string }) => {
    try {
      port.postMessage({ id: message.id, parsed: parser.parse(message.text) });
    } catch (err) {
      port.postMessage({ id: message.id, failed: err instanceof Error ? err.message : String(err) });
    }
  });
  port.postMessage({ ready: true });
}
