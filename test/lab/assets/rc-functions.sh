# SysV-style service functions shared by a lab host's /etc/init.d scripts (bash).
# The caller sets NAME, PIDFILE, PORTS and the CMD array, then calls rc_main "$@".
# Daemons run in the foreground under `setsid env -i` with their output in /var/log,
# so a restart run over SSH never hangs on an inherited pipe; the pid file holds the
# daemon's own pid ($! is the daemon: setsid and env exec).

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

rc_pid() {
  local p
  [ -s "$PIDFILE" ] || return 1
  read -r p <"$PIDFILE" || return 1
  case "$p" in '' | *[!0-9]*) return 1 ;; esac
  # A zombie is not running: it waits for init to reap it.
  [ -r "/proc/$p/status" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && return 1
  echo "$p"
}

# A TCP port is open when a socket in LISTEN (0A) has it as its local port: read from
# /proc/net (this host's network namespace), which needs no netlink and no connection.
rc_port_open() {
  local hex files=/proc/net/tcp
  hex=$(printf '%04X' "$1")
  [ -r /proc/net/tcp6 ] && files="$files /proc/net/tcp6"
  # shellcheck disable=SC2086
  awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' $files
}

# Waits up to $2 tenths of a second for every port in $1 to be open (want=open) or closed.
rc_wait_ports() {
  local want=$1 tenths=$2 p ok
  while [ "$tenths" -gt 0 ]; do
    ok=1
    for p in $PORTS; do
      if rc_port_open "$p"; then [ "$want" = open ] || ok=0; else [ "$want" = closed ] || ok=0; fi
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
    tenths=$((tenths - 1))
  done
  return 1
}

# What init did, as EL's initlog leaves it in /var/log/messages (the host's own log).
rc_log() {
  echo "$(date '+%b %e %T') $(hostname) init: $NAME $1" >>/var/log/messages 2>/dev/null
}

rc_start() {
  local pid
  rc_log start
  if pid=$(rc_pid); then
    echo "$NAME (pid $pid) is already running."
    return 0
  fi
  if declare -F rc_prestart >/dev/null; then
    rc_prestart || { echo "Starting $NAME: [FAILED]"; return 1; }
  fi
  setsid env -i PATH="$PATH" LANG=C "${CMD[@]}" </dev/null >>"/var/log/$NAME.out" 2>&1 &
  echo $! >"$PIDFILE"
  if rc_wait_ports open 100 && rc_pid >/dev/null; then
    echo "Starting $NAME: [  OK  ]"
    return 0
  fi
  echo "Starting $NAME: [FAILED]"
  tail -n 5 "/var/log/$NAME.out" 2>/dev/null
  return 1
}

rc_stop() {
  local pid i
  rc_log stop
  if ! pid=$(rc_pid); then
    echo "Stopping $NAME: not running."
    rm -f "$PIDFILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 50); do
    rc_pid >/dev/null || break
    sleep 0.1
  done
  if rc_pid >/dev/null; then
    # It would not stop: end the daemon and the helpers in its process group.
    kill -KILL -- "-$pid" "$pid" 2>/dev/null
  fi
  rc_wait_ports closed 50
  rm -f "$PIDFILE"
  echo "Stopping $NAME: [  OK  ]"
}

rc_status() {
  local pid
  if pid=$(rc_pid); then
    echo "$NAME (pid $pid) is running..."
    return 0
  fi
  if [ -e "$PIDFILE" ]; then
    echo "$NAME dead but pid file exists"
    return 1
  fi
  echo "$NAME is stopped"
  return 3
}

rc_main() {
  case "$1" in
    start) rc_start ;;
    stop) rc_stop ;;
    restart) rc_stop; rc_start ;;
    status) rc_status ;;
    *) echo "Usage: $0 {start|stop|restart|status}" >&2; return 2 ;;
  esac
}
