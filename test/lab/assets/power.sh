#!/bin/bash
# power.sh HOSTDIR on|off|soft|reset|status: the power rail of a lab host. Used by the
# BMC's chassis hook (chassis.sh) and by the lab at start. "off" kills the host's init
# (PID 1 of its PID namespace): every process of the host ends at once, as at a pulled
# plug. "on" boots init again in the same network namespace; files persist.
set -u
H=${1:?usage: power.sh HOSTDIR on|off|soft|reset|status}
ACTION=${2:?usage: power.sh HOSTDIR on|off|soft|reset|status}
# shellcheck source=/dev/null
. "$H/host.env"

alive() {
  local p=$1
  [ -n "$p" ] && [ -r "/proc/$p/status" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && return 1
  # Only our init counts: a recycled pid belongs to someone else.
  { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF "$LAB_DIR/bin/init.sh $H"
}

init_pid() {
  local p
  p=$(cat "$H/init.pid" 2>/dev/null) || return 1
  alive "$p" && echo "$p"
}

power_on() {
  local u i kids
  init_pid >/dev/null && return 0
  # Powered on: the NIC comes back (power_off took it down; a pulled cable stays pulled).
  ip -n "$LAB_NETNS" link set eth0 up
  ip -n "$LAB_NETNS" route replace default via "$LAB_GATEWAY"
  setsid ip netns exec "$LAB_NETNS" unshare --pid --mount --uts --fork --mount-proc \
    "$LAB_DIR/sbin/init" "$LAB_DIR/bin/init.sh" "$H" </dev/null >>"$H/console.log" 2>&1 &
  u=$!
  echo "$u" >"$H/unshare.pid"
  for i in $(seq 100); do
    # unshare's child is the init (without /proc/PID/task/*/children, ask pgrep).
    kids=$(cat "/proc/$u/task/$u/children" 2>/dev/null || pgrep -P "$u")
    if [ -n "$kids" ] && alive "${kids%% *}"; then
      echo "${kids%% *}" >"$H/init.pid"
      return 0
    fi
    sleep 0.05
  done
  echo "power.sh: init of $LAB_HOST did not start" >&2
  return 1
}

power_off() {
  local p i
  p=$(init_pid) || { nic_down; return 0; }
  kill -KILL "$p"
  for i in $(seq 100); do
    alive "$p" || { nic_down; return 0; }
    sleep 0.05
  done
  return 1
}

# A machine without power answers nothing, not even ping: its NIC goes dark.
nic_down() {
  ip -n "$LAB_NETNS" link set eth0 down
}

power_soft() {
  local p i
  p=$(init_pid) || return 0
  kill -TERM "$p"
  for i in $(seq 300); do
    alive "$p" || { nic_down; return 0; }
    sleep 0.1
  done
  power_off
}

echo "$(date +%T.%N | cut -c1-12) power $ACTION" >>"$H/power.log"
case "$ACTION" in
  on) power_on ;;
  off) power_off ;;
  soft) power_soft ;;
  reset) power_off && power_on ;;
  status) if init_pid >/dev/null; then echo on; else echo off; fi ;;
  *) echo "power.sh: unknown action $ACTION" >&2; exit 2 ;;
esac
