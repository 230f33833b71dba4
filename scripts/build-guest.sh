#!/usr/bin/env bash
# Builds the test guest for the VM end-to-end tests: a Debian kernel (direct kernel boot) and a
# busybox initramfs holding the virtio modules, the node binary with its shared libraries and the
# vmanage-agent bundle. Output is cached in .cache/guest/<key>/ where key hashes every input
# (kernel package version, node binary, agent bundle, this script and scripts/guest/*), and
# .cache/guest/current points at the latest build.
# Prints one JSON line: {"kernel": PATH, "initrd": PATH, "key": KEY, "cached": BOOL}.
# Needs: apt-get (download only, no install), dpkg-deb, busybox-static, cpio, zstd or gzip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=$root/.cache/guest
mkdir -p "$cache"
log() { echo "build-guest: $*" >&2; }

# 1. The agent bundle (esbuild: ~0.2 s), so the key follows the agent's source.
node scripts/bundle.mjs
agent=$root/dist/bundle/vmanage-agent.js
[ -f "$agent" ] || { log "no agent bundle at $agent"; exit 1; }

# 2. The kernel package: the one linux-image-amd64 depends on, unless KERNEL_PKG is given.
kpkg=${KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6/ {print $2; exit}')}
[ -n "$kpkg" ] || { log "cannot resolve the kernel package (apt-cache depends linux-image-amd64)"; exit 1; }
kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/ {print $2}')
node_bin=$(command -v node)
node_libs=$(ldd "$node_bin" | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}')
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console button evdev"

key=$( {
  echo "$kpkg $kver $modules"
  sha256sum "$node_bin" "$agent" scripts/build-guest.sh scripts/guest/* | awk '{print $1}'
  for l in $node_libs; do sha256sum "$l" | awk '{print $1}'; done
} | sha256sum | cut -c1-16)
out=$cache/$key
if [ -f "$out/initrd.img" ] && [ -f "$out/vmlinuz" ]; then
  ln -sfn "$key" "$cache/current"
  echo "{\"kernel\":\"$out/vmlinuz\",\"initrd\":\"$out/initrd.img\",\"key\":\"$key\",\"cached\":true}"
  exit 0
fi

# 3. Kernel: the .deb is downloaded once per package version (no install) and only the kernel
#    image and the modules we need are unpacked from it.
kdir=$cache/kernel/$kpkg-$kver
deb=$(ls "$kdir"/*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  log "downloading $kpkg $kver"
  rm -rf "$kdir"; mkdir -p "$kdir"
  (cd "$kdir" && apt-get download -q "$kpkg=$kver" >&2)
  deb=$(ls "$kdir"/*.deb | head -n1)
fi
tmp=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
kroot=$tmp/kernel
mkdir -p "$kroot"
patterns=('./boot/vmlinuz-*')
for m in $modules; do patterns+=("*/$m.ko" "*/$m.ko.xz" "*/$m.ko.zst"); done
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kroot" --wildcards "${patterns[@]}" 2>/dev/null || true
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n1)
moddir=$kroot/lib/modules

# 4. The initramfs tree.
ir=$tmp/root
mkdir -p "$ir"/{bin,dev,proc,sys,tmp,run,etc/vmanage,lib/modules,usr/bin,usr/lib/vmanage}
cp /bin/busybox "$ir/bin/busybox"
cp scripts/guest/init.sh "$ir/init"; chmod 755 "$ir/init"
: > "$ir/lib/modules/order"
for m in $modules; do
  f=$(find "$moddir" -name "$m.ko*" | head -n1)
  if [ -z "$f" ]; then log "module $m not in $kpkg (built in?)"; continue; fi
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$ir/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$ir/lib/modules/$m.ko" ;;
    *) cp "$f" "$ir/lib/modules/$m.ko" ;;
  esac
  echo "$m" >> "$ir/lib/modules/order"
done
cp "$node_bin" "$ir/usr/bin/node"
for l in $node_libs; do mkdir -p "$ir$(dirname "$l")"; cp -L "$l" "$ir$l"; done
# The loader path node was linked against must exist at the same place.
[ -e "$ir/lib64/ld-linux-x86-64.so.2" ] || { mkdir -p "$ir/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$ir/lib64/"; }
cp "$agent" "$ir/usr/lib/vmanage/vmanage-agent.js"
cp scripts/guest/agent.json "$ir/etc/vmanage/agent.json"

# 5. Pack: newc cpio, zstd (the Debian kernel has CONFIG_RD_ZSTD; fast to unpack under TCG).
mkdir -p "$tmp/out"
(cd "$ir" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | zstd -q -T0 -10 > "$tmp/out/initrd.img"
cp "$vmlinuz" "$tmp/out/vmlinuz"
rm -rf "$out"; mv "$tmp/out" "$out"
ln -sfn "$key" "$cache/current"
# Keep the three newest builds.
ls -dt "$cache"/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f] 2>/dev/null | tail -n +4 | xargs -r rm -rf
log "built $out ($(du -h "$out/initrd.img" | cut -f1) initramfs)"
echo "{\"kernel\":\"$out/vmlinuz\",\"initrd\":\"$out/initrd.img\",\"key\":\"$key\",\"cached\":false}"
