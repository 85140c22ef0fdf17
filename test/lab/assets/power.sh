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
  local p=$1 pp
  [ -n "$p" ] && [ -r "/proc/$p/status" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && return 1
  # Only our init counts: a recycled pid belongs to someone else. A systemd host's init is
  # PID 1 of the container whose parent is this host's systemd-nspawn.
  if [ "${LAB_INIT:-sysv}" = systemd ]; then
    pp=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    [ -n "$pp" ] && { tr '\0' ' ' <"/proc/$pp/cmdline"; } 2>/dev/null | grep -q "^systemd-nspawn .*-D $H/root "
    return
  fi
  { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF "$LAB_DIR/bin/init.sh $H"
}

init_pid() {
  local p
  p=$(cat "$H/init.pid" 2>/dev/null) || return 1
  alive "$p" && echo "$p"
}

# A systemd host boots systemd-nspawn (its argv written at lab start) in the host's network
# namespace; its init is the container's PID 1, a child of nspawn.
power_on_systemd() {
  local n i k argv
  mapfile -d '' -t argv <"$H/nspawn.argv"
  setsid "${argv[@]}" </dev/null >>"$H/console.log" 2>&1 &
  n=$!
  echo "$n" >"$H/nspawn.pid"
  for i in $(seq 200); do
    for k in $(cat "/proc/$n/task/$n/children" 2>/dev/null); do
      if grep -q '^NSpid:.*[[:space:]]1$' "/proc/$k/status" 2>/dev/null && alive "$k"; then
        echo "$k" >"$H/init.pid"
        return 0
      fi
    done
    sleep 0.05
  done
  echo "power.sh: the container of $LAB_HOST did not start" >&2
  return 1
}

# After a systemd host's PID 1 is gone, nspawn exits too: wait for it (it tidies its mounts).
wait_nspawn() {
  local n i
  n=$(cat "$H/nspawn.pid" 2>/dev/null) || return 0
  for i in $(seq 100); do
    [ -r "/proc/$n/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$n/status" || return 0
    sleep 0.05
  done
}

power_on() {
  local u i kids
  init_pid >/dev/null && return 0
  # Powered on: the NIC comes back (power_off took it down; a pulled cable stays pulled).
  ip -n "$LAB_NETNS" link set eth0 up
  ip -n "$LAB_NETNS" route replace default via "$LAB_GATEWAY"
  second_nic up
  if [ "${LAB_INIT:-sysv}" = systemd ]; then
    power_on_systemd
    return
  fi
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
    alive "$p" || { nic_down; wait_nspawn; return 0; }
    sleep 0.05
  done
  return 1
}

# A machine without power answers nothing, not even ping: its NIC goes dark (both, on a lab
# with the second management network).
nic_down() {
  ip -n "$LAB_NETNS" link set eth0 down
  second_nic down
}

# The host's NIC on the second management network, when the lab has one.
second_nic() {
  if ip -n "$LAB_NETNS" link show eth1 >/dev/null 2>&1; then
    ip -n "$LAB_NETNS" link set eth1 "$1"
  fi
}

power_soft() {
  local p i
  p=$(init_pid) || return 0
  # systemd powers off on SIGRTMIN+4 (TERM would only re-execute it).
  if [ "${LAB_INIT:-sysv}" = systemd ]; then kill -RTMIN+4 "$p"; else kill -TERM "$p"; fi
  for i in $(seq 300); do
    alive "$p" || { nic_down; wait_nspawn; return 0; }
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
