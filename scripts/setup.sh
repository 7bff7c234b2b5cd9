#!/usr/bin/env bash
# Installs what the project needs on a Debian 12 host: host software from Debian's packages,
# then Node.js 24 and the npm dependencies from the npm registry. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(etcd-server etcd-client containerd runc containernetworking-plugins iptables ipvsadm ipset
      conntrack busybox-static iproute2 curl systemd procps kmod)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start services we do not want: the tests start their own copies, by PID.
for svc in etcd containerd; do
  if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done

if [ ! -x node_modules/.bin/node ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

node_modules/.bin/node scripts/warm-compile-cache.ts || echo "setup: could not fill the compile cache (the node agents start cold)"
