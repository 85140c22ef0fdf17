/**
 * The command lines mamori sends over SSH. Every rendered command is passed whole, quoted,
 * to `/bin/sh -c` (whatever the login shell is), through sudo when it runs as root. The
 * wrapper first prints the login shell's PID (`MAMORI_PID=<pid>`), then execs: so the
 * executor knows the root of the command's process tree on the server and can kill the
 * whole tree at a deadline — OpenSSH does not honour signal requests for every session.
 */

/** How root commands run: `sudo -n` (NOPASSWD), or `sudo -S` answered with the password on stdin after this prompt. */
export type SudoMode = 'none' | 'nopasswd' | 'password';

/** sudo's prompt when a password is needed: distinctive, so only sudo's own question is answered. */
export const SUDO_PROMPT = '[mamori] sudo asks:';

/** Single-quotes a string for any POSIX shell (a ' becomes '\''). */
export function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function asRoot(command: string, sudo: SudoMode): string {
  if (sudo === 'none') return `/bin/sh -c ${quote(command)}`;
  if (sudo === 'nopasswd') return `sudo -n /bin/sh -c ${quote(command)}`;
  return `sudo -S -p ${quote(SUDO_PROMPT)} /bin/sh -c ${quote(command)}`;
}

/** The line sent to the server for one step. */
export function wrapCommand(command: string, sudo: SudoMode): string {
  return `echo "MAMORI_PID=$$"; exec ${asRoot(command, sudo)}`;
}

/** The line that runs a command without the PID marker (a kill, a look that needs no stop). */
export function plainCommand(command: string, sudo: SudoMode): string {
  return `exec ${asRoot(command, sudo)}`;
}

/**
 * Kills the process tree rooted at `pid`: TERM, a second's grace, then KILL. Daemons that
 * detached (setsid + reparented to init, as a restarted service does) are not in the tree
 * and stay up. Bounded: at most 32 generations are followed.
 */
export function killTreeScript(pid: number): string {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`not a process id to kill: ${pid}`);
  return [
    `all=${pid}`,
    'i=0',
    'while [ $i -lt 32 ]; do',
    '  i=$((i+1))',
    `  new=$(ps -A -o pid= -o ppid= | awk -v all=" $all " '{ if (index(all, " " $2 " ") && !index(all, " " $1 " ")) printf "%s ", $1 }')`,
    '  [ -z "$new" ] && break',
    '  all="$all $new"',
    'done',
    'kill -TERM $all 2>/dev/null',
    'n=0',
    'while [ $n -lt 10 ]; do',
    '  alive=""',
    '  for p in $all; do kill -0 $p 2>/dev/null && alive="$alive $p"; done',
    '  [ -z "$alive" ] && break',
    '  sleep 0.2 2>/dev/null || sleep 1',
    '  n=$((n+1))',
    'done',
    'kill -KILL $all 2>/dev/null',
    'echo "killed:$all"',
  ].join('\n');
}

/** Lists the pids of processes named `name` (ps's comm); exits 1 when there is none. */
export function processLookScript(name: string, pidFile?: string): string {
  const n = quote(name);
  if (pidFile) {
    return [
      `pid=$(cat ${quote(pidFile)} 2>/dev/null | head -n 1 | tr -dc 0-9)`,
      `[ -n "$pid" ] || { echo "no pid in ${pidFile.replace(/[^A-Za-z0-9._/-]/g, '')}"; exit 1; }`,
      `c=$(ps -p "$pid" -o comm= 2>/dev/null | sed 's/^ *//')`,
      `if [ "$c" = ${n} ]; then echo "pids: $pid"; exit 0; fi`,
      'echo "pid $pid is ${c:-not running}"',
      'exit 1',
    ].join('\n');
  }
  return [
    `pids=$(ps -A -o pid= -o comm= | awk -v n=${n} '$2 == n { printf "%s ", $1 }')`,
    'if [ -n "$pids" ]; then echo "pids: $pids"; exit 0; fi',
    `echo "no process named ${name.replace(/[^A-Za-z0-9._-]/g, '')}"`,
    'exit 1',
  ].join('\n');
}

/**
 * Connects to 127.0.0.1:port from the server itself and prints the greeting, if any
 * (a banner protocol's first line, waited for up to a second).
 * bash's /dev/tcp where there is bash (CentOS/RHEL), else nc (FreeBSD base has it).
 */
export function localConnectScript(port: number, readGreeting = true): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a port: ${port}`);
  // HTTP says nothing until asked: waiting for its greeting would only cost time.
  const greeting = readGreeting ? `IFS= read -r -t 1 line <&3 && printf 'greeting: %s\\n' "$line"; ` : '';
  const viaBash = `exec 3<>/dev/tcp/127.0.0.1/${port} || exit 1; echo connected; ${greeting}exit 0`;
  return [
    'if command -v bash >/dev/null 2>&1; then',
    `  bash -c ${quote(viaBash)}`,
    'else',
    `  nc -z -w 3 127.0.0.1 ${port} && echo connected`,
    'fi',
  ].join('\n');
}

/** Prints what the OS-check parses: `uname -s`, the release files, the FreeBSD version. */
export const OS_LOOK_SCRIPT = [
  'echo "uname-s: $(uname -s)"',
  'echo "uname-r: $(uname -r)"',
  '[ -r /etc/redhat-release ] && echo "redhat-release: $(head -n 1 /etc/redhat-release)"',
  'command -v freebsd-version >/dev/null 2>&1 && echo "freebsd-version: $(freebsd-version)"',
  'exit 0',
].join('\n');
