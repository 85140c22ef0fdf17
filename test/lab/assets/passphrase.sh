# Sourced by the pass-phrase host's /etc/init.d/httpd: the SSL key is encrypted, and
# httpd starts only once someone types its pass phrase on the terminal, as Apache's
# mod_ssl asks (`SSLPassPhraseDialog builtin`). Input typed before the prompt is
# flushed, as getpass() does: an answer must come after "Enter pass phrase:" appears.
rc_prestart() {
  local answer tty=
  if [ -n "${LAB_BOOT:-}" ] && [ -r /etc/httpd/boot-passphrase ]; then
    answer=$(cat /etc/httpd/boot-passphrase)
  else
    if ! { exec 3<>/dev/tty; } 2>/dev/null; then
      echo "httpd: the SSL key needs a pass phrase and there is no terminal to ask it on" >&2
      return 1
    fi
    tty=1
    printf 'Apache/2.2.3 mod_ssl/2.2.3 (Pass Phrase Dialog)\nSome of your private key files are encrypted for security reasons.\nIn order to read them you have to provide the pass phrases.\n\nServer %s:443 (RSA)\n' "$(hostname)" >&3
    stty -echo <&3 2>/dev/null
    perl -MPOSIX -e 'POSIX::tcflush(0, POSIX::TCIFLUSH())' <&3 2>/dev/null
    printf 'Enter pass phrase:' >&3
    IFS= read -r -t 300 answer <&3
    stty echo <&3 2>/dev/null
    printf '\n' >&3
    answer=${answer%$'\r'}
  fi
  umask 077
  if ! openssl pkey -in /etc/httpd/server.key.enc -passin fd:4 -out /run/httpd/server.key 4<<<"$answer" 2>/dev/null; then
    rm -f /run/httpd/server.key
    if [ -n "$tty" ]; then
      echo "Apache:mod_ssl:Error: Pass phrase incorrect." >&3
      exec 3>&-
    else
      echo "Apache:mod_ssl:Error: Pass phrase incorrect." >&2
    fi
    return 1
  fi
  [ -n "$tty" ] && { printf 'OK: Pass Phrase Dialog successful.\n' >&3; exec 3>&-; }
  return 0
}
