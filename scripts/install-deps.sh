#!/usr/bin/env bash
# Installs what mamori's lab, tests and quick start need on a Debian machine, once.
# Idempotent: packages already present are not fetched again; npm packages come from
# the lock file. Run as root (the lab needs network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # the daemons a lab host runs, and their clients
  openssh-server openssh-client nginx vsftpd dovecot-pop3d dovecot-imapd exim4-daemon-light
  inetutils-telnetd inetutils-inetd telnet ftp sudo
  # FreeBSD-like lab hosts: their syslogd, and POP3/IMAP that run from inetd (GNU mailutils)
  inetutils-syslogd mailutils-pop3d mailutils-imap4d
  # probes and the peers the benchmarks compare against
  fping iputils-ping monitoring-plugins liburiparser1 prometheus-blackbox-exporter wrk monit
  # the Alertmanager that alert tests post to; promtool (in prometheus) checks /metrics
  prometheus-alertmanager prometheus
  # systemd lab hosts (a real systemd as PID 1 under systemd-nspawn) and their real Apache
  systemd-container apache2
  # namespaces, firewalls, the simulated BMC
  iproute2 iptables socat netcat-openbsd openipmi ipmitool procps psmisc util-linux openssl git
  # the real sendmail of EL 5 lab hosts (unpacked below): m4 builds its sendmail.cf, and the one
  # library it needs that the machine lacks
  m4 liblockfile1
  # signed changes: OpenPGP signatures are verified (and, in the tests, made) with Debian's gpg
  gpg gpg-agent gpgconf
  # replicas coordinate through a real three-member etcd in the tests
  etcd-server etcd-client
  # the status page test, and a Japanese font so its Japanese screenshots show words, not boxes
  chromium fonts-ipafont-gothic
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "mamori: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  echo "mamori: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Real MTAs for the lab hosts that run them (sendmail on EL 5, postfix on EL 6 and later).
# Debian's MTA packages conflict with each other (Conflicts: mail-transport-agent) and exim4
# stays installed, so each is fetched with apt-get download and unpacked with dpkg-deb -x into a
# tree of its own, which only the lab hosts lay over their folders (test/lab/mta.ts). Their
# libraries are installed above. sendmail comes in three packages (the daemon, its base files,
# the m4 macros its sendmail.cf is built from); its maintainer scripts would make the
# /usr/sbin/sendmail link, so it is made here.
MTA_ROOT=${MAMORI_LAB_MTA_ROOT:-/var/lib/mamori-lab/mta}
declare -A MTA_PACKAGES=([postfix]="postfix" [sendmail]="sendmail-bin sendmail-base sendmail-cf")
declare -A MTA_DONE=([postfix]=usr/sbin/postfix [sendmail]=usr/sbin/sendmail)
for mta in postfix sendmail; do
  [ -x "$MTA_ROOT/$mta/${MTA_DONE[$mta]}" ] && continue
  if [ "$(id -u)" -ne 0 ]; then
    echo "mamori: unpacking Debian's $mta into $MTA_ROOT needs root" >&2
    exit 1
  fi
  echo "mamori: fetching Debian's $mta into $MTA_ROOT/$mta (not installed: it conflicts with exim4)" >&2
  work=$(mktemp -d)
  chmod 755 "$work"
  # shellcheck disable=SC2086
  (cd "$work" && apt-get download -qq ${MTA_PACKAGES[$mta]} 2>/dev/null) || { apt-get update -qq && (cd "$work" && apt-get download -qq ${MTA_PACKAGES[$mta]}); }
  mkdir -p "$MTA_ROOT"
  rm -rf "$MTA_ROOT/$mta.new"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$MTA_ROOT/$mta.new"; done
  if [ "$mta" = sendmail ]; then
    ln -s ../libexec/sendmail/sendmail "$MTA_ROOT/$mta.new/usr/sbin/sendmail"
  fi
  rm -rf "$MTA_ROOT/$mta" "$work"
  mv "$MTA_ROOT/$mta.new" "$MTA_ROOT/$mta"
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
