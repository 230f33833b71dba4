#!/usr/bin/env bash
# Installs everything the tests, benchmarks and the demo need on a Debian machine (run as root):
# the real peers from Debian, the npm tree, and the build. Idempotent and quick when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  dbus libvirt-dbus libvirt-daemon-system libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils busybox-static cpio zstd socat iproute2 util-linux
  openipmi ipmitool freeipmi-tools libopenipmi-dev gcc make
  etcd-server sqlite3 chromium dpkg-dev xenstore-utils openssl
  lintian debootstrap systemd-container
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm tree: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.vmanage-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi

npm run --silent build
