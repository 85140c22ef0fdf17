#!/bin/bash
# chassis.sh HOSTDIR [MC] get|set ITEM [VALUE]: ipmi_sim's chassis_control hook. It runs
# synchronously inside the BMC, so anything slow or long-lived goes to the background
# with its output redirected (or ipmi_sim would wait on the pipe).
H=$1
shift
while [ $# -gt 0 ] && [ "$1" != get ] && [ "$1" != set ]; do shift; done
DIR=$(dirname "$0")
case "$1 ${2:-}" in
  "get power")
    if [ "$("$DIR/power.sh" "$H" status)" = on ]; then echo "power:1"; else echo "power:0"; fi
    ;;
  "set power")
    if [ "${3:-}" = 1 ]; then
      "$DIR/power.sh" "$H" on </dev/null >>"$H/bmc.log" 2>&1
    else
      "$DIR/power.sh" "$H" off </dev/null >>"$H/bmc.log" 2>&1
    fi
    ;;
  "set reset")
    "$DIR/power.sh" "$H" reset </dev/null >>"$H/bmc.log" 2>&1
    ;;
  "set shutdown")
    setsid "$DIR/power.sh" "$H" soft </dev/null >>"$H/bmc.log" 2>&1 &
    ;;
esac
exit 0
