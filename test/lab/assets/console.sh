#!/bin/bash
# console.sh HOSTDIR COMMAND: a lab host's local console for programs that want a command
# (mamori's command console driver): runs COMMAND with bash as root inside the host's
# namespaces, with its sshd dead or its link pulled. Powered off (no init): exit 3.
set -u
H=${1:?usage: console.sh HOSTDIR COMMAND}
CMD=${2?usage: console.sh HOSTDIR COMMAND}
# shellcheck source=/dev/null
. "$H/host.env"
pid=$(cat "$H/init.pid" 2>/dev/null)
if [ "${LAB_INIT:-sysv}" = systemd ]; then
  # The container's PID 1, child of this host's systemd-nspawn.
  pp=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
  ours() { [ -n "$pp" ] && { tr "\0" " " <"/proc/$pp/cmdline"; } 2>/dev/null | grep -q "^systemd-nspawn .*-D $H/root "; }
else
  ours() { { tr "\0" " " <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$LAB_DIR/bin/init.sh $H"; }
fi
if [ -z "$pid" ] || ! ours || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
  echo "console: $LAB_HOST is powered off" >&2
  exit 3
fi
exec nsenter -t "$pid" -a --wd=/ -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C \
  TERM=dumb USER=root /bin/bash --norc --noprofile -c "$CMD"
