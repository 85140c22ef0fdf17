#!/bin/bash
# PID 1 of a lab host: `init.sh HOSTDIR`, started by power.sh inside the host's network
# namespace under `unshare --pid --mount --uts --fork --mount-proc`. It gives the host
# its own /etc (an overlay: the host's files over the machine's), /run, /var/log, /home,
# spools and pseudo-terminals, boots the SysV services, then reaps orphans until TERM
# (a soft power-off: stop the services) or KILL (a hard one: every process ends).
set -u
H=${1:?usage: init.sh HOSTDIR}
# shellcheck source=/dev/null
. "$H/host.env"
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# The host's /etc: its own files over the machine's. An overlay keeps the host's writes in
# its folder; where overlayfs cannot stack (a container whose root is itself an overlay),
# a copy in memory made at each boot serves instead (the host's writes to /etc then last
# until power-off).
if [ "${LAB_ETC:-overlay}" != copy ] &&
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$H/etc,workdir=$H/etc-work" /etc 2>/dev/null; then
  echo "lab init: /etc is an overlay"
else
  mkdir -p "$H/etc-copy"
  mount -t tmpfs -o mode=0755 tmpfs "$H/etc-copy" || exit 1
  cp -a /etc/. "$H/etc-copy/" && cp -a "$H/etc/." "$H/etc-copy/" || exit 1
  mount --bind "$H/etc-copy" /etc || exit 1
  echo "lab init: /etc is a copy in memory"
fi
# Trees laid over the machine's folders, read-only, in this host only (an MTA Debian cannot
# install beside exim: test/lab/mta.ts): LAB_LAYERS="TARGET=SOURCE ...".
for l in ${LAB_LAYERS:-}; do
  mount -t overlay overlay -o "lowerdir=${l#*=}:${l%%=*}" "${l%%=*}" || {
    echo "lab init: cannot lay ${l#*=} over ${l%%=*} (overlayfs)"
    exit 1
  }
done
# /run is emptied at boot, as on a real server.
find "$H/run" -mindepth 1 -delete
mount --bind "$H/run" /run
mount --bind "$H/log" /var/log
mount --bind "$H/home" /home
mount --bind "$H/usr-local-etc" /usr/local/etc
mount --bind "$H/var-lib-exim4" /var/lib/exim4
mount --bind "$H/var-lib-dovecot" /var/lib/dovecot
mount --bind "$H/spool" /var/spool
# A FreeBSD-like host has a /dev of its own (the machine's device nodes it needs, bound in), so
# that its syslogd's /dev/log is the host's and the machine has none to lose.
if [ "${LAB_INIT:-sysv}" = rc ]; then
  mkdir -p "$H/dev"
  mount -t tmpfs -o mode=0755,size=1m tmpfs "$H/dev" || exit 1
  for n in null zero full random urandom tty; do
    touch "$H/dev/$n" && mount --bind "/dev/$n" "$H/dev/$n" || exit 1
  done
  ln -s /proc/self/fd "$H/dev/fd"
  ln -s /proc/self/fd/0 "$H/dev/stdin"
  ln -s /proc/self/fd/1 "$H/dev/stdout"
  ln -s /proc/self/fd/2 "$H/dev/stderr"
  mkdir "$H/dev/pts" "$H/dev/shm"
  touch "$H/dev/ptmx"
  mount -t tmpfs -o mode=1777,size=4m tmpfs "$H/dev/shm"
  mount --move "$H/dev" /dev || exit 1
fi
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount --bind /dev/pts/ptmx /dev/ptmx
hostname "$LAB_HOST"
mkdir -p /run/sshd /run/httpd /run/dovecot /var/log/httpd /var/log/exim4
chmod 755 /run/sshd
chown Debian-exim:adm /var/log/exim4

# A FreeBSD-like host (freebsd-host.ts): its tools laid over /usr/sbin and /usr/bin (and so
# /bin), its ports' daemons in /usr/local/sbin, none of Debian's release files; FreeBSD's
# /etc/rc boots it and /etc/rc.shutdown stops it.
if [ "${LAB_INIT:-sysv}" = rc ]; then
  for d in sbin bin; do
    mount -t overlay overlay -o "lowerdir=$H/usr-$d:/usr/$d" "/usr/$d" || {
      echo "lab init: cannot lay the FreeBSD tools over /usr/$d (overlayfs)"
      exit 1
    }
  done
  mount --bind "$H/usr-local-sbin" /usr/local/sbin
  rm -f /etc/debian_version /etc/lsb-release
  [ "$LAB_VARIANT" = freebsd13 ] || rm -f /etc/os-release
  trap '/bin/sh /etc/rc.shutdown; exit 0' TERM INT
  echo "lab init: $LAB_HOST booting (FreeBSD rc)"
  /bin/sh /etc/rc
  echo "lab init: $LAB_HOST up"
  while :; do
    sleep 5 &
    wait $!
  done
fi

# The host's services, in boot order (host.env; the seed's CentOS 5 set by default).
SERVICES=${LAB_SERVICES:-"sshd httpd vsftpd dovecot sendmail xinetd inetd"}
stop_all() {
  local s order=
  for s in $SERVICES; do order="$s $order"; done
  for s in $order; do /etc/init.d/$s stop; done
  exit 0
}
trap stop_all TERM INT

echo "lab init: $LAB_HOST booting"
for s in $SERVICES; do
  LAB_BOOT=1 /etc/init.d/$s start &
done
wait
# The pass phrase given at installation is used at the first boot only: after a power
# cycle httpd waits for someone to type it, as a real one does.
rm -f /etc/httpd/boot-passphrase
[ "$(findmnt -n -o FSTYPE /etc)" = overlay ] || rm -f "$H/etc/httpd/boot-passphrase"
echo "lab init: $LAB_HOST up"

while :; do
  sleep 5 &
  wait $!
done
