# Sourced by the pass-phrase host's /etc/init.d/httpd: a real Apache (Debian's 2.4 with
# mod_ssl, under the name httpd) whose SSL key is encrypted. Apache asks the pass phrase itself,
# with mod_ssl's built-in dialog (`SSLPassPhraseDialog builtin`) on the terminal it was started
# from, then detaches: so, as EL 5's `daemon httpd`, it is started in the foreground of this
# script, not under setsid. A wrong phrase is asked again (mod_ssl allows five more tries);
# without a terminal the start fails at once. At the first boot only (init, no terminal) the
# phrase given at installation answers through an exec: dialog (`-D LAB_BOOT`).
HTTPD_CONF=/etc/httpd/conf/httpd.conf

# The ports open and the pid file naming a live httpd, within $1 tenths of a second.
httpd_wait_started() {
  local tenths=$1
  while [ "$tenths" -gt 0 ]; do
    if rc_wait_ports open 1; then
      rc_pid >/dev/null && return 0
      sleep 0.1
    fi
    tenths=$((tenths - 1))
  done
  return 1
}

rc_start() {
  local pid boot=() rc
  rc_log start
  if pid=$(rc_pid); then
    echo "$NAME (pid $pid) is already running."
    return 0
  fi
  if [ -n "${LAB_BOOT:-}" ] && [ -r /etc/httpd/boot-passphrase ]; then boot=(-D LAB_BOOT); fi
  echo -n "Starting $NAME: "
  env -i PATH="$PATH" LANG=C "${CMD[@]}" -f "$HTTPD_CONF" "${boot[@]}" -k start
  rc=$?
  # Apache listens before it detaches, and its detached process writes the pid file: the ports
  # are open at once, the pid file a moment later (under load, after one look). Both are waited
  # for (at most 10 s); one look at the pid file failed a good start twice in CI.
  if [ "$rc" = 0 ] && httpd_wait_started 100; then
    echo "[  OK  ]"
    return 0
  fi
  echo "[FAILED]"
  tail -n 3 /var/log/httpd/error_log 2>/dev/null
  return 1
}
