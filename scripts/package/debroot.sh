#!/usr/bin/env bash
# Prints the path of a cached, clean Debian trixie root tarball (debootstrap --variant=minbase),
# building it on the first call. Cache: .cache/debroot/trixie-minbase.tar.gz (delete it to rebuild).
# The mirror comes from /etc/apt/sources.list.d/debian.sources (first URIs line), or $DEB_MIRROR.
set -euo pipefail
root_dir="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${VMANAGE_DEBROOT_CACHE:-$root_dir/.cache/debroot}"
suite="${DEB_SUITE:-trixie}"
tarball="$cache/$suite-minbase.tar.gz"
if [[ -s "$tarball" ]]; then echo "$tarball"; exit 0; fi

mirror="${DEB_MIRROR:-}"
if [[ -z "$mirror" && -r /etc/apt/sources.list.d/debian.sources ]]; then
  mirror="$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
echo "deb $mirror $suite main" >"$work/root/etc/apt/sources.list"
rm -f "$work/root/var/cache/apt/archives/"*.deb
tar -C "$work/root" --numeric-owner -czf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "$tarball"
