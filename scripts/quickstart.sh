#!/usr/bin/env bash
# The quick start: install what mamori and its lab need (Debian packages, npm packages), start a
# demo fleet of simulated servers in network namespaces (lab 100, 10.231.100.0/24), and run the
# daemon in the foreground watching it. Ctrl-C stops the daemon and removes the lab; installed
# packages stay. Needs root: the lab uses network namespaces, iptables and a simulated BMC.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<'MSG'
mamori quick start: this needs root.
  The demo fleet runs as simulated servers in network namespaces (ip netns, veth, a bridge),
  each with its own firewall (iptables) and a simulated BMC (ipmi_sim), and the first run installs
  Debian packages (apt-get). Run it as root on a Debian 12 machine you can use for this:
    sudo bash scripts/quickstart.sh
MSG
  exit 2
fi

bash scripts/install-deps.sh
# The daemon runs the built code (a second or so; bin/mamori.js would fall back to the sources).
npm run --silent build
# exec: Ctrl-C goes straight to the demo (and, from the terminal, to the daemon it starts).
exec node --import tsx scripts/demo.ts
