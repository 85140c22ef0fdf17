#!/bin/bash
# lab-console.sh HOSTDIR COMMAND: the lab host's "local console" for the command driver:
# runs COMMAND as root inside the host's namespaces (works with its sshd dead or its link
# down). A powered-off host (no init) has no console: exit 3.
set -u
H=${1:?usage: lab-console.sh HOSTDIR COMMAND}
CMD=${2:?usage: lab-console.sh HOSTDIR COMMAND}
pid=$(cat "$H/init.pid" 2>/dev/null) || { echo "console: no init (powered off)" >&2; exit 3; }
if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "init.sh $H"; then
  echo "console: no init (powered off)" >&2
  exit 3
fi
grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && { echo "console: no init (powered off)" >&2; exit 3; }
exec nsenter -t "$pid" -a --wd=/ -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C TERM=dumb USER=root /bin/bash -c "$CMD" </dev/null
